// Practical tasks (实事) and their progress: the rules a project and a
// progress report must follow, how a project's status and totals derive from
// its reports, who may do what where, idempotent retries, paging, and the
// import format. It knows nothing of gRPC; ProjectsServiceImpl translates
// calls into it.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROJECT_TRACKER_H_
#define FIVESTAR_SERVICES_PROJECTS_PROJECT_TRACKER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/registry_client/jurisdiction.h"
#include "google/protobuf/field_mask.pb.h"
#include "services/projects/import_stage.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Most project records one import may hold by default. An import's records
// wait on disk (ImportStage), not in memory, so this bounds the disk and the
// time one import may take, not the server's memory: a country has about
// 2.5 million practical tasks (500,000 villages), a province about 230,000.
inline constexpr int64_t kDefaultMaxImportRecords = 10'000'000;
// Most reports one import record may hold.
inline constexpr int kMaxReportsPerRecord = 10'000;

// Whether `delivered` reaches `target`. Quantities are sums of reported
// doubles, so the comparison forgives rounding in the last digits (a
// relative 1e-9): ten reports of 0.1 deliver a target of 1.
bool Reached(double delivered, double target);

// The status a project's reports give it (CANCELLED aside): no report →
// PLANNED; delivered below target → IN_PROGRESS; else DELIVERED.
ProjectStatus DerivedStatus(int64_t reports, double delivered, double target);

// What an import did (or, with validate_only, would do).
struct ProjectImportCounts {
  int64_t projects_created = 0;
  int64_t projects_updated = 0;
  int64_t projects_unchanged = 0;
  int64_t reports_created = 0;
  int64_t reports_unchanged = 0;
};

class ProjectTracker;

// Collects the chunks of one import, checking each record as it arrives and
// staging it on disk (ImportStage), and applies them all in one transaction
// in Finish(). Its memory does not grow with the number of records.
class ProjectImport {
 public:
  // Checks the records of a chunk (size, field rules, keys and report
  // request ids repeated within the import, and the principal's scope over
  // each record's village, asked of the registry in one batch for the
  // chunk's new villages) and stages them. The first chunk's validate_only
  // decides for the import. Errors name the first failing record in order.
  absl::Status Add(const v1::ImportProjectsRequest& chunk);
  int64_t records_received() const { return records_received_; }
  // Checks every record against the stored projects, then writes
  // everything in one transaction (or nothing, with validate_only). Staged
  // records are planned and written a batch at a time. When `cancelled`
  // turns true while the import is applied (the client cancelled or its
  // deadline passed), the transaction is rolled back: CANCELLED, nothing
  // written.
  absl::StatusOr<ProjectImportCounts> Finish(
      const std::function<bool()>& cancelled = nullptr);

 private:
  friend class ProjectTracker;
  ProjectImport(ProjectTracker* tracker, Principal principal,
                std::unique_ptr<ImportStage> stage)
      : tracker_(tracker),
        principal_(std::move(principal)),
        stage_(std::move(stage)) {}

  // Field rules, and keys repeated within the import, of records[index];
  // stages it when they pass.
  absl::Status StageRecord(const v1::ProjectRecord& record, int64_t index);
  // The plan (what ApplyImport writes) for a batch of staged records,
  // checked against the stored projects; adds to `counts`.
  absl::StatusOr<std::vector<ImportedProject>> Plan(
      const std::vector<ImportStage::StagedRecord>& batch,
      ProjectImportCounts* counts);

  ProjectTracker* tracker_;
  Principal principal_;
  std::unique_ptr<ImportStage> stage_;
  bool first_chunk_seen_ = false;
  bool validate_only_ = false;
  int64_t records_received_ = 0;
};

class ProjectTracker {
 public:
  // Every argument must outlive the tracker. An import may hold at most
  // `max_import_records` project records.
  ProjectTracker(ProjectsStore* store, const Jurisdiction* jurisdiction,
                 const Clock* clock,
                 int64_t max_import_records = kDefaultMaxImportRecords)
      : store_(store),
        jurisdiction_(jurisdiction),
        clock_(clock),
        max_import_records_(max_import_records) {}

  absl::StatusOr<Project> CreateProject(
      const Principal& principal, const v1::CreateProjectRequest& request);
  absl::StatusOr<Project> GetProject(const Principal& principal,
                                     const std::string& id);
  absl::StatusOr<Project> UpdateProject(
      const Principal& principal, const Project& project,
      const google::protobuf::FieldMask& update_mask);
  absl::Status DeleteProject(const Principal& principal, const std::string& id,
                             const std::string& etag);
  absl::StatusOr<Project> CancelProject(
      const Principal& principal, const v1::CancelProjectRequest& request);
  absl::StatusOr<v1::ListProjectsResponse> ListProjects(
      const Principal& principal, const v1::ListProjectsRequest& request);

  absl::StatusOr<v1::CreateProgressReportResponse> CreateProgressReport(
      const Principal& principal, const ProgressReport& report);
  // CreateProgressReport without waiting for the write's commit on the
  // calling thread: the checks that read (the project, the caller's scope,
  // an earlier use of the request_id) run here, then the report is queued
  // for the next group commit and `done` receives the same result
  // CreateProgressReport would give, once it is durable, on the store's
  // writing thread. The project's totals are derived inside the write from
  // the project as stored then, so no concurrent write can be lost. A race
  // on the request_id with a concurrent first use is redone through
  // CreateProgressReport on `executor`.
  void CreateProgressReportAsync(
      const Principal& principal, const ProgressReport& report,
      Executor* executor,
      std::function<void(absl::StatusOr<v1::CreateProgressReportResponse>)>
          done);
  absl::StatusOr<v1::ListProgressReportsResponse> ListProgressReports(
      const Principal& principal,
      const v1::ListProgressReportsRequest& request);

  // Starts an import on behalf of `principal` (who needs the admin role, and
  // admin scope over every village it imports).
  absl::StatusOr<std::unique_ptr<ProjectImport>> StartImport(
      const Principal& principal);

  // Field rules of a project that need no stored data; `field` prefixes
  // the names in errors ("project", "records[3].project"). With
  // `start_date_required` false an empty start_date passes (it defaults).
  static absl::Status ValidateProjectFields(const Project& project,
                                            absl::string_view field,
                                            bool start_date_required);
  // Field rules of a report that need neither the project nor the clock.
  static absl::Status ValidateReportFields(const ProgressReport& report,
                                           absl::string_view field);

 private:
  friend class ProjectImport;

  // The project with the fields that depend on today (overdue) filled in.
  Project Decorate(Project project) const;
  // The fingerprint of a create request (or import record) for `project`.
  static std::string ProjectFingerprint(const Project& project);
  // The fingerprint of a report request: its quantity, note and
  // report_time as given (the project is compared separately).
  static std::string ReportFingerprint(const ProgressReport& report);
  // Checks a report's time against the clock and the project's start date;
  // returns it (now when unset).
  absl::StatusOr<google::protobuf::Timestamp> EffectiveReportTime(
      const ProgressReport& report, const Project& project,
      absl::string_view field) const;
  // The project after `report` (already timed) is added.
  static absl::StatusOr<Project> WithReport(const Project& project,
                                            const ProgressReport& report,
                                            absl::string_view field);
  // The principal may act as operator on the project's village; returns its
  // lineage.
  absl::StatusOr<std::vector<std::string>> AuthorizeProjectChange(
      const Principal& principal, const Project& project,
      absl::string_view what);
  // Project `id`, which `principal` named to `what` with `role`. NOT_FOUND
  // only for a global principal: for a scoped one a project that does not
  // exist is refused as one outside its scope (ConcealAbsence).
  absl::StatusOr<Project> ProjectFor(const Principal& principal, Role role,
                                     const std::string& id,
                                     absl::string_view what);
  // For a request id (or import key) `principal` chose that an earlier
  // request already used for project `project_id`: OK when that project
  // lies in the principal's scope (so the ALREADY_EXISTS that names it may
  // be given), else the PERMISSION_DENIED of a target outside the scope for
  // `what`, naming nothing of the other project.
  absl::Status AuthorizeEarlierProject(const Principal& principal, Role role,
                                       const std::string& project_id,
                                       absl::string_view what);

  // The lock that read-modify-writes of `project_id` hold in this process.
  // Reads no longer wait behind writes, so two writers of one project would
  // otherwise keep reading what the other is about to replace and lose
  // their optimistic writes again and again; writers of other processes
  // (and imports) still meet in the etag check.
  absl::Mutex* WriteStripe(const std::string& project_id);

  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const Clock* clock_;
  const int64_t max_import_records_;
  std::array<absl::Mutex, 64> write_stripes_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROJECT_TRACKER_H_
