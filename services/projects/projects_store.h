// Storage of projects, progress reports, the indicator catalogue, indicator
// values and the change feed, behind an interface so that the embedded
// SQLite store and a future PostgreSQL store are interchangeable.
//
// A store keeps its data consistent on its own: every method is atomic,
// etags and idempotency keys are compared inside the write, and every write
// that changes a village appends its change-feed entries in the same
// transaction (so the feed's sequence is gapless and never runs ahead of or
// behind the data). It knows nothing of field rules, derived statuses or
// permissions: those belong to the logic classes above it, which hand the
// store complete resources to write.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROJECTS_STORE_H_
#define FIVESTAR_SERVICES_PROJECTS_PROJECTS_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/change_feed.h"
#include "fivestar/projects/v1/projects.pb.h"

namespace fivestar::projects {

using ::fivestar::common::v1::Star;
using ::fivestar::projects::v1::Change;
using ::fivestar::projects::v1::IndicatorDefinition;
using ::fivestar::projects::v1::IndicatorValue;
using ::fivestar::projects::v1::ProgressReport;
using ::fivestar::projects::v1::Project;
using ::fivestar::projects::v1::ProjectStatus;

// Where a village sat in the registry when it changed, as a path from the
// root: "/410000/411300/411323/411323-huiche/411323-huiche-west/<village>/"
// (see common/change_feed.h). Stored with each change so that the feed can
// be filtered by region without asking the registry.
using ::fivestar::LineagePath;
using ::fivestar::PathComponent;

// An idempotency key and the fingerprint of the request it was first used
// with; an empty `request_id` means none.
struct RequestKey {
  std::string request_id;
  std::string fingerprint;
};

// Which projects to list: of `village_ids` (any when nullopt), serving `star`
// (any when unspecified), in `status` (any when unspecified), overdue on
// `overdue_on` ("YYYY-MM-DD"; no filter when empty), after (`after_village_id`,
// `after_id`), ordered by village id then id, at most `limit`.
struct ProjectQuery {
  std::optional<std::vector<std::string>> village_ids;
  Star star = fivestar::common::v1::STAR_UNSPECIFIED;
  ProjectStatus status = v1::PROJECT_STATUS_UNSPECIFIED;
  std::string overdue_on;
  std::string after_village_id;
  std::string after_id;
  int limit = 100;
};

// A progress report with its position in the order of recording.
struct RecordedReport {
  int64_t position = 0;
  ProgressReport report;
};

// The result of appending a report: the report as stored and its project
// afterwards.
struct AppendedReport {
  ProgressReport report;
  Project project;
};

// Which indicator values to list: of `village_ids` (any when nullopt; in
// ascending order, as VillageDirectory gives them), of `indicator_key` (any
// when empty), with periods in [start_period, end_period] (open ends when
// empty), after (`after_village_id`, `after_key`, `after_period`), ordered
// by village, key, period, at most `limit` (no limit when negative). A
// store's work grows with the rows and villages it passes over from the
// cursor on, never with what lies before the cursor, so a late page costs
// no more than an early one.
struct IndicatorValueQuery {
  std::optional<std::vector<std::string>> village_ids;
  std::string indicator_key;
  std::string start_period;
  std::string end_period;
  std::string after_village_id;
  std::string after_key;
  std::string after_period;
  int limit = 100;
};

// One indicator value to set; `value.reporter` is the principal setting it.
struct IndicatorWrite {
  IndicatorValue value;
  std::string village_path;
};

// A project as it stood at an instant, for summaries.
struct TaskSnapshot {
  std::string village_id;
  Star star = fivestar::common::v1::STAR_UNSPECIFIED;
  double target_quantity = 0;
  std::string due_date;
  // Cancelled at or before the instant.
  bool cancelled = false;
  // Reports with report_time at or before the instant, and their sum.
  int64_t reports = 0;
  double delivered_quantity = 0;
};

// Everything one import writes. Projects are written in order; each new
// project gets its id before its reports are inserted.
struct ImportedProject {
  // The project as it must be stored afterwards, derived fields included;
  // `id` empty for a new project.
  Project project;
  // The record's key (the project's request_id) and fingerprint.
  RequestKey key;
  // For an existing project: the etag it had when the import was planned
  // (ABORTED when it changed since).
  std::string expected_etag;
  // Whether the project itself is new or changed (a PROJECT_CHANGED entry);
  // new reports alone produce only PROGRESS_REPORTED entries.
  bool project_changed = false;
  // Reports to append, in order, each with its request_id and fingerprint.
  std::vector<std::pair<ProgressReport, std::string>> new_reports;
  std::string village_path;
};

// Supplies an import's projects a batch at a time: the next batch (possibly
// empty), or nullopt once none remain. An error ends the import.
using ImportBatchSource = std::function<
    absl::StatusOr<std::optional<std::vector<ImportedProject>>>()>;

// One village's figures for a summary window as kept in the database:
// the serialized internal::KeptVillageFigures (see ProgressSummaries).
struct KeptFigures {
  std::string village_id;
  std::string figures;
};
// How long kept figures stay without being kept again: a month's
// evaluation reads every village's summary, so its figures last until the
// next month's.
inline constexpr absl::Duration kKeptFiguresLifetime = absl::Hours(24 * 40);
// KeepFiguresAsync keeps nothing when more changes than this came after the
// rows were read (an import ran meanwhile): checking them would cost more
// than reading the rows again.
inline constexpr int kMostChangesCheckedToKeep = 10'000;

// A page of the change feed read for one follower.
using ChangeBatch = FeedBatch<Change>;

class ProjectsStore {
 public:
  virtual ~ProjectsStore() = default;

  // Called with the newest sequence after every committed write that
  // appended changes, outside the store's lock. Set once, before serving.
  virtual void SetCommitObserver(std::function<void(uint64_t)> observer) = 0;

  // --- Projects ------------------------------------------------------------

  // NOT_FOUND when absent.
  virtual absl::StatusOr<Project> GetProject(const std::string& id) = 0;
  // The project created with `request_id` and that request's fingerprint.
  // NOT_FOUND when the key was never used.
  virtual absl::StatusOr<std::pair<Project, std::string>> FindProjectByRequest(
      const std::string& request_id) = 0;
  // FindProjectByRequest for many keys at once, in one read: the keys that
  // were used, each with its project and fingerprint (unused keys are
  // absent). The default asks FindProjectByRequest per key.
  virtual absl::StatusOr<
      absl::flat_hash_map<std::string, std::pair<Project, std::string>>>
  FindProjectsByRequests(const std::vector<std::string>& request_ids);
  virtual absl::StatusOr<std::vector<Project>> ListProjects(
      const ProjectQuery& query) = 0;
  // Stores a new project, assigning its id, times and etag. ALREADY_EXISTS
  // when `key.request_id` is taken.
  virtual absl::StatusOr<Project> CreateProject(
      const Project& project, const RequestKey& key,
      const std::string& village_path) = 0;
  // Replaces a project (all fields, derived ones included) if its etag is
  // still `expected_etag`; ABORTED otherwise.
  virtual absl::StatusOr<Project> UpdateProject(
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) = 0;
  // Deletes a project if `expected_etag` is empty or current (ABORTED
  // otherwise). FAILED_PRECONDITION while it has progress reports.
  virtual absl::Status DeleteProject(const std::string& id,
                                     const std::string& expected_etag,
                                     const std::string& village_path) = 0;

  // --- Progress reports ----------------------------------------------------

  // Inserts `report` (assigning id and create_time) and replaces its project
  // by `project` if the project's etag is still `expected_etag` (ABORTED
  // otherwise). ALREADY_EXISTS when `key.request_id` is taken.
  virtual absl::StatusOr<AppendedReport> AppendReport(
      const ProgressReport& report, const RequestKey& key,
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) = 0;
  // What AppendReportAsync applies to the project as stored when its write
  // runs: the report to insert and the project after it, or an error that
  // leaves nothing written. It runs on the store's writing thread and must
  // neither block nor call the store.
  using ReportApplier =
      std::function<absl::StatusOr<std::pair<ProgressReport, Project>>(
          const Project& current)>;
  // Like AppendReport, but the report and the project after it come from
  // `apply` on project `project_id` as stored when the write runs (so no
  // other write comes between the two, and no etag is checked), and the
  // call need not wait for the write: `done` receives the result once it
  // is durable (or failed), possibly on another thread, and must not
  // block. This default does it all on the calling thread, through
  // GetProject and AppendReport.
  virtual void AppendReportAsync(
      const std::string& project_id, const RequestKey& key,
      const std::string& village_path, ReportApplier apply,
      std::function<void(absl::StatusOr<AppendedReport>)> done) {
    absl::StatusOr<Project> current = GetProject(project_id);
    if (!current.ok()) return done(current.status());
    absl::StatusOr<std::pair<ProgressReport, Project>> applied =
        apply(*current);
    if (!applied.ok()) return done(applied.status());
    done(AppendReport(applied->first, key, applied->second, current->etag(),
                      village_path));
  }
  // The report recorded with `request_id` and its request's fingerprint.
  // NOT_FOUND when the key was never used.
  virtual absl::StatusOr<std::pair<ProgressReport, std::string>>
  FindReportByRequest(const std::string& request_id) = 0;
  // FindReportByRequest for many keys at once, in one read (as
  // FindProjectsByRequests).
  virtual absl::StatusOr<
      absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>>
  FindReportsByRequests(const std::vector<std::string>& request_ids);
  // The reports of a project after `after_position`, oldest first.
  virtual absl::StatusOr<std::vector<RecordedReport>> ListReports(
      const std::string& project_id, int64_t after_position, int limit) = 0;
  // The earliest report_time of a project's reports; nullopt without any.
  virtual absl::StatusOr<std::optional<absl::Time>> EarliestReportTime(
      const std::string& project_id) = 0;

  // --- Indicator catalogue -------------------------------------------------

  virtual absl::StatusOr<IndicatorDefinition> GetIndicatorDefinition(
      const std::string& key) = 0;
  // In key order, keys > `after_key`, at most `limit` (all when negative).
  virtual absl::StatusOr<std::vector<IndicatorDefinition>>
  ListIndicatorDefinitions(const std::string& after_key, int limit) = 0;
  // ALREADY_EXISTS when the key is taken.
  virtual absl::StatusOr<IndicatorDefinition> CreateIndicatorDefinition(
      const IndicatorDefinition& definition) = 0;
  // Replaces a definition if its etag is still `expected_etag` (ABORTED
  // otherwise). FAILED_PRECONDITION naming one stored value that the new
  // range or `integral` would make invalid.
  virtual absl::StatusOr<IndicatorDefinition> UpdateIndicatorDefinition(
      const IndicatorDefinition& definition,
      const std::string& expected_etag) = 0;
  // Stores those of `definitions` whose key is not taken; returns how many.
  virtual absl::StatusOr<int> InsertIndicatorDefinitionsIfAbsent(
      const std::vector<IndicatorDefinition>& definitions) = 0;

  // --- Indicator values ----------------------------------------------------

  // Sets all `writes` in one transaction: a value equal to the stored one
  // (value and note) is left alone, others are created or replaced (with
  // the store's time as update_time) and each gets a change-feed entry.
  // With a request_id, the response is remembered under it (ALREADY_EXISTS
  // when the key is taken). With `dry_run`, computes and rolls back.
  virtual absl::StatusOr<v1::SetIndicatorValuesResponse> SetIndicatorValues(
      const std::vector<IndicatorWrite>& writes, const RequestKey& key,
      bool dry_run) = 0;
  // The remembered response of `request_id` and its request's fingerprint.
  // NOT_FOUND when unknown (or forgotten).
  virtual absl::StatusOr<std::pair<v1::SetIndicatorValuesResponse, std::string>>
  FindValueRequest(const std::string& request_id) = 0;
  virtual absl::StatusOr<std::vector<IndicatorValue>> ListIndicatorValues(
      const IndicatorValueQuery& query) = 0;

  // --- Summaries -----------------------------------------------------------

  // The projects of `village_ids` (all when nullopt) with start_date on or
  // before `as_of_day`, as they stood at `as_of`.
  virtual absl::StatusOr<std::vector<TaskSnapshot>> SnapshotTasks(
      const std::optional<std::vector<std::string>>& village_ids,
      absl::Time as_of, const std::string& as_of_day) = 0;
  // For each village of `village_ids` with reports, the number of distinct
  // 7-day windows (as_of - 7(k+1) days, as_of - 7k days], k < `weeks`, that
  // hold at least one report_time.
  virtual absl::StatusOr<std::vector<std::pair<std::string, int>>>
  CountReportingWeeks(const std::vector<std::string>& village_ids,
                      absl::Time as_of, int weeks) = 0;

  // --- Kept summary figures ------------------------------------------------
  //
  // Figures of villages for closed-month summary windows, kept in the
  // database below ProgressSummaries' heap so that a region's summary adds
  // up stored figures rather than every village's rows, whichever replica
  // computed them and however many villages there are. Every write that
  // appends a change naming a village deletes that village's kept figures
  // in its own transaction, so a kept row never lags the village's rows.
  // Rows not kept again for kKeptFiguresLifetime are removed.

  // Reads the figures kept for `window` (an opaque key naming everything
  // that decides them) of those of `village_ids` (ascending) that have
  // some, in village order.
  virtual absl::StatusOr<std::vector<KeptFigures>> ReadKeptFigures(
      const std::string& window,
      const std::vector<std::string>& village_ids) = 0;
  // Keeps `figures` for `window`, computed from rows read when change
  // `seen` was the newest: the figures of a village that a change after
  // `seen` names are left out (they may predate it), and all are left out
  // when more than kMostChangesCheckedToKeep came after `seen`. Does not
  // wait for the write: `done` gets its status once durable (or failed),
  // possibly on another thread, and must not block.
  virtual void KeepFiguresAsync(const std::string& window, uint64_t seen,
                                std::vector<KeptFigures> figures,
                                std::function<void(absl::Status)> done) = 0;

  // --- Import --------------------------------------------------------------

  // Writes every project of an import and its new reports in one
  // transaction. ABORTED when a project changed since the plan was made or a
  // report's request_id was taken meanwhile.
  virtual absl::Status ApplyImport(
      const std::vector<ImportedProject>& projects) = 0;
  // ApplyImport for an import too large to hold at once: writes every batch
  // `next` gives, in order, in one transaction, asking for the next batch
  // only after the previous one was written, so that memory holds one batch
  // at a time. Nothing is written when `next` or a write fails. The default
  // collects every batch and calls ApplyImport.
  virtual absl::Status ApplyImportBatches(const ImportBatchSource& next);

  // --- Change feed ---------------------------------------------------------

  // The identity of this database's feed.
  virtual absl::StatusOr<std::string> FeedId() = 0;
  // The newest sequence, 0 when the feed is empty.
  virtual absl::StatusOr<uint64_t> NewestSequence() = 0;
  // Changes after `after_sequence` whose lineage path holds every one of
  // `path_components`, at most `limit`.
  virtual absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) = 0;
};

inline absl::StatusOr<
    absl::flat_hash_map<std::string, std::pair<Project, std::string>>>
ProjectsStore::FindProjectsByRequests(
    const std::vector<std::string>& request_ids) {
  absl::flat_hash_map<std::string, std::pair<Project, std::string>> found;
  for (const std::string& request_id : request_ids) {
    absl::StatusOr<std::pair<Project, std::string>> project =
        FindProjectByRequest(request_id);
    if (absl::IsNotFound(project.status())) continue;
    if (!project.ok()) return project.status();
    found.emplace(request_id, *std::move(project));
  }
  return found;
}

inline absl::StatusOr<
    absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>>
ProjectsStore::FindReportsByRequests(
    const std::vector<std::string>& request_ids) {
  absl::flat_hash_map<std::string, std::pair<ProgressReport, std::string>>
      found;
  for (const std::string& request_id : request_ids) {
    absl::StatusOr<std::pair<ProgressReport, std::string>> report =
        FindReportByRequest(request_id);
    if (absl::IsNotFound(report.status())) continue;
    if (!report.ok()) return report.status();
    found.emplace(request_id, *std::move(report));
  }
  return found;
}

inline absl::Status ProjectsStore::ApplyImportBatches(
    const ImportBatchSource& next) {
  std::vector<ImportedProject> all;
  while (true) {
    absl::StatusOr<std::optional<std::vector<ImportedProject>>> batch = next();
    if (!batch.ok()) return batch.status();
    if (!batch->has_value()) break;
    for (ImportedProject& imported : **batch) {
      all.push_back(std::move(imported));
    }
  }
  return all.empty() ? absl::OkStatus() : ApplyImport(all);
}

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROJECTS_STORE_H_
