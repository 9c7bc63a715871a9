#include "services/projects/progress_summaries.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/check.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/projects/project_tracker.h"

namespace fivestar::projects {
namespace {

using ::google::protobuf::util::TimeUtil;

constexpr int kDefaultWeeks = 12;
constexpr int kMaxWeeks = 104;
constexpr int kDefaultIndicatorMonths = 1;
constexpr int kMaxIndicatorMonths = 120;
constexpr int kDefaultVillagesPerPage = 100;
constexpr int kMaxVillagesPerPage = 1000;

// delivered / (total − cancelled); 1 when nothing is left to deliver.
double Rate(int64_t delivered, int64_t total, int64_t cancelled) {
  const int64_t counted = total - cancelled;
  return counted == 0
             ? 1.0
             : static_cast<double>(delivered) / static_cast<double>(counted);
}

// Adds the indicator totals of `values` (all within the summary's months,
// ordered by village, key, period) to `summary`, in key order.
void AddIndicatorTotals(
    absl::Span<const IndicatorValue> values,
    const absl::flat_hash_map<std::string, v1::IndicatorKind>& kinds,
    v1::Summary* summary) {
  struct Total {
    double value = 0;
    int villages = 0;
  };
  std::map<std::string, Total> totals;
  for (size_t i = 0; i < values.size(); ++i) {
    const IndicatorValue& value = values[i];
    auto kind = kinds.find(value.indicator_key());
    if (kind == kinds.end()) continue;  // Not in the catalogue (cannot be).
    const bool first_of_village =
        i == 0 || values[i - 1].village_id() != value.village_id() ||
        values[i - 1].indicator_key() != value.indicator_key();
    const bool last_of_village =
        i + 1 == values.size() ||
        values[i + 1].village_id() != value.village_id() ||
        values[i + 1].indicator_key() != value.indicator_key();
    Total& total = totals[value.indicator_key()];
    if (first_of_village) ++total.villages;
    // A stock counts its latest value in the months (the last in period
    // order); a flow sums every month.
    if (kind->second == v1::FLOW || last_of_village) {
      total.value += value.value();
    }
  }
  for (const auto& [key, total] : totals) {
    v1::IndicatorTotal* out = summary->add_indicator_totals();
    out->set_key(key);
    out->set_value(total.value);
    out->set_aggregation(kinds.at(key));
    out->set_villages_reporting(total.villages);
  }
}

// What a summary covers: the request's period, weeks and indicator months
// once their field rules hold, and the instant the figures refer to.
struct Window {
  std::string period;  // "YYYY-MM"
  absl::CivilMonth month;
  absl::Time as_of;
  std::string as_of_day;  // "YYYY-MM-DD" of `as_of` in China
  int weeks = kDefaultWeeks;
  int indicator_months = kDefaultIndicatorMonths;
};

// Checks the fields shared by GetSummary and ListVillageSummaries.
absl::StatusOr<Window> ParseWindow(const std::string& period, int weeks,
                                   int indicator_months, absl::Time now) {
  Window window;
  if (period.empty()) return FieldError("period", "required");
  ASSIGN_OR_RETURN(window.month, ParseMonth("period", period));
  const absl::CivilMonth this_month = MonthInChina(now);
  if (window.month > this_month) {
    return FieldError("period",
                      absl::StrCat("must not be after the current "
                                   "month ",
                                   FormatMonth(this_month), ", got ", period));
  }
  RETURN_IF_ERROR(ValidateRange("weeks", weeks, 0, kMaxWeeks));
  RETURN_IF_ERROR(ValidateRange("indicator_months", indicator_months, 0,
                                kMaxIndicatorMonths));
  window.period = period;
  if (weeks != 0) window.weeks = weeks;
  if (indicator_months != 0) window.indicator_months = indicator_months;
  window.as_of = window.month == this_month ? now : EndOfMonth(window.month);
  window.as_of_day = FormatDate(DayInChina(window.as_of));
  return window;
}

// The stored rows the summaries of some villages are computed from, read
// in four statements however many villages there are. Tasks and values
// are ordered by village, so each village's rows are contiguous.
struct SummaryRows {
  std::vector<TaskSnapshot> tasks;
  // Village → weeks with a report; villages without reports are absent.
  absl::flat_hash_map<std::string, int> reporting_weeks;
  // Within the window's months, ordered by village, key, period.
  std::vector<IndicatorValue> values;
  absl::flat_hash_map<std::string, v1::IndicatorKind> kinds;
};

absl::StatusOr<SummaryRows> ReadRows(ProjectsStore* store,
                                     const std::vector<std::string>& villages,
                                     const Window& window) {
  SummaryRows rows;
  if (villages.empty()) return rows;
  ASSIGN_OR_RETURN(rows.tasks, store->SnapshotTasks(villages, window.as_of,
                                                    window.as_of_day));
  std::stable_sort(rows.tasks.begin(), rows.tasks.end(),
                   [](const TaskSnapshot& a, const TaskSnapshot& b) {
                     return a.village_id < b.village_id;
                   });
  ASSIGN_OR_RETURN(auto reporting, store->CountReportingWeeks(
                                       villages, window.as_of, window.weeks));
  for (auto& [village, weeks] : reporting) {
    rows.reporting_weeks[std::move(village)] = weeks;
  }
  IndicatorValueQuery query;
  query.village_ids = villages;
  query.start_period =
      FormatMonth(window.month - (window.indicator_months - 1));
  query.end_period = FormatMonth(window.month);
  query.limit = -1;
  ASSIGN_OR_RETURN(rows.values, store->ListIndicatorValues(query));
  ASSIGN_OR_RETURN(std::vector<IndicatorDefinition> definitions,
                   store->ListIndicatorDefinitions("", -1));
  for (const IndicatorDefinition& definition : definitions) {
    rows.kinds[definition.key()] = definition.kind();
  }
  return rows;
}

// A summary of `villages` villages with no figures yet: the window and the
// count.
v1::Summary EmptySummary(const Window& window, size_t villages) {
  v1::Summary summary;
  summary.set_period(window.period);
  *summary.mutable_as_of_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(window.as_of));
  summary.set_villages(static_cast<int32_t>(villages));
  summary.set_weeks(window.weeks);
  summary.set_indicator_months(window.indicator_months);
  return summary;
}

// Adds the task figures of `tasks` (as they stood at the window's instant)
// to `summary`: counts by status, overdue, completion overall and by star.
void AddTaskFigures(absl::Span<const TaskSnapshot> tasks, const Window& window,
                    v1::Summary* summary) {
  struct StarCount {
    int64_t total = 0, delivered = 0, cancelled = 0;
  };
  std::map<int, StarCount> by_star;
  for (const TaskSnapshot& task : tasks) {
    StarCount& star = by_star[task.star];
    ++star.total;
    summary->set_tasks_total(summary->tasks_total() + 1);
    if (task.cancelled) {
      ++star.cancelled;
      summary->set_tasks_cancelled(summary->tasks_cancelled() + 1);
      continue;
    }
    const ProjectStatus status = DerivedStatus(
        task.reports, task.delivered_quantity, task.target_quantity);
    switch (status) {
      case v1::PLANNED:
        summary->set_tasks_planned(summary->tasks_planned() + 1);
        break;
      case v1::IN_PROGRESS:
        summary->set_tasks_in_progress(summary->tasks_in_progress() + 1);
        break;
      default:
        ++star.delivered;
        summary->set_tasks_delivered(summary->tasks_delivered() + 1);
        break;
    }
    if (status != v1::DELIVERED && task.due_date < window.as_of_day) {
      summary->set_tasks_overdue(summary->tasks_overdue() + 1);
    }
  }
  summary->set_completion_rate(Rate(summary->tasks_delivered(),
                                    summary->tasks_total(),
                                    summary->tasks_cancelled()));
  for (int star = fivestar::common::v1::BRANCH_STRONG;
       star <= fivestar::common::v1::CIVILIZED_HAPPY; ++star) {
    const StarCount& count = by_star[star];
    v1::StarCompletion* completion = summary->add_completion_by_star();
    completion->set_star(static_cast<Star>(star));
    completion->set_total(count.total);
    completion->set_delivered(count.delivered);
    completion->set_cancelled(count.cancelled);
    completion->set_rate(Rate(count.delivered, count.total, count.cancelled));
  }
}

// Fills the figures of `summary` (made by EmptySummary for its villages)
// from those villages' rows: `tasks` and `values` are theirs alone, and
// `village_weeks` sums their weeks with a report.
void AddFigures(absl::Span<const TaskSnapshot> tasks, int64_t village_weeks,
                absl::Span<const IndicatorValue> values,
                const SummaryRows& rows, const Window& window,
                v1::Summary* summary) {
  AddTaskFigures(tasks, window, summary);
  // Weekly reporting compliance, averaged over every village covered.
  if (summary->villages() > 0) {
    summary->set_weekly_reporting_compliance(
        static_cast<double>(village_weeks) /
        (static_cast<double>(window.weeks) *
         static_cast<double>(summary->villages())));
  }
  AddIndicatorTotals(values, rows.kinds, summary);
}

// The summary of `villages` together (a region's, or a village's when it
// is the only one).
absl::StatusOr<v1::Summary> SummarizeTogether(
    ProjectsStore* store, const std::vector<std::string>& villages,
    const Window& window) {
  ASSIGN_OR_RETURN(SummaryRows rows, ReadRows(store, villages, window));
  v1::Summary summary = EmptySummary(window, villages.size());
  int64_t village_weeks = 0;
  for (const auto& [village, weeks] : rows.reporting_weeks) {
    village_weeks += weeks;
  }
  AddFigures(rows.tasks, village_weeks, rows.values, rows, window, &summary);
  return summary;
}

// One summary per village of `villages` (in ascending order), each equal
// to SummarizeTogether of that village alone, from rows read once for all.
absl::StatusOr<std::vector<v1::Summary>> SummarizeEach(
    ProjectsStore* store, const std::vector<std::string>& villages,
    const Window& window) {
  ASSIGN_OR_RETURN(SummaryRows rows, ReadRows(store, villages, window));
  const absl::Span<const TaskSnapshot> tasks(rows.tasks);
  const absl::Span<const IndicatorValue> values(rows.values);
  std::vector<v1::Summary> summaries;
  summaries.reserve(villages.size());
  size_t task = 0;
  size_t value = 0;
  for (const std::string& village : villages) {
    // Rows are ordered by village, as `villages` is: each village's rows
    // start where the previous village's ended.
    const size_t first_task = task;
    while (task < tasks.size() && tasks[task].village_id == village) ++task;
    const size_t first_value = value;
    while (value < values.size() && values[value].village_id() == village) {
      ++value;
    }
    auto weeks = rows.reporting_weeks.find(village);
    v1::Summary& summary =
        summaries.emplace_back(EmptySummary(window, /*villages=*/1));
    summary.set_village_id(village);
    AddFigures(tasks.subspan(first_task, task - first_task),
               weeks == rows.reporting_weeks.end() ? 0 : weeks->second,
               values.subspan(first_value, value - first_value), rows, window,
               &summary);
  }
  // The store answers for exactly the villages asked, in their order.
  FIVESTAR_CHECK(task == tasks.size() && value == values.size(),
                 "summary rows of a village outside the page, or out of order");
  return summaries;
}

}  // namespace

absl::StatusOr<v1::Summary> ProgressSummaries::GetSummary(
    const Principal& principal, const v1::GetSummaryRequest& request) {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, "read summaries"));
  // Field rules first, so that bad input fails without asking the registry.
  if (request.scope_case() == v1::GetSummaryRequest::SCOPE_NOT_SET) {
    return FieldError("scope", "set village_id or region_id");
  }
  const bool of_village =
      request.scope_case() == v1::GetSummaryRequest::kVillageId;
  const std::string& subject =
      of_village ? request.village_id() : request.region_id();
  RETURN_IF_ERROR(ValidateId(of_village ? "village_id" : "region_id", subject));
  ASSIGN_OR_RETURN(Window window,
                   ParseWindow(request.period(), request.weeks(),
                               request.indicator_months(), clock_->Now()));

  std::vector<std::string> villages;
  if (of_village) {
    const std::string what =
        absl::StrCat("read the summary of village ", subject);
    absl::StatusOr<std::vector<std::string>> lineage =
        jurisdiction_->directory()->VillageLineage(subject);
    // NOT_FOUND names the village, for a global principal only.
    RETURN_IF_ERROR(
        ConcealAbsence(principal, Role::kViewer, lineage.status(), what));
    RETURN_IF_ERROR(lineage.status());
    RETURN_IF_ERROR(Authorize(principal, Role::kViewer, *lineage, what));
    villages.push_back(subject);
  } else {
    RETURN_IF_ERROR(jurisdiction_
                        ->AuthorizeRegion(principal, Role::kViewer, subject, "",
                                          absl::StrCat("read the summary of "
                                                       "region ",
                                                       subject))
                        .status());
    ASSIGN_OR_RETURN(villages,
                     jurisdiction_->directory()->VillagesUnder(subject));
  }
  ASSIGN_OR_RETURN(v1::Summary summary,
                   SummarizeTogether(store_, villages, window));
  if (of_village) {
    summary.set_village_id(subject);
  } else {
    summary.set_region_id(subject);
  }
  return summary;
}

absl::StatusOr<v1::ListVillageSummariesResponse>
ProgressSummaries::ListVillageSummaries(
    const Principal& principal,
    const v1::ListVillageSummariesRequest& request) {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, "read summaries"));
  // Field rules first, so that bad input fails without asking the registry.
  RETURN_IF_ERROR(ValidateId("region_id", request.region_id()));
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size(),
                                                   kDefaultVillagesPerPage,
                                                   kMaxVillagesPerPage));
  ASSIGN_OR_RETURN(Window window,
                   ParseWindow(request.period(), request.weeks(),
                               request.indicator_months(), clock_->Now()));
  ASSIGN_OR_RETURN(
      std::string after,
      pager.Resume(request.page_token(),
                   absl::StrCat("village-summaries|", request.region_id(), "|",
                                request.period(), "|", request.weeks(), "|",
                                request.indicator_months())));

  // A region above the scope lists the villages of the scope.
  ASSIGN_OR_RETURN(RegionFilterBounds bounds,
                   jurisdiction_->AuthorizeRegionFilter(
                       principal, request.region_id(), "",
                       absl::StrCat("read the village summaries of region ",
                                    request.region_id())));
  std::vector<std::string> villages;
  if (!bounds.village_id.empty()) {
    villages.push_back(bounds.village_id);
  } else {
    ASSIGN_OR_RETURN(
        villages, jurisdiction_->directory()->VillagesUnder(bounds.region_id));
  }
  // The page: the villages after the last one of the previous page (which
  // may have left the registry since), in id order; one more is taken to
  // tell whether another page follows, and Trim drops it.
  auto first = std::upper_bound(villages.begin(), villages.end(), after);
  const size_t count = std::min(static_cast<size_t>(pager.fetch_limit()),
                                static_cast<size_t>(villages.end() - first));
  std::vector<std::string> page(first, first + count);
  const std::string next_page_token =
      pager.Trim(page, [](const std::string& village) { return village; });

  ASSIGN_OR_RETURN(std::vector<v1::Summary> summaries,
                   SummarizeEach(store_, page, window));
  v1::ListVillageSummariesResponse response;
  for (v1::Summary& summary : summaries) {
    *response.add_summaries() = std::move(summary);
  }
  response.set_next_page_token(next_page_token);
  return response;
}

}  // namespace fivestar::projects
