// Where one ImportProjects call keeps its records while they stream in: a
// private scratch SQLite database in a temporary file (deleted by SQLite as
// soon as it is opened, so it vanishes with the process even after a
// SIGKILL), not the server's memory. It also answers the questions asked of
// every arriving record (is its key or a report's request_id already in
// this import? is its village already checked?) from indexes on disk, and
// keeps the import's plan (what the store must write) between planning and
// writing, so an import of any size needs a bounded amount of memory; the
// disk it uses is about twice the size of the records as protobuf plus
// their keys.
//
// The stage is scratch space, not storage: it knows nothing of the projects
// database, and it is the same whatever backend the ProjectsStore has.
#ifndef FIVESTAR_SERVICES_PROJECTS_IMPORT_STAGE_H_
#define FIVESTAR_SERVICES_PROJECTS_IMPORT_STAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sqlite.h"
#include "fivestar/projects/v1/projects.pb.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

class ImportStage {
 public:
  // A record as staged, with the lineage path of its village.
  struct StagedRecord {
    int64_t index = 0;
    v1::ProjectRecord record;
    std::string village_path;
  };

  // Opens a fresh, empty stage in SQLite's temporary directory (SQLITE_TMPDIR
  // or TMPDIR, else /var/tmp or /tmp).
  static absl::StatusOr<std::unique_ptr<ImportStage>> Open();

  // Brackets the staging of one chunk in a transaction of the scratch
  // database (one sync-free write per chunk instead of one per record).
  absl::Status BeginChunk();
  absl::Status EndChunk();

  // Stages `record` as records[`index`] (indexes increase). Returns the index
  // of an earlier record with the same key instead, staging nothing, when
  // there is one.
  absl::StatusOr<std::optional<int64_t>> AddRecord(
      int64_t index, const v1::ProjectRecord& record);
  // Notes report request id `request_id` as records[record].reports[report].
  // Returns where it appeared before instead, when it did.
  absl::StatusOr<std::optional<std::pair<int64_t, int>>> AddReportKey(
      const std::string& request_id, int64_t record, int report);

  // The lineage path stored for a village by AddVillage, if any.
  absl::StatusOr<std::optional<std::string>> VillagePath(
      const std::string& village_id);
  absl::Status AddVillage(const std::string& village_id,
                          const std::string& path);

  // The staged records after records[`after_index`], in order, at most
  // `limit`, each with its village's path. Every staged record's village
  // must have been added.
  absl::StatusOr<std::vector<StagedRecord>> ReadRecords(int64_t after_index,
                                                        int limit);

  // Keeps the plan of a batch (what the store must write for it), after
  // the plans kept before; in one transaction of the scratch database.
  absl::Status AddPlanned(const std::vector<ImportedProject>& planned);
  // The plans kept, in order, from the `first`th (0-based), at most
  // `limit`.
  absl::StatusOr<std::vector<ImportedProject>> ReadPlanned(int64_t first,
                                                           int limit);

 private:
  explicit ImportStage(std::unique_ptr<SqliteDatabase> db)
      : db_(std::move(db)) {}

  std::unique_ptr<SqliteDatabase> db_;
  int64_t planned_ = 0;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_IMPORT_STAGE_H_
