#include "services/projects/project_tracker.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/concurrent_writes.h"
#include "common/field_rules.h"
#include "common/import_limits.h"
#include "common/output_fields.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/update_mask.h"
#include "common/validation.h"

namespace fivestar::projects {
namespace {

using ::google::protobuf::FieldMask;
using ::google::protobuf::Timestamp;
using ::google::protobuf::util::TimeUtil;

constexpr double kMaxQuantity = 1e12;
// A report may be timed at most this far ahead of the server's clock.
constexpr absl::Duration kReportClockSkew = absl::Minutes(5);
// Attempts at an optimistic write that lost a race (ABORTED from the
// store) before giving the conflict to the caller.
constexpr int kWriteAttempts = 8;

const std::vector<std::string>& ProjectMutableFields() {
  static const auto* fields = new std::vector<std::string>{
      "title", "title_en",   "star",     "target_quantity",
      "unit",  "start_date", "due_date", "owner"};
  return *fields;
}

// The tolerance of quantity comparisons at the scale of `target`.
double Tolerance(double target) {
  return 1e-9 * std::max(1.0, std::fabs(target));
}

// The client-settable fields of a project, as they count for "is this the
// same project": everything but the output-only fields.
Project ClientFields(const Project& project) {
  Project copy = project;
  copy.clear_id();
  copy.clear_status();
  copy.clear_delivered_quantity();
  copy.clear_over_delivered();
  copy.clear_overdue();
  copy.clear_report_count();
  copy.clear_last_report_time();
  copy.clear_cancel_reason();
  copy.clear_cancel_time();
  ClearVersionFields(&copy);
  return copy;
}

// The mutable fields of `from` copied over `to`; start_date only when set.
Project WithMutableFields(Project to, const Project& from) {
  to.set_title(from.title());
  to.set_title_en(from.title_en());
  to.set_star(from.star());
  to.set_target_quantity(from.target_quantity());
  to.set_unit(from.unit());
  if (!from.start_date().empty()) to.set_start_date(from.start_date());
  to.set_due_date(from.due_date());
  to.set_owner(from.owner());
  return to;
}

// Status and over-delivery after the target or the totals changed.
void Rederive(Project* project) {
  if (project->status() != v1::CANCELLED) {
    project->set_status(DerivedStatus(project->report_count(),
                                      project->delivered_quantity(),
                                      project->target_quantity()));
  }
  project->set_over_delivered(project->delivered_quantity() >
                              project->target_quantity() +
                                  Tolerance(project->target_quantity()));
}

absl::Status Cancelled(const Project& project, absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("project ", project.id(), " is CANCELLED (",
                   project.cancel_reason(), "); it ", what));
}

// Writes `changed` over `current`, read with its `lineage`. A write that
// slipped in after the read makes this one lose the race: with an etag from
// the caller (`caller_etag`) that is the caller's conflict, without one the
// change is worth redoing from a fresh read.
WriteAttempt<Project> WriteOver(ProjectsStore* store, const Project& changed,
                                const Project& current,
                                const std::vector<std::string>& lineage,
                                absl::string_view caller_etag) {
  absl::StatusOr<Project> stored =
      store->UpdateProject(changed, current.etag(), LineagePath(lineage));
  const bool lost_race =
      absl::IsAborted(stored.status()) && caller_etag.empty();
  return {std::move(stored), lost_race};
}

// "village/id" of the last project of a page; ids hold no '/'.
std::string ProjectPosition(const Project& project) {
  return absl::StrCat(project.village_id(), "/", project.id());
}

}  // namespace

bool Reached(double delivered, double target) {
  return delivered >= target - Tolerance(target);
}

ProjectStatus DerivedStatus(int64_t reports, double delivered, double target) {
  if (reports == 0) return v1::PLANNED;
  return Reached(delivered, target) ? v1::DELIVERED : v1::IN_PROGRESS;
}

// --- Field rules -------------------------------------------------------------

absl::Status ProjectTracker::ValidateProjectFields(const Project& project,
                                                   absl::string_view field,
                                                   bool start_date_required) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateId(f + ".village_id", project.village_id()));
  RETURN_IF_ERROR(ValidateText(f + ".title", project.title(), 1, 200));
  RETURN_IF_ERROR(ValidateText(f + ".title_en", project.title_en(), 0, 200));
  if (project.star() == fivestar::common::v1::STAR_UNSPECIFIED) {
    return FieldError(f + ".star",
                      "required: BRANCH_STRONG, INDUSTRY_THRIVING, "
                      "ECO_LIVABLE, SAFE_LAWFUL or CIVILIZED_HAPPY");
  }
  if (!fivestar::common::v1::Star_IsValid(project.star())) {
    return FieldError(f + ".star",
                      absl::StrCat("unknown value ", project.star()));
  }
  if (std::isfinite(project.target_quantity()) &&
      project.target_quantity() <= 0) {
    return FieldError(f + ".target_quantity",
                      absl::StrCat("must be > 0, got ",
                                   FormatNumber(project.target_quantity())));
  }
  RETURN_IF_ERROR(ValidateNumber(f + ".target_quantity",
                                 project.target_quantity(), 0, kMaxQuantity));
  RETURN_IF_ERROR(ValidateText(f + ".unit", project.unit(), 1, 32));
  std::optional<absl::CivilDay> start;
  if (!project.start_date().empty() || start_date_required) {
    ASSIGN_OR_RETURN(start, ParseDate(f + ".start_date", project.start_date()));
  }
  if (project.due_date().empty())
    return FieldError(f + ".due_date", "required");
  ASSIGN_OR_RETURN(absl::CivilDay due,
                   ParseDate(f + ".due_date", project.due_date()));
  if (start.has_value() && due < *start) {
    return FieldError(
        f + ".due_date",
        absl::StrCat("must not be before start_date ", project.start_date(),
                     ", got ", project.due_date()));
  }
  return ValidateText(f + ".owner", project.owner(), 0, 100);
}

absl::Status ProjectTracker::ValidateReportFields(const ProgressReport& report,
                                                  absl::string_view field) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateNumber(f + ".quantity", report.quantity(),
                                 -kMaxQuantity, kMaxQuantity));
  RETURN_IF_ERROR(ValidateText(f + ".note", report.note(), 0, 1000));
  if (report.quantity() == 0 && report.note().empty()) {
    return FieldError(f + ".note",
                      "required when quantity is 0 (a progress note)");
  }
  if (!report.request_id().empty()) {
    RETURN_IF_ERROR(ValidateRequestId(f + ".request_id", report.request_id()));
  }
  if (report.has_report_time()) {
    RETURN_IF_ERROR(
        ValidateTimestamp(f + ".report_time", report.report_time()).status());
  }
  return absl::OkStatus();
}

// --- Helpers -----------------------------------------------------------------

Project ProjectTracker::Decorate(Project project) const {
  const std::string today = FormatDate(DayInChina(clock_->Now()));
  project.set_overdue(
      project.due_date() < today &&
      (project.status() == v1::PLANNED || project.status() == v1::IN_PROGRESS));
  return project;
}

std::string ProjectTracker::ProjectFingerprint(const Project& project) {
  return Fingerprint(ClientFields(project));
}

std::string ProjectTracker::ReportFingerprint(const ProgressReport& report) {
  // The project is compared on its own: import records carry no project id.
  ProgressReport essentials;
  essentials.set_quantity(report.quantity());
  essentials.set_note(report.note());
  if (report.has_report_time()) {
    *essentials.mutable_report_time() = report.report_time();
  }
  return Fingerprint(essentials);
}

absl::StatusOr<Timestamp> ProjectTracker::EffectiveReportTime(
    const ProgressReport& report, const Project& project,
    absl::string_view field) const {
  const absl::Time now = clock_->Now();
  if (!report.has_report_time()) {
    return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  }
  const std::string f = absl::StrCat(field, ".report_time");
  ASSIGN_OR_RETURN(absl::Time time, ValidateTimestamp(f, report.report_time()));
  if (time < StartOfDay(kFirstDay)) {
    return FieldError(f, "must not be before 2000-01-01");
  }
  if (time > now + kReportClockSkew) {
    return FieldError(f, absl::StrCat("must not be more than 5 minutes in the "
                                      "future, got ",
                                      absl::FormatTime(time)));
  }
  ASSIGN_OR_RETURN(absl::CivilDay start,
                   ParseDate("project.start_date", project.start_date()));
  if (time < StartOfDay(start)) {
    return FieldError(f, absl::StrCat("must not be before the project's "
                                      "start_date ",
                                      project.start_date(), " (China time)"));
  }
  return report.report_time();
}

absl::StatusOr<Project> ProjectTracker::WithReport(const Project& project,
                                                   const ProgressReport& report,
                                                   absl::string_view field) {
  Project updated = project;
  double delivered = project.delivered_quantity() + report.quantity();
  if (delivered < 0) {
    if (delivered < -Tolerance(project.target_quantity())) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ".quantity: ", FormatNumber(report.quantity()),
                       " would take the delivered total of project ",
                       project.id().empty() ? "(new)" : project.id(), " from ",
                       FormatNumber(project.delivered_quantity()), " to ",
                       FormatNumber(delivered), "; it may never go below 0"));
    }
    delivered = 0;  // Rounding residue of a correction to exactly zero.
  }
  updated.set_delivered_quantity(delivered);
  updated.set_report_count(project.report_count() + 1);
  if (!project.has_last_report_time() ||
      TimeUtil::TimestampToNanoseconds(report.report_time()) >
          TimeUtil::TimestampToNanoseconds(project.last_report_time())) {
    *updated.mutable_last_report_time() = report.report_time();
  }
  Rederive(&updated);
  return updated;
}

absl::StatusOr<std::vector<std::string>> ProjectTracker::AuthorizeProjectChange(
    const Principal& principal, const Project& project,
    absl::string_view what) {
  return jurisdiction_->AuthorizeVillage(principal, Role::kOperator,
                                         project.village_id(), "", what);
}

absl::StatusOr<Project> ProjectTracker::ProjectFor(const Principal& principal,
                                                   Role role,
                                                   const std::string& id,
                                                   absl::string_view what) {
  absl::StatusOr<Project> project = store_->GetProject(id);
  RETURN_IF_ERROR(ConcealAbsence(principal, role, project.status(), what));
  return project;
}

absl::Status ProjectTracker::AuthorizeEarlierProject(
    const Principal& principal, Role role, const std::string& project_id,
    absl::string_view what) {
  if (principal.is_global()) return absl::OkStatus();
  ASSIGN_OR_RETURN(Project earlier,
                   ProjectFor(principal, role, project_id, what));
  return jurisdiction_
      ->AuthorizeVillage(principal, role, earlier.village_id(), "", what)
      .status();
}

// --- Projects ----------------------------------------------------------------

absl::StatusOr<Project> ProjectTracker::CreateProject(
    const Principal& principal, const v1::CreateProjectRequest& request) {
  const Project& project = request.project();
  RETURN_IF_ERROR(ValidateProjectFields(project, "project",
                                        /*start_date_required=*/false));
  if (!request.request_id().empty()) {
    RETURN_IF_ERROR(ValidateRequestId("request_id", request.request_id()));
  }
  ASSIGN_OR_RETURN(
      std::vector<std::string> lineage,
      jurisdiction_->AuthorizeVillage(
          principal, Role::kOperator, project.village_id(),
          "project.village_id",
          absl::StrCat("create projects in village ", project.village_id())));
  const RequestKey key{request.request_id(), ProjectFingerprint(project)};
  Project fresh = ClientFields(project);
  if (fresh.start_date().empty()) {
    fresh.set_start_date(FormatDate(DayInChina(clock_->Now())));
  }
  fresh.set_status(v1::PLANNED);
  ASSIGN_OR_RETURN(
      Project created,
      CreateOncePerRequestId<Project>(
          key.request_id, key.fingerprint,
          [&] { return store_->FindProjectByRequest(key.request_id); },
          [&](const Project& earlier) {
            // Another village's project is not named to a caller it lies
            // outside the scope of.
            if (absl::Status status = AuthorizeEarlierProject(
                    principal, Role::kOperator, earlier.id(),
                    absl::StrCat("use request_id ", key.request_id));
                !status.ok()) {
              return status;
            }
            return absl::AlreadyExistsError(
                absl::StrCat("request_id ", key.request_id,
                             " was already used to create project ",
                             earlier.id(), " with different content"));
          },
          [&] {
            return store_->CreateProject(fresh, key, LineagePath(lineage));
          }));
  return Decorate(std::move(created));
}

absl::StatusOr<Project> ProjectTracker::GetProject(const Principal& principal,
                                                   const std::string& id) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("read project ", id);
  ASSIGN_OR_RETURN(Project project,
                   ProjectFor(principal, Role::kViewer, id, what));
  RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
      principal, project.village_id(), what));
  return Decorate(std::move(project));
}

absl::Mutex* ProjectTracker::WriteStripe(const std::string& project_id) {
  return &write_stripes_[absl::HashOf(project_id) % write_stripes_.size()];
}

absl::StatusOr<Project> ProjectTracker::UpdateProject(
    const Principal& principal, const Project& project,
    const FieldMask& update_mask) {
  RETURN_IF_ERROR(ValidateId("project.id", project.id()));
  absl::MutexLock same_project(WriteStripe(project.id()));
  auto attempt = [&]() -> WriteAttempt<Project> {
    const std::string what = absl::StrCat("update project ", project.id());
    ASSIGN_OR_RETURN(Project current, ProjectFor(principal, Role::kOperator,
                                                 project.id(), what));
    ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                     AuthorizeProjectChange(principal, current, what));
    RETURN_IF_ERROR(
        CheckEtag("project", project.id(), project.etag(), current.etag()));
    if (current.status() == v1::CANCELLED) {
      return Cancelled(current, "can no longer change");
    }
    Project updated = current;
    RETURN_IF_ERROR(ApplyUpdateMask(update_mask, ProjectMutableFields(),
                                    project, &updated));
    RETURN_IF_ERROR(ValidateProjectFields(updated, "project",
                                          /*start_date_required=*/true));
    if (updated.start_date() > current.start_date()) {
      ASSIGN_OR_RETURN(std::optional<absl::Time> earliest,
                       store_->EarliestReportTime(current.id()));
      if (earliest.has_value() &&
          FormatDate(DayInChina(*earliest)) < updated.start_date()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "project.start_date: ", updated.start_date(),
            " falls after the project's first progress report, dated ",
            FormatDate(DayInChina(*earliest))));
      }
    }
    Rederive(&updated);
    return WriteOver(store_, updated, current, lineage, project.etag());
  };
  ASSIGN_OR_RETURN(Project stored,
                   RetryLostRaces<Project>(kWriteAttempts, attempt));
  return Decorate(std::move(stored));
}

absl::Status ProjectTracker::DeleteProject(const Principal& principal,
                                           const std::string& id,
                                           const std::string& etag) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("delete project ", id);
  ASSIGN_OR_RETURN(Project current,
                   ProjectFor(principal, Role::kOperator, id, what));
  ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                   AuthorizeProjectChange(principal, current, what));
  return store_->DeleteProject(id, etag, LineagePath(lineage));
}

absl::StatusOr<Project> ProjectTracker::CancelProject(
    const Principal& principal, const v1::CancelProjectRequest& request) {
  RETURN_IF_ERROR(ValidateId("id", request.id()));
  RETURN_IF_ERROR(ValidateText("reason", request.reason(), 1, 500));
  absl::MutexLock same_project(WriteStripe(request.id()));
  auto attempt = [&]() -> WriteAttempt<Project> {
    const std::string what = absl::StrCat("cancel project ", request.id());
    ASSIGN_OR_RETURN(Project current, ProjectFor(principal, Role::kOperator,
                                                 request.id(), what));
    ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                     AuthorizeProjectChange(principal, current, what));
    RETURN_IF_ERROR(
        CheckEtag("project", request.id(), request.etag(), current.etag()));
    if (current.status() == v1::CANCELLED) {
      return Cancelled(current, "cannot be cancelled twice");
    }
    if (current.status() == v1::DELIVERED) {
      return absl::FailedPreconditionError(
          absl::StrCat("project ", request.id(),
                       " is DELIVERED; a delivered task cannot be cancelled"));
    }
    Project cancelled = current;
    cancelled.set_status(v1::CANCELLED);
    cancelled.set_cancel_reason(request.reason());
    *cancelled.mutable_cancel_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock_->Now()));
    return WriteOver(store_, cancelled, current, lineage, request.etag());
  };
  ASSIGN_OR_RETURN(Project stored,
                   RetryLostRaces<Project>(kWriteAttempts, attempt));
  return Decorate(std::move(stored));
}

absl::StatusOr<v1::ListProjectsResponse> ProjectTracker::ListProjects(
    const Principal& principal, const v1::ListProjectsRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  if (!fivestar::common::v1::Star_IsValid(request.star())) {
    return FieldError("star", absl::StrCat("unknown value ", request.star()));
  }
  if (!v1::ProjectStatus_IsValid(request.status())) {
    return FieldError("status",
                      absl::StrCat("unknown value ", request.status()));
  }
  VillageFilter filter;
  filter.village_id = request.village_id();
  filter.region_id = request.ancestor_region_id();
  ASSIGN_OR_RETURN(
      std::optional<std::vector<std::string>> villages,
      jurisdiction_->VisibleVillages(principal, filter, "list projects"));
  ASSIGN_OR_RETURN(
      std::string after,
      pager.Resume(
          request.page_token(),
          absl::StrCat("projects|", request.village_id(), "|",
                       request.ancestor_region_id(), "|", request.star(), "|",
                       request.status(), "|", request.overdue_only())));
  v1::ListProjectsResponse response;
  if (villages.has_value() && villages->empty()) return response;
  ProjectQuery query;
  query.village_ids = std::move(villages);
  query.star = request.star();
  query.status = request.status();
  if (request.overdue_only()) {
    query.overdue_on = FormatDate(DayInChina(clock_->Now()));
  }
  if (!after.empty()) {
    std::pair<std::string, std::string> position =
        absl::StrSplit(after, absl::MaxSplits('/', 1));
    query.after_village_id = std::move(position.first);
    query.after_id = std::move(position.second);
  }
  query.limit = pager.fetch_limit();
  ASSIGN_OR_RETURN(std::vector<Project> projects, store_->ListProjects(query));
  response.set_next_page_token(pager.Trim(projects, ProjectPosition));
  for (Project& project : projects) {
    *response.add_projects() = Decorate(std::move(project));
  }
  return response;
}

// --- Progress reports --------------------------------------------------------

absl::StatusOr<v1::CreateProgressReportResponse>
ProjectTracker::CreateProgressReport(const Principal& principal,
                                     const ProgressReport& report) {
  RETURN_IF_ERROR(ValidateId("report.project_id", report.project_id()));
  RETURN_IF_ERROR(ValidateReportFields(report, "report"));
  const RequestKey key{report.request_id(), ReportFingerprint(report)};
  absl::MutexLock same_project(WriteStripe(report.project_id()));
  auto attempt = [&]() -> WriteAttempt<v1::CreateProgressReportResponse> {
    const std::string what =
        absl::StrCat("report progress on project ", report.project_id());
    ASSIGN_OR_RETURN(Project project, ProjectFor(principal, Role::kReporter,
                                                 report.project_id(), what));
    ASSIGN_OR_RETURN(
        std::vector<std::string> lineage,
        jurisdiction_->AuthorizeVillage(principal, Role::kReporter,
                                        project.village_id(), "", what));
    v1::CreateProgressReportResponse response;
    // A retry returns the original even when the project has since changed
    // (or been cancelled): the report it asks for exists.
    if (!key.request_id.empty()) {
      absl::StatusOr<std::pair<ProgressReport, std::string>> earlier =
          store_->FindReportByRequest(key.request_id);
      if (earlier.ok()) {
        if (earlier->first.project_id() != project.id() ||
            earlier->second != key.fingerprint) {
          // A report on another village's project is not named to a
          // caller it lies outside the scope of.
          if (earlier->first.project_id() != project.id()) {
            RETURN_IF_ERROR(AuthorizeEarlierProject(
                principal, Role::kReporter, earlier->first.project_id(),
                absl::StrCat("use report.request_id ", key.request_id)));
          }
          return absl::AlreadyExistsError(absl::StrCat(
              "report.request_id: ", key.request_id,
              " was already used for report ", earlier->first.id(),
              " with a different project, quantity, note or report_time"));
        }
        *response.mutable_report() = std::move(earlier->first);
        *response.mutable_project() = Decorate(std::move(project));
        return response;
      }
      if (!absl::IsNotFound(earlier.status())) return earlier.status();
    }
    if (project.status() == v1::CANCELLED) {
      return Cancelled(project, "takes no new progress reports");
    }
    ProgressReport fresh;
    fresh.set_project_id(project.id());
    fresh.set_quantity(report.quantity());
    fresh.set_note(report.note());
    fresh.set_reporter(principal.name);
    fresh.set_request_id(report.request_id());
    ASSIGN_OR_RETURN(*fresh.mutable_report_time(),
                     EffectiveReportTime(report, project, "report"));
    ASSIGN_OR_RETURN(Project updated, WithReport(project, fresh, "report"));
    absl::StatusOr<AppendedReport> appended = store_->AppendReport(
        fresh, key, updated, project.etag(), LineagePath(lineage));
    if (!appended.ok()) {
      // Lost a race with another write to the project (ABORTED) or with a
      // first use of the same request_id (ALREADY_EXISTS): read again.
      const bool lost_race = absl::IsAborted(appended.status()) ||
                             absl::IsAlreadyExists(appended.status());
      return {appended.status(), lost_race};
    }
    *response.mutable_report() = std::move(appended->report);
    *response.mutable_project() = Decorate(std::move(appended->project));
    return response;
  };
  return RetryLostRaces<v1::CreateProgressReportResponse>(kWriteAttempts,
                                                          attempt);
}

void ProjectTracker::CreateProgressReportAsync(
    const Principal& principal, const ProgressReport& report,
    Executor* executor,
    std::function<void(absl::StatusOr<v1::CreateProgressReportResponse>)>
        done) {
  auto fail = [&](const absl::Status& status) { done(status); };
  if (absl::Status status =
          ValidateId("report.project_id", report.project_id());
      !status.ok()) {
    return fail(status);
  }
  if (absl::Status status = ValidateReportFields(report, "report");
      !status.ok()) {
    return fail(status);
  }
  const RequestKey key{report.request_id(), ReportFingerprint(report)};
  if (!key.request_id.empty()) {
    // A retry (or an error looking for one) takes the synchronous path,
    // which answers it exactly as before.
    absl::StatusOr<std::pair<ProgressReport, std::string>> earlier =
        store_->FindReportByRequest(key.request_id);
    if (!absl::IsNotFound(earlier.status())) {
      return done(CreateProgressReport(principal, report));
    }
  }
  const std::string what =
      absl::StrCat("report progress on project ", report.project_id());
  absl::StatusOr<Project> project =
      ProjectFor(principal, Role::kReporter, report.project_id(), what);
  if (!project.ok()) return fail(project.status());
  absl::StatusOr<std::vector<std::string>> lineage =
      jurisdiction_->AuthorizeVillage(principal, Role::kReporter,
                                      project->village_id(), "", what);
  if (!lineage.ok()) return fail(lineage.status());
  if (project->status() == v1::CANCELLED) {
    return fail(Cancelled(*project, "takes no new progress reports"));
  }
  // The checks of the report against its project are made again inside
  // the write, on the project as stored then.
  ProgressReport fresh;
  fresh.set_project_id(project->id());
  fresh.set_quantity(report.quantity());
  fresh.set_note(report.note());
  fresh.set_reporter(principal.name);
  fresh.set_request_id(report.request_id());
  if (absl::Status status =
          EffectiveReportTime(report, *project, "report").status();
      !status.ok()) {
    return fail(status);
  }
  auto apply = [this, report, fresh](const Project& current)
      -> absl::StatusOr<std::pair<ProgressReport, Project>> {
    if (current.status() == v1::CANCELLED) {
      return Cancelled(current, "takes no new progress reports");
    }
    ProgressReport timed = fresh;
    ASSIGN_OR_RETURN(*timed.mutable_report_time(),
                     EffectiveReportTime(report, current, "report"));
    ASSIGN_OR_RETURN(Project updated, WithReport(current, timed, "report"));
    return std::make_pair(std::move(timed), std::move(updated));
  };
  store_->AppendReportAsync(
      project->id(), key, LineagePath(*lineage), std::move(apply),
      [this, principal, report, executor,
       done](absl::StatusOr<AppendedReport> appended) {
        if (absl::IsAlreadyExists(appended.status())) {
          // A concurrent first use of the same request_id: answer as the
          // synchronous path does, off this (the writing) thread.
          executor->Submit([this, principal, report, done] {
            done(CreateProgressReport(principal, report));
          });
          return;
        }
        if (!appended.ok()) return done(appended.status());
        v1::CreateProgressReportResponse response;
        *response.mutable_report() = std::move(appended->report);
        *response.mutable_project() = Decorate(std::move(appended->project));
        done(std::move(response));
      });
}

absl::StatusOr<v1::ListProgressReportsResponse>
ProjectTracker::ListProgressReports(
    const Principal& principal, const v1::ListProgressReportsRequest& request) {
  RETURN_IF_ERROR(ValidateId("project_id", request.project_id()));
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  const std::string what =
      absl::StrCat("read the reports of project ", request.project_id());
  ASSIGN_OR_RETURN(Project project, ProjectFor(principal, Role::kViewer,
                                               request.project_id(), what));
  RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
      principal, project.village_id(), what));
  ASSIGN_OR_RETURN(
      std::string after,
      pager.Resume(request.page_token(),
                   absl::StrCat("reports|", request.project_id())));
  int64_t after_position = 0;
  if (!after.empty() && !absl::SimpleAtoi(after, &after_position)) {
    return FieldError("page_token", "is not a token this server issued");
  }
  ASSIGN_OR_RETURN(
      std::vector<RecordedReport> reports,
      store_->ListReports(project.id(), after_position, pager.fetch_limit()));
  v1::ListProgressReportsResponse response;
  response.set_next_page_token(
      pager.Trim(reports, [](const RecordedReport& recorded) {
        return absl::StrCat(recorded.position);
      }));
  for (RecordedReport& recorded : reports) {
    *response.add_reports() = std::move(recorded.report);
  }
  return response;
}

// --- Import ------------------------------------------------------------------

namespace {

// Staged records planned and written per batch when an import is applied:
// the memory an import holds at once.
constexpr int kImportBatch = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<ProjectImport>> ProjectTracker::StartImport(
    const Principal& principal) {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kAdmin, "import projects"));
  ASSIGN_OR_RETURN(std::unique_ptr<ImportStage> stage, ImportStage::Open());
  return std::unique_ptr<ProjectImport>(
      new ProjectImport(this, principal, std::move(stage)));
}

absl::Status ProjectImport::StageRecord(const v1::ProjectRecord& record,
                                        int64_t index) {
  const std::string field = absl::StrCat("records[", index, "]");
  RETURN_IF_ERROR(ValidateRequestId(field + ".key", record.key()));
  RETURN_IF_ERROR(ProjectTracker::ValidateProjectFields(
      record.project(), field + ".project", /*start_date_required=*/false));
  if (record.reports_size() > kMaxReportsPerRecord) {
    return FieldError(field + ".reports",
                      absl::StrCat("at most ", kMaxReportsPerRecord,
                                   " per record, got ", record.reports_size()));
  }
  for (int j = 0; j < record.reports_size(); ++j) {
    const std::string report_field = absl::StrCat(field, ".reports[", j, "]");
    const ProgressReport& report = record.reports(j);
    RETURN_IF_ERROR(
        ValidateRequestId(report_field + ".request_id", report.request_id()));
    RETURN_IF_ERROR(ProjectTracker::ValidateReportFields(report, report_field));
  }
  // Repeated keys: after the field rules, so that a key is staged only for
  // a record that passed them.
  ASSIGN_OR_RETURN(std::optional<int64_t> earlier,
                   stage_->AddRecord(index, record));
  if (earlier.has_value()) {
    return FieldError(
        field + ".key",
        absl::StrCat("\"", record.key(), "\" already appears at records[",
                     *earlier, "]"));
  }
  for (int j = 0; j < record.reports_size(); ++j) {
    const ProgressReport& report = record.reports(j);
    ASSIGN_OR_RETURN(auto seen,
                     stage_->AddReportKey(report.request_id(), index, j));
    if (seen.has_value()) {
      return FieldError(
          absl::StrCat(field, ".reports[", j, "].request_id"),
          absl::StrCat("\"", report.request_id(),
                       "\" already appears at records[", seen->first,
                       "].reports[", seen->second, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ProjectImport::Add(const v1::ImportProjectsRequest& chunk) {
  if (!first_chunk_seen_) {
    first_chunk_seen_ = true;
    validate_only_ = chunk.validate_only();
  }
  RETURN_IF_ERROR(CheckImportSize(records_received_, chunk.records_size(),
                                  tracker_->max_import_records_));
  RETURN_IF_ERROR(stage_->BeginChunk());
  // The first record that breaks a rule ends the chunk; the villages of the
  // records before it are still checked, since one of them may fail first.
  absl::Status record_error;
  // The villages of the chunk not yet checked by this import, each with the
  // field of its first record.
  std::vector<std::string> villages;
  std::vector<std::string> fields;
  absl::flat_hash_set<std::string> seen;
  for (const v1::ProjectRecord& record : chunk.records()) {
    const int64_t index = records_received_++;
    record_error = StageRecord(record, index);
    if (!record_error.ok()) break;
    const std::string& village_id = record.project().village_id();
    if (!seen.insert(village_id).second) continue;
    ASSIGN_OR_RETURN(std::optional<std::string> path,
                     stage_->VillagePath(village_id));
    if (path.has_value()) continue;
    villages.push_back(village_id);
    fields.push_back(absl::StrCat("records[", index, "].project.village_id"));
  }
  if (!villages.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> lineages,
                     tracker_->jurisdiction_->AuthorizeVillages(
                         principal_, Role::kAdmin, villages, fields,
                         "import projects into village"));
    for (size_t i = 0; i < villages.size(); ++i) {
      RETURN_IF_ERROR(
          stage_->AddVillage(villages[i], LineagePath(lineages[i])));
    }
  }
  RETURN_IF_ERROR(record_error);
  return stage_->EndChunk();
}

absl::StatusOr<std::vector<ImportedProject>> ProjectImport::Plan(
    const std::vector<ImportStage::StagedRecord>& batch,
    ProjectImportCounts* counts) {
  ProjectsStore* store = tracker_->store_;
  ProjectImportCounts& tally = *counts;
  std::vector<std::string> keys;
  std::vector<std::string> report_ids;
  for (const ImportStage::StagedRecord& staged : batch) {
    keys.push_back(staged.record.key());
    for (const ProgressReport& report : staged.record.reports()) {
      report_ids.push_back(report.request_id());
    }
  }
  ASSIGN_OR_RETURN(auto existing_projects, store->FindProjectsByRequests(keys));
  ASSIGN_OR_RETURN(auto existing_reports,
                   store->FindReportsByRequests(report_ids));
  const std::string today = FormatDate(DayInChina(tracker_->clock_->Now()));

  std::vector<ImportedProject> plan;
  for (const ImportStage::StagedRecord& staged : batch) {
    const v1::ProjectRecord& record = staged.record;
    const std::string field = absl::StrCat("records[", staged.index, "]");
    const std::string& village_id = record.project().village_id();

    ImportedProject imported;
    imported.village_path = staged.village_path;
    imported.key.request_id = record.key();
    const std::string fingerprint =
        ProjectTracker::ProjectFingerprint(record.project());
    auto existing = existing_projects.find(record.key());
    Project project;
    if (existing == existing_projects.end()) {
      project = ClientFields(record.project());
      if (project.start_date().empty()) project.set_start_date(today);
      project.set_status(v1::PLANNED);
      imported.project_changed = true;
      imported.key.fingerprint = fingerprint;
      ++tally.projects_created;
    } else {
      const Project& current = existing->second.first;
      if (current.village_id() != village_id) {
        // Another village's project is not named to a caller it lies
        // outside the scope of.
        RETURN_IF_ERROR(tracker_->AuthorizeEarlierProject(
            principal_, Role::kAdmin, current.id(),
            absl::StrCat("use key ", record.key())));
        return FieldError(
            field + ".project.village_id",
            absl::StrCat("the project with key ", record.key(), " (",
                         current.id(), ") belongs to village ",
                         current.village_id(),
                         "; a project's village cannot change"));
      }
      project = WithMutableFields(current, record.project());
      imported.expected_etag = current.etag();
      imported.project_changed = ClientFields(project).SerializeAsString() !=
                                 ClientFields(current).SerializeAsString();
      if (imported.project_changed) {
        if (current.status() == v1::CANCELLED) {
          return absl::FailedPreconditionError(absl::StrCat(
              field, ": project ", current.id(), " (key ", record.key(),
              ") is CANCELLED and can no longer change"));
        }
        if (project.start_date() > current.start_date()) {
          ASSIGN_OR_RETURN(std::optional<absl::Time> earliest,
                           store->EarliestReportTime(current.id()));
          if (earliest.has_value() &&
              FormatDate(DayInChina(*earliest)) < project.start_date()) {
            return absl::FailedPreconditionError(absl::StrCat(
                field, ".project.start_date: ", project.start_date(),
                " falls after the first progress report of project ",
                current.id()));
          }
        }
        imported.key.fingerprint = fingerprint;
        ++tally.projects_updated;
      } else {
        ++tally.projects_unchanged;
      }
    }
    RETURN_IF_ERROR(ProjectTracker::ValidateProjectFields(
        project, field + ".project", /*start_date_required=*/true));
    Rederive(&project);

    for (int j = 0; j < record.reports_size(); ++j) {
      const std::string report_field = absl::StrCat(field, ".reports[", j, "]");
      const ProgressReport& report = record.reports(j);
      const std::string report_fingerprint =
          ProjectTracker::ReportFingerprint(report);
      auto recorded = existing_reports.find(report.request_id());
      if (recorded != existing_reports.end()) {
        const ProgressReport& earlier = recorded->second.first;
        if (earlier.project_id() != project.id() ||
            report_fingerprint != recorded->second.second) {
          if (earlier.project_id() != project.id()) {
            RETURN_IF_ERROR(tracker_->AuthorizeEarlierProject(
                principal_, Role::kAdmin, earlier.project_id(),
                absl::StrCat("use request_id ", report.request_id())));
          }
          return FieldError(
              report_field,
              absl::StrCat("a report with request_id ", report.request_id(),
                           " exists with other content or on another "
                           "project; reports are append-only"));
        }
        ++tally.reports_unchanged;
        continue;
      }
      if (project.status() == v1::CANCELLED) {
        return absl::FailedPreconditionError(absl::StrCat(
            report_field, ": project ", project.id(), " (key ", record.key(),
            ") is CANCELLED and takes no new progress reports"));
      }
      ProgressReport fresh;
      fresh.set_quantity(report.quantity());
      fresh.set_note(report.note());
      fresh.set_reporter(principal_.name);
      fresh.set_request_id(report.request_id());
      ASSIGN_OR_RETURN(
          *fresh.mutable_report_time(),
          tracker_->EffectiveReportTime(report, project, report_field));
      absl::StatusOr<Project> with_report =
          ProjectTracker::WithReport(project, fresh, report_field);
      if (!with_report.ok()) {
        return absl::InvalidArgumentError(with_report.status().message());
      }
      project = *std::move(with_report);
      imported.new_reports.emplace_back(std::move(fresh), report_fingerprint);
      ++tally.reports_created;
    }
    if (!imported.project_changed && imported.new_reports.empty()) continue;
    imported.project = std::move(project);
    plan.push_back(std::move(imported));
  }
  return plan;
}

absl::StatusOr<ProjectImportCounts> ProjectImport::Finish(
    const std::function<bool()>& cancelled) {
  auto check_call = [&]() -> absl::Status {
    if (cancelled && cancelled()) {
      return absl::CancelledError(
          "import abandoned (the call was cancelled or ran out of deadline "
          "before the import was written); nothing was written");
    }
    return absl::OkStatus();
  };
  // Planned first, outside the writer (reading the stored projects a batch
  // at a time), so that the writer is held only for the writes; the store
  // checks in its transaction that nothing planned against changed since.
  ProjectImportCounts counts;
  int64_t after = -1;
  while (true) {
    RETURN_IF_ERROR(check_call());
    ASSIGN_OR_RETURN(std::vector<ImportStage::StagedRecord> batch,
                     stage_->ReadRecords(after, kImportBatch));
    if (batch.empty()) break;
    after = batch.back().index;
    ASSIGN_OR_RETURN(std::vector<ImportedProject> planned,
                     Plan(batch, &counts));
    if (!validate_only_) RETURN_IF_ERROR(stage_->AddPlanned(planned));
  }
  if (validate_only_) return counts;
  int64_t next_planned = 0;
  RETURN_IF_ERROR(tracker_->store_->ApplyImportBatches(
      [&]() -> absl::StatusOr<std::optional<std::vector<ImportedProject>>> {
        RETURN_IF_ERROR(check_call());
        ASSIGN_OR_RETURN(std::vector<ImportedProject> batch,
                         stage_->ReadPlanned(next_planned, kImportBatch));
        if (batch.empty()) {
          return std::optional<std::vector<ImportedProject>>();
        }
        next_planned += static_cast<int64_t>(batch.size());
        return std::optional<std::vector<ImportedProject>>(std::move(batch));
      }));
  return counts;
}

}  // namespace fivestar::projects
