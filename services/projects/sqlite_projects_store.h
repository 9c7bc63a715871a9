// ProjectsStore on an embedded SQLite database (the default backend).
#ifndef FIVESTAR_SERVICES_PROJECTS_SQLITE_PROJECTS_STORE_H_
#define FIVESTAR_SERVICES_PROJECTS_SQLITE_PROJECTS_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Each row holds its resource as serialized protobuf (so new optional fields
// need no migration) beside the indexed columns that queries filter on. The
// change feed is a table whose INTEGER PRIMARY KEY is the sequence, written
// in the same transaction as the change it records; one connection behind
// one mutex serializes every write, so sequences are gapless.
class SqliteProjectsStore final : public ProjectsStore {
 public:
  // Opens the database at `path` and brings its schema up to date.
  static absl::StatusOr<std::unique_ptr<SqliteProjectsStore>> Open(
      const std::string& path, const Clock* clock);

  void SetCommitObserver(std::function<void(uint64_t)> observer) override;

  absl::StatusOr<Project> GetProject(const std::string& id) override;
  absl::StatusOr<std::pair<Project, std::string>> FindProjectByRequest(
      const std::string& request_id) override;
  absl::StatusOr<std::vector<Project>> ListProjects(
      const ProjectQuery& query) override;
  absl::StatusOr<Project> CreateProject(
      const Project& project, const RequestKey& key,
      const std::string& village_path) override;
  absl::StatusOr<Project> UpdateProject(
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) override;
  absl::Status DeleteProject(const std::string& id,
                             const std::string& expected_etag,
                             const std::string& village_path) override;

  absl::StatusOr<AppendedReport> AppendReport(
      const ProgressReport& report, const RequestKey& key,
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) override;
  absl::StatusOr<std::pair<ProgressReport, std::string>> FindReportByRequest(
      const std::string& request_id) override;
  absl::StatusOr<std::vector<RecordedReport>> ListReports(
      const std::string& project_id, int64_t after_position,
      int limit) override;
  absl::StatusOr<std::optional<absl::Time>> EarliestReportTime(
      const std::string& project_id) override;

  absl::StatusOr<IndicatorDefinition> GetIndicatorDefinition(
      const std::string& key) override;
  absl::StatusOr<std::vector<IndicatorDefinition>> ListIndicatorDefinitions(
      const std::string& after_key, int limit) override;
  absl::StatusOr<IndicatorDefinition> CreateIndicatorDefinition(
      const IndicatorDefinition& definition) override;
  absl::StatusOr<IndicatorDefinition> UpdateIndicatorDefinition(
      const IndicatorDefinition& definition,
      const std::string& expected_etag) override;
  absl::StatusOr<int> InsertIndicatorDefinitionsIfAbsent(
      const std::vector<IndicatorDefinition>& definitions) override;

  absl::StatusOr<v1::SetIndicatorValuesResponse> SetIndicatorValues(
      const std::vector<IndicatorWrite>& writes, const RequestKey& key,
      bool dry_run) override;
  absl::StatusOr<std::pair<v1::SetIndicatorValuesResponse, std::string>>
  FindValueRequest(const std::string& request_id) override;
  absl::StatusOr<std::vector<IndicatorValue>> ListIndicatorValues(
      const IndicatorValueQuery& query) override;

  absl::StatusOr<std::vector<TaskSnapshot>> SnapshotTasks(
      const std::optional<std::vector<std::string>>& village_ids,
      absl::Time as_of, const std::string& as_of_day) override;
  absl::StatusOr<std::vector<std::pair<std::string, int>>> CountReportingWeeks(
      const std::vector<std::string>& village_ids, absl::Time as_of,
      int weeks) override;

  absl::Status ApplyImport(
      const std::vector<ImportedProject>& projects) override;

  absl::StatusOr<std::string> FeedId() override;
  absl::StatusOr<uint64_t> NewestSequence() override;
  absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) override;

 private:
  // Tells the commit observer about a committed write when it goes out of
  // scope. Declared before the MutexLock of a write so that it fires after
  // the lock is released (observers read the store).
  class CommitSignal {
   public:
    explicit CommitSignal(SqliteProjectsStore* store) : store_(store) {}
    ~CommitSignal();
    // Marks the write committed with `newest` as the newest sequence.
    void Committed(uint64_t newest) { newest_ = newest; }

   private:
    SqliteProjectsStore* store_;
    uint64_t newest_ = 0;
  };

  SqliteProjectsStore(std::unique_ptr<SqliteDatabase> db, const Clock* clock)
      : db_(std::move(db)), clock_(clock) {}

  absl::StatusOr<std::string> NewIdLocked(absl::string_view prefix)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Project> GetProjectLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Project> InsertProjectLocked(const Project& project,
                                              const RequestKey& key,
                                              int64_t now_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the project's row, bumping its version; with a non-empty
  // `fingerprint` also the fingerprint of its request_id.
  absl::StatusOr<Project> ReplaceProjectLocked(const Project& project,
                                               const std::string& fingerprint,
                                               int64_t now_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ProgressReport> InsertReportLocked(
      const ProgressReport& report, const std::string& village_id,
      const RequestKey& key, int64_t now_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<IndicatorDefinition> GetDefinitionLocked(
      const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<IndicatorDefinition> InsertDefinitionLocked(
      const IndicatorDefinition& definition, int64_t now_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends one change-feed entry; returns its sequence.
  absl::StatusOr<uint64_t> AppendChangeLocked(
      const std::string& village_id, const std::string& village_path,
      v1::ChangeKind kind, const std::string& entity_id,
      const std::string& project_id, const std::string& period, int64_t now_us)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> NewestSequenceLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends to `out` the values `query` selects (its cursor and filters),
  // of the villages in the JSON array `village_json` (of every village
  // when null), at most `limit` (all when negative).
  absl::Status SelectValuesLocked(const IndicatorValueQuery& query,
                                  const std::string* village_json, int limit,
                                  std::vector<IndicatorValue>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDatabase> db_ ABSL_GUARDED_BY(mu_);
  const Clock* clock_;
  std::string feed_id_ ABSL_GUARDED_BY(mu_);
  std::function<void(uint64_t)> observer_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_SQLITE_PROJECTS_STORE_H_
