#include "tools/cli/projects_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/calendar.h"
#include "common/status.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/ordered_batches.h"
#include "tools/cli/output.h"

ABSL_DECLARE_FLAG(bool, validate_only);
ABSL_DECLARE_FLAG(std::string, ancestor);

ABSL_FLAG(std::string, village, "",
          "list-projects, list-awards, list-award-events: only those of "
          "this village.");
ABSL_FLAG(std::string, star, "",
          "list-projects, list-awards: only those of this star; leaderboard, "
          "rank: the board of this star alone. One of branch_strong, "
          "industry_thriving, eco_livable, safe_lawful or civilized_happy.");
ABSL_FLAG(std::string, status, "",
          "list-projects: only projects in this status: planned, "
          "in_progress, delivered or cancelled.");
ABSL_FLAG(bool, overdue_only, false,
          "list-projects: only projects that are overdue now.");
ABSL_FLAG(std::string, note, "",
          "report-progress: what was done (required when the quantity is "
          "0). apply-award: the application's note.");
ABSL_FLAG(std::string, request_id, "",
          "report-progress, apply-award, record-award: idempotency key; a "
          "retry with the same key never counts twice.");
ABSL_FLAG(std::string, reason, "",
          "cancel-project: why the task is dropped; withdraw-award: why the "
          "award is withdrawn (required).");
ABSL_FLAG(std::string, period, "",
          "project-summary, village-summaries: the month the summaries end "
          "with, YYYY-MM; default: the current month (China time).");
ABSL_FLAG(bool, brief, false,
          "project-summary: one line (tasks, delivered, completion, "
          "reporting).");
ABSL_FLAG(uint64_t, after, 0,
          "watch-changes: print the changes after this sequence (0: from the "
          "beginning).");
ABSL_FLAG(bool, follow, false,
          "watch-changes: keep following new changes until interrupted, "
          "reconnecting after the last sequence seen.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(1),
          "watch-changes without --follow: the feed has no \"caught up\" "
          "marker, so stop once no change has arrived for this long.");

namespace fivestar::cli {
namespace {

using common::v1::Star;
using projects::v1::Change;
using projects::v1::IndicatorDefinition;
using projects::v1::Project;
using projects::v1::ProjectsService;
using projects::v1::Summary;
using Stub = ProjectsService::Stub;
using ImportProjectsCall = ImportCall<Stub, projects::v1::ImportProjectsRequest,
                                      projects::v1::ImportProjectsResponse>;

// Values per SetIndicatorValues call (the server takes up to 10,000).
constexpr int kValuesPerBatch = 1000;
// Reconnection backoff of watch-changes --follow.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

std::unique_ptr<Stub> NewStub(const Invocation& invocation) {
  return ProjectsService::NewStub(invocation.ProjectsChannel());
}

std::string StatusText(const Project& project) {
  std::string text = projects::v1::ProjectStatus_Name(project.status());
  if (project.overdue()) absl::StrAppend(&text, ", overdue");
  return text;
}

// "312 / 780 m".
std::string ProgressText(const Project& project) {
  return absl::StrCat(Quantity(project.delivered_quantity()), " / ",
                      Quantity(project.target_quantity()), " ", project.unit());
}

// One line per project; the village column only when the list spans
// villages.
std::string ProjectLine(const Project& project, bool with_village) {
  return absl::StrCat(
      absl::StrFormat("%-21s  ", project.id()),
      with_village ? absl::StrFormat("%-22s  ", project.village_id()) : "",
      absl::StrFormat("%-18s  %-20s  %-17s  %s", ProgressText(project),
                      StatusText(project),
                      common::v1::Star_Name(project.star()),
                      WithEnglish(project.title(), project.title_en())));
}

// Every page of the indicator catalogue.
absl::StatusOr<std::vector<IndicatorDefinition>> Catalogue(
    const Invocation& invocation, Stub& stub) {
  std::vector<IndicatorDefinition> definitions;
  RETURN_IF_ERROR(ForEachPage(
      invocation, stub, projects::v1::ListIndicatorDefinitionsRequest(),
      &Stub::ListIndicatorDefinitions,
      [&](const projects::v1::ListIndicatorDefinitionsResponse& page) {
        definitions.insert(definitions.end(), page.definitions().begin(),
                           page.definitions().end());
        return absl::OkStatus();
      }));
  return definitions;
}

}  // namespace

absl::Status ImportProjects(const Invocation& invocation) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input,
                   InputFile::Open(invocation.args()[0]));
  ImportSource source(input->name());
  const bool validate_only = absl::GetFlag(FLAGS_validate_only);

  ImportProjectsCall call(invocation, NewStub(invocation),
                          &Stub::ImportProjects);
  ASSIGN_OR_RETURN(
      projects::v1::ImportProjectsResponse done,
      StreamImport(invocation, input->stream(), validate_only, &source, &call));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(done);
  std::printf(
      "projects: created %lld, updated %lld, unchanged %lld; "
      "reports: created %lld, unchanged %lld%s\n",
      static_cast<long long>(done.projects_created()),
      static_cast<long long>(done.projects_updated()),
      static_cast<long long>(done.projects_unchanged()),
      static_cast<long long>(done.reports_created()),
      static_cast<long long>(done.reports_unchanged()),
      validate_only ? " (validate only: nothing was written)" : "");
  return absl::OkStatus();
}

namespace {

// Batches of set-indicators in flight at once: while the server writes one
// (it has one writer), it checks the next.
constexpr size_t kBatchesInFlight = 2;

// One batch of set-indicators: its values, the lines they came from, the
// SHA-256 input of their text, and once sent, its call.
struct ValueBatch {
  projects::v1::SetIndicatorValuesRequest request;
  std::unique_ptr<ImportSource> source;
  int first_line = 0;
  int last_line = 0;
  std::string content;

  grpc::ClientContext context;
  projects::v1::SetIndicatorValuesResponse response;
  grpc::Status status;
  absl::Notification done;
};

std::string ValueKey(const projects::v1::IndicatorValue& value) {
  return absl::StrCat(value.village_id(), "|", value.indicator_key(), "|",
                      value.period());
}

// Starts sending `batch` (its answer arrives in its fields, `done` then
// notified).
void SendValues(const Invocation& invocation, Stub& stub, bool validate_only,
                ValueBatch* batch) {
  batch->request.set_validate_only(validate_only);
  if (!validate_only) {
    // The same lines with the same text always get the same key, so a
    // re-run (or a retry after a lost answer) writes nothing twice; any
    // edit to the batch gives a new key.
    batch->request.set_request_id(
        absl::StrCat("indicators:", batch->first_line, "-", batch->last_line,
                     ":", Sha256Hex(batch->content).substr(0, 32)));
  }
  invocation.PrepareContext(&batch->context);
  stub.async()->SetIndicatorValues(&batch->context, &batch->request,
                                   &batch->response,
                                   [batch](grpc::Status status) {
                                     batch->status = std::move(status);
                                     batch->done.Notify();
                                   });
}

}  // namespace

absl::Status SetIndicators(const Invocation& invocation) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input,
                   InputFile::Open(invocation.args()[0]));
  const bool validate_only = absl::GetFlag(FLAGS_validate_only);
  std::unique_ptr<Stub> stub = NewStub(invocation);
  projects::v1::SetIndicatorValuesResponse total;
  int batches = 0;
  // Answered, counted and printed in file order. After a failure nothing
  // more is sent; the batches already in flight still end (each all or
  // nothing) and are reported, and the first failure in file order is the
  // command's.
  OrderedBatches<ValueBatch> sender(
      kBatchesInFlight,
      [&](ValueBatch& batch) {
        SendValues(invocation, *stub, validate_only, &batch);
      },
      [&](ValueBatch& batch) -> absl::Status {
        batch.done.WaitForNotification();
        if (!batch.status.ok()) {
          return batch.source->Locate(FromGrpcStatus(batch.status));
        }
        std::fprintf(stderr, "%s: lines %d-%d: %d values\n",
                     invocation.command().c_str(), batch.first_line,
                     batch.last_line, batch.request.values_size());
        ++batches;
        total.set_created(total.created() + batch.response.created());
        total.set_updated(total.updated() + batch.response.updated());
        total.set_unchanged(total.unchanged() + batch.response.unchanged());
        if (invocation.output() == OutputFormat::kJson) {
          return PrintJsonLine(batch.response);
        }
        return absl::OkStatus();
      });

  auto batch = std::make_unique<ValueBatch>();
  // The values' keys ("village|indicator|period"), to keep a key's writes
  // in file order across batches.
  absl::flat_hash_set<std::string> keys;
  NdjsonReader reader(input->stream(), input->name());
  while (reader.NextLine()) {
    if (batch->source == nullptr) {
      batch->source = std::make_unique<ImportSource>(input->name(), "values");
      batch->first_line = reader.line_number();
    }
    projects::v1::IndicatorValue* value = batch->request.add_values();
    if (absl::Status status = reader.Decode(value); !status.ok()) {
      RETURN_IF_ERROR(sender.FinishAll());
      return status;
    }
    keys.insert(ValueKey(*value));
    batch->source->AddRecord(reader.line_number());
    batch->last_line = reader.line_number();
    absl::StrAppend(&batch->content, reader.line(), "\n");
    if (batch->request.values_size() == kValuesPerBatch) {
      if (!sender.Send(std::move(batch), std::move(keys)).ok()) {
        return sender.FinishAll();
      }
      batch = std::make_unique<ValueBatch>();
      keys.clear();
    }
  }
  if (absl::Status status = reader.status(); !status.ok()) {
    RETURN_IF_ERROR(sender.FinishAll());
    return status;
  }
  if (batch->request.values_size() > 0) {
    sender.Send(std::move(batch), std::move(keys)).IgnoreError();
  }
  // The first failure, if any; every batch in flight ended and reported.
  RETURN_IF_ERROR(sender.FinishAll());
  if (batches == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(input->name(), ": no indicator values"));
  }
  if (invocation.output() == OutputFormat::kJson) return absl::OkStatus();
  std::printf("%d values %s: created %d, updated %d, unchanged %d%s\n",
              total.created() + total.updated() + total.unchanged(),
              validate_only ? "checked" : "set", total.created(),
              total.updated(), total.unchanged(),
              validate_only ? " (validate only: nothing was written)" : "");
  return absl::OkStatus();
}

absl::Status ListProjects(const Invocation& invocation) {
  projects::v1::ListProjectsRequest request;
  request.set_village_id(absl::GetFlag(FLAGS_village));
  request.set_ancestor_region_id(absl::GetFlag(FLAGS_ancestor));
  if (const std::string star = absl::GetFlag(FLAGS_star); !star.empty()) {
    ASSIGN_OR_RETURN(Star parsed, ParseStar("--star", star));
    request.set_star(parsed);
  }
  if (const std::string status = absl::GetFlag(FLAGS_status); !status.empty()) {
    ASSIGN_OR_RETURN(projects::v1::ProjectStatus parsed,
                     ParseEnumName<projects::v1::ProjectStatus>(
                         "--status", status, &projects::v1::ProjectStatus_Parse,
                         "planned, in_progress, delivered or cancelled"));
    request.set_status(parsed);
  }
  request.set_overdue_only(absl::GetFlag(FLAGS_overdue_only));
  return ForEachPage(
      invocation, *NewStub(invocation), request, &Stub::ListProjects,
      [&](const projects::v1::ListProjectsResponse& page) -> absl::Status {
        for (const Project& project : page.projects()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(project));
          } else {
            std::printf(
                "%s\n",
                ProjectLine(project, request.village_id().empty()).c_str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status GetProject(const Invocation& invocation) {
  projects::v1::GetProjectRequest request;
  request.set_id(invocation.args()[0]);
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  Project project;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->GetProject(&context, request, &project)));
  return PrintResource(invocation, project);
}

absl::Status ReportProgress(const Invocation& invocation) {
  const std::string& quantity_text = invocation.args()[1];
  double quantity = 0;
  if (!absl::SimpleAtod(quantity_text, &quantity) || !std::isfinite(quantity)) {
    return UsageError(absl::StrCat("<quantity>: must be a number, got \"",
                                   quantity_text, "\""));
  }
  projects::v1::CreateProgressReportRequest request;
  projects::v1::ProgressReport* report = request.mutable_report();
  report->set_project_id(invocation.args()[0]);
  report->set_quantity(quantity);
  report->set_note(absl::GetFlag(FLAGS_note));
  report->set_request_id(absl::GetFlag(FLAGS_request_id));
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  projects::v1::CreateProgressReportResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->CreateProgressReport(&context, request, &response)));
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(response);
  }
  const projects::v1::ProgressReport& recorded = response.report();
  const Project& project = response.project();
  const std::string note =
      recorded.note().empty() ? "" : absl::StrCat(" (", recorded.note(), ")");
  std::printf("report %s: %s%s %s at %s by %s%s\n", recorded.id().c_str(),
              recorded.quantity() > 0 ? "+" : "",
              Quantity(recorded.quantity()).c_str(), project.unit().c_str(),
              ChinaTimeText(recorded.report_time()).c_str(),
              recorded.reporter().c_str(), note.c_str());
  std::printf("project %s: %s delivered, %s\n", project.id().c_str(),
              ProgressText(project).c_str(), StatusText(project).c_str());
  return absl::OkStatus();
}

absl::Status CancelProject(const Invocation& invocation) {
  projects::v1::CancelProjectRequest request;
  request.set_id(invocation.args()[0]);
  request.set_reason(absl::GetFlag(FLAGS_reason));
  if (absl::StripAsciiWhitespace(request.reason()).empty()) {
    return UsageError("--reason is required");
  }
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  Project project;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->CancelProject(&context, request, &project)));
  return PrintResource(invocation, project);
}

namespace {

// GetSummary of `id` as a region, or else as a village.
absl::StatusOr<Summary> FetchSummary(const Invocation& invocation, Stub& stub,
                                     const std::string& id,
                                     const std::string& period) {
  projects::v1::GetSummaryRequest request;
  request.set_period(period);
  request.set_region_id(id);
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    Summary summary;
    absl::Status status =
        FromGrpcStatus(stub.GetSummary(&context, request, &summary));
    if (status.ok()) return summary;
    if (!absl::IsNotFound(status)) return status;
    request.set_village_id(id);  // Not a region: perhaps a village.
  }
  return absl::NotFoundError(
      absl::StrCat("no region or village ", id, " in the registry"));
}

void PrintSummaryText(const Summary& summary,
                      const std::vector<IndicatorDefinition>& catalogue) {
  const bool of_village = !summary.village_id().empty();
  std::printf(
      "%s %s, %s (as of %s UTC+8), %d village%s\n",
      of_village ? "village" : "region",
      of_village ? summary.village_id().c_str() : summary.region_id().c_str(),
      summary.period().c_str(), ChinaTimeText(summary.as_of_time()).c_str(),
      summary.villages(), summary.villages() == 1 ? "" : "s");
  std::printf("tasks (实事)      %lld total, %lld delivered: %s complete\n",
              static_cast<long long>(summary.tasks_total()),
              static_cast<long long>(summary.tasks_delivered()),
              Percent(summary.completion_rate()).c_str());
  std::printf(
      "                 %lld in progress, %lld planned, %lld overdue, "
      "%lld cancelled\n",
      static_cast<long long>(summary.tasks_in_progress()),
      static_cast<long long>(summary.tasks_planned()),
      static_cast<long long>(summary.tasks_overdue()),
      static_cast<long long>(summary.tasks_cancelled()));
  std::printf(
      "weekly reporting %s of village-weeks with a report (last %d "
      "weeks)\n",
      Percent(summary.weekly_reporting_compliance()).c_str(), summary.weeks());
  std::printf("by star\n");
  for (const projects::v1::StarCompletion& star :
       summary.completion_by_star()) {
    std::printf(
        "  %-17s  %s  %4lld tasks  %4lld delivered  %4lld cancelled  "
        "%7s\n",
        common::v1::Star_Name(star.star()).c_str(), StarNameZh(star.star()),
        static_cast<long long>(star.total()),
        static_cast<long long>(star.delivered()),
        static_cast<long long>(star.cancelled()), Percent(star.rate()).c_str());
  }
  if (summary.indicator_totals().empty()) {
    std::printf("indicators: no values in %s\n", summary.period().c_str());
    return;
  }
  if (summary.indicator_months() <= 1) {
    std::printf("indicators, %s\n", summary.period().c_str());
  } else {
    std::printf("indicators, %d months to %s\n", summary.indicator_months(),
                summary.period().c_str());
  }
  std::map<std::string, const IndicatorDefinition*> by_key;
  for (const IndicatorDefinition& definition : catalogue) {
    by_key[definition.key()] = &definition;
  }
  for (const projects::v1::IndicatorTotal& total : summary.indicator_totals()) {
    auto it = by_key.find(total.key());
    const IndicatorDefinition* definition =
        it == by_key.end() ? nullptr : it->second;
    const std::string value =
        absl::StrCat(Quantity(total.value()), " ",
                     definition == nullptr ? "" : definition->unit());
    std::printf("  %-28s %16s  %3d village%s  %s\n", total.key().c_str(),
                value.c_str(), total.villages_reporting(),
                total.villages_reporting() == 1 ? " " : "s",
                definition == nullptr ? "" : definition->name_zh().c_str());
  }
}

// --period, or the current month in China.
std::string PeriodFlag() {
  std::string period = absl::GetFlag(FLAGS_period);
  if (period.empty()) {
    period = absl::FormatTime("%Y-%m", absl::Now(), ChinaStandardTime());
  }
  return period;
}

// One line of a summary of `subject`: tasks, delivered, completion and
// weekly reporting.
void PrintSummaryLine(const std::string& subject, const Summary& summary) {
  std::printf("%-24s %s  %4lld tasks  %4lld delivered  %7s  reporting %7s\n",
              subject.c_str(), summary.period().c_str(),
              static_cast<long long>(summary.tasks_total()),
              static_cast<long long>(summary.tasks_delivered()),
              Percent(summary.completion_rate()).c_str(),
              Percent(summary.weekly_reporting_compliance()).c_str());
}

}  // namespace

absl::Status ProjectSummary(const Invocation& invocation) {
  std::unique_ptr<Stub> stub = NewStub(invocation);
  ASSIGN_OR_RETURN(
      Summary summary,
      FetchSummary(invocation, *stub, invocation.args()[0], PeriodFlag()));
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(summary);
  }
  if (absl::GetFlag(FLAGS_brief)) {
    PrintSummaryLine(invocation.args()[0], summary);
    return absl::OkStatus();
  }
  std::vector<IndicatorDefinition> catalogue;
  if (!summary.indicator_totals().empty()) {
    ASSIGN_OR_RETURN(catalogue, Catalogue(invocation, *stub));
  }
  PrintSummaryText(summary, catalogue);
  return absl::OkStatus();
}

absl::Status VillageSummaries(const Invocation& invocation) {
  projects::v1::ListVillageSummariesRequest request;
  request.set_region_id(invocation.args()[0]);
  request.set_period(PeriodFlag());
  return ForEachPage(invocation, *NewStub(invocation), request,
                     &Stub::ListVillageSummaries,
                     [&](const projects::v1::ListVillageSummariesResponse& page)
                         -> absl::Status {
                       for (const Summary& summary : page.summaries()) {
                         if (invocation.output() == OutputFormat::kJson) {
                           RETURN_IF_ERROR(PrintJsonLine(summary));
                         } else {
                           PrintSummaryLine(summary.village_id(), summary);
                         }
                       }
                       return absl::OkStatus();
                     });
}

absl::Status ListIndicators(const Invocation& invocation) {
  std::unique_ptr<Stub> stub = NewStub(invocation);
  ASSIGN_OR_RETURN(std::vector<IndicatorDefinition> catalogue,
                   Catalogue(invocation, *stub));
  for (const IndicatorDefinition& definition : catalogue) {
    if (invocation.output() == OutputFormat::kJson) {
      RETURN_IF_ERROR(PrintJsonLine(definition));
      continue;
    }
    std::printf(
        "%-28s %-5s %-10s %s\n", definition.key().c_str(),
        projects::v1::IndicatorKind_Name(definition.kind()).c_str(),
        definition.unit().c_str(),
        WithEnglish(definition.name_zh(), definition.name_en()).c_str());
  }
  return absl::OkStatus();
}

namespace {

// Cancels a call once nothing has happened on it for `idle`.
class IdleWatchdog {
 public:
  IdleWatchdog(grpc::ClientContext* context, absl::Duration idle)
      : context_(context), idle_(idle), last_activity_(absl::Now()) {
    thread_ = std::thread([this] { Run(); });
  }
  ~IdleWatchdog() { Stop(); }

  // Something happened: the idle time starts again.
  void Touch() {
    absl::MutexLock lock(&mu_);
    last_activity_ = absl::Now();
  }

  // Ends the watch; true when it had cancelled the call.
  bool Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
    }
    if (thread_.joinable()) thread_.join();
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Run() {
    absl::MutexLock lock(&mu_);
    while (!stopped_) {
      const absl::Time wake = last_activity_ + idle_;
      if (absl::Now() >= wake) {
        fired_ = true;
        context_->TryCancel();
        return;
      }
      mu_.AwaitWithDeadline(absl::Condition(&stopped_), wake);
    }
  }

  grpc::ClientContext* const context_;
  const absl::Duration idle_;
  absl::Mutex mu_;
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::string ChangeLine(const Change& change) {
  std::string what;
  switch (change.kind()) {
    case projects::v1::PROGRESS_REPORTED:
      what = absl::StrCat("report ", change.entity_id(), " of project ",
                          change.project_id());
      break;
    case projects::v1::INDICATOR_CHANGED:
      what = absl::StrCat(change.entity_id(), " ", change.period());
      break;
    default:
      what = change.entity_id();
  }
  return absl::StrFormat("%8d  %s  %-24s  %-17s  %s", change.sequence(),
                         ChinaTimeText(change.change_time()),
                         change.village_id(),
                         projects::v1::ChangeKind_Name(change.kind()), what);
}

}  // namespace

absl::Status WatchChanges(const Invocation& invocation) {
  const bool follow = absl::GetFlag(FLAGS_follow);
  const absl::Duration idle = absl::GetFlag(FLAGS_idle_timeout);
  if (idle <= absl::ZeroDuration()) {
    return UsageError("--idle_timeout: must be positive");
  }
  projects::v1::WatchChangesRequest request;
  request.set_after_sequence(absl::GetFlag(FLAGS_after));
  request.set_ancestor_region_id(absl::GetFlag(FLAGS_ancestor));
  std::unique_ptr<Stub> stub = NewStub(invocation);
  absl::Duration backoff = kFirstBackoff;
  int64_t printed = 0;
  while (true) {
    grpc::ClientContext context;
    if (follow) {
      invocation.PrepareContextWithoutDeadline(&context);
    } else {
      // --deadline bounds the whole replay.
      invocation.PrepareContext(&context);
    }
    std::unique_ptr<grpc::ClientReader<Change>> reader =
        stub->WatchChanges(&context, request);
    // The server sends its headers as soon as the stream is open; the idle
    // time counts from then.
    reader->WaitForInitialMetadata();
    std::unique_ptr<IdleWatchdog> watchdog;
    if (!follow) watchdog = std::make_unique<IdleWatchdog>(&context, idle);
    Change change;
    while (reader->Read(&change)) {
      if (watchdog != nullptr) watchdog->Touch();
      if (invocation.output() == OutputFormat::kJson) {
        RETURN_IF_ERROR(PrintJsonLine(change));
      } else {
        std::printf("%s\n", ChangeLine(change).c_str());
      }
      if (follow) std::fflush(stdout);
      ++printed;
      backoff = kFirstBackoff;
      // Resume from here, and only on the same feed.
      request.set_after_sequence(change.sequence());
      request.set_feed_id(change.feed_id());
    }
    const bool idled_out = watchdog != nullptr && watchdog->Stop();
    absl::Status status = FromGrpcStatus(reader->Finish());
    if (!follow) {
      if (!idled_out) {
        return status.ok() ? absl::InternalError(
                                 "the server ended the change feed stream")
                           : status;
      }
      std::fprintf(stderr,
                   "%s: %lld change%s; caught up after sequence %llu (no "
                   "change for %s)\n",
                   invocation.command().c_str(),
                   static_cast<long long>(printed), printed == 1 ? "" : "s",
                   static_cast<unsigned long long>(request.after_sequence()),
                   absl::FormatDuration(idle).c_str());
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(status)) {
      return status.ok()
                 ? absl::InternalError("the server ended the change feed")
                 : status;
    }
    std::fprintf(stderr, "%s: %s; reconnecting after sequence %llu in %s\n",
                 invocation.command().c_str(),
                 std::string(status.message()).c_str(),
                 static_cast<unsigned long long>(request.after_sequence()),
                 absl::FormatDuration(backoff).c_str());
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace fivestar::cli
