// ProjectsStore on an SQL database: an embedded SQLite file (the default)
// or a PostgreSQL server. One code for both engines, instantiated for
// SqlitePool and PostgresPool.
#ifndef FIVESTAR_SERVICES_PROJECTS_SQL_PROJECTS_STORE_H_
#define FIVESTAR_SERVICES_PROJECTS_SQL_PROJECTS_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/change_log.h"
#include "common/clock.h"
#include "common/postgres_pool.h"
#include "common/sql_audit.h"
#include "common/sqlite_pool.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Each row holds its resource as serialized protobuf (so new optional fields
// need no migration) beside the indexed columns that queries filter on. The
// change feed is a table whose INTEGER PRIMARY KEY is the sequence, written
// in the same transaction as the change it records (see ChangeLog), so
// sequences are gapless. Reads run on the pool's readers beside the writer;
// writes are group-committed (on SQLite), an import alone.
//
// `Pool` is SqlitePool or PostgresPool (instantiated for both in the .cc).
template <typename Pool>
class SqlProjectsStore final : public ProjectsStore {
 public:
  using Database = typename Pool::Database;
  using Statement = typename Pool::Statement;

  // Opens `database` (an SQLite file's path or a PostgreSQL URI, as Pool
  // takes it) and brings its schema up to date.
  static absl::StatusOr<std::unique_ptr<SqlProjectsStore>> Open(
      const std::string& database, const Clock* clock);

  // The audit log kept in this store's database (its audit_events table),
  // sharing its writer so that audit events commit with the store's
  // writes.
  AuditStore* audit_store() { return &audit_; }

  void SetCommitObserver(std::function<void(uint64_t)> observer) override;

  // The connection set, for tests that hold a reader or the writer busy.
  Pool* pool_for_testing() { return pool_.get(); }

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
  // One write function in the next group commit; `done` runs on the
  // thread that led the batch, after its COMMIT.
  void AppendReportAsync(
      const std::string& project_id, const RequestKey& key,
      const std::string& village_path, ReportApplier apply,
      std::function<void(absl::StatusOr<AppendedReport>)> done) override;
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

  absl::StatusOr<std::vector<KeptFigures>> ReadKeptFigures(
      const std::string& window,
      const std::vector<std::string>& village_ids) override;
  // Queued on the writer, after the writes already queued (PostgreSQL:
  // written before it returns, as its pool's writes are).
  void KeepFiguresAsync(const std::string& window, uint64_t seen,
                        std::vector<KeptFigures> figures,
                        std::function<void(absl::Status)> done) override;

  absl::Status ApplyImport(
      const std::vector<ImportedProject>& projects) override;
  // One transaction on the writer, alone, for the whole import (all or
  // nothing); `next` runs inside it, so the writer is held from the first
  // batch to the last.
  absl::Status ApplyImportBatches(const ImportBatchSource& next) override;
  absl::StatusOr<
      absl::flat_hash_map<std::string, std::pair<Project, std::string>>>
  FindProjectsByRequests(const std::vector<std::string>& request_ids) override;
  absl::StatusOr<
      absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>>
  FindReportsByRequests(const std::vector<std::string>& request_ids) override;

  absl::StatusOr<std::string> FeedId() override;
  absl::StatusOr<uint64_t> NewestSequence() override;
  absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) override;

 private:
  SqlProjectsStore(std::unique_ptr<Pool> pool,
                   std::unique_ptr<ChangeLog<Pool>> feed, const Clock* clock)
      : pool_(std::move(pool)), feed_(std::move(feed)), clock_(clock) {}

  // The helpers run inside a pool_ read or a feed_ write, on its `db`.

  absl::StatusOr<std::string> NewId(Database& db, absl::string_view prefix);
  absl::StatusOr<Project> LoadProject(Database& db, const std::string& id);
  absl::StatusOr<Project> InsertProject(Database& db, const Project& project,
                                        const RequestKey& key, int64_t now_us);
  // Replaces the project's row, bumping its version; with a non-empty
  // `fingerprint` also the fingerprint of its request_id.
  absl::StatusOr<Project> ReplaceProject(Database& db, const Project& project,
                                         const std::string& fingerprint,
                                         int64_t now_us);
  absl::StatusOr<ProgressReport> InsertReport(Database& db,
                                              const ProgressReport& report,
                                              const std::string& village_id,
                                              const RequestKey& key,
                                              int64_t now_us);
  absl::StatusOr<IndicatorDefinition> LoadDefinition(Database& db,
                                                     const std::string& key);
  absl::StatusOr<IndicatorDefinition> InsertDefinition(
      Database& db, const IndicatorDefinition& definition, int64_t now_us);
  // Writes the projects of one batch of an import (see ApplyImport).
  absl::Status WriteImported(Database& db,
                             const std::vector<ImportedProject>& projects,
                             int64_t now_us);
  // Appends one change-feed entry and reports its sequence to feed_.
  absl::Status AppendChange(Database& db, const std::string& village_id,
                            const std::string& village_path,
                            v1::ChangeKind kind, const std::string& entity_id,
                            const std::string& project_id,
                            const std::string& period, int64_t now_us);
  // Appends to `out` the values `query` selects (its cursor and filters),
  // of the villages in the JSON array `village_json` (of every village
  // when null), at most `limit` (all when negative).
  absl::Status SelectValues(Database& db, const IndicatorValueQuery& query,
                            const std::string* village_json, int limit,
                            std::vector<IndicatorValue>* out);

  const std::unique_ptr<Pool> pool_;
  SqlAuditStore<Pool> audit_{pool_.get()};
  const std::unique_ptr<ChangeLog<Pool>> feed_;
  const Clock* clock_;
};

extern template class SqlProjectsStore<SqlitePool>;
extern template class SqlProjectsStore<PostgresPool>;

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_SQL_PROJECTS_STORE_H_
