#include "services/projects/progress_summaries.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"
#include "common/calendar.h"
#include "services/projects/project_tracker.h"

namespace fivestar::projects {
namespace {

using ::google::protobuf::util::TimeUtil;

constexpr int kDefaultWeeks = 12;
constexpr int kMaxWeeks = 104;
constexpr int kDefaultIndicatorMonths = 1;
constexpr int kMaxIndicatorMonths = 120;

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
    const std::vector<IndicatorValue>& values,
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
  if (request.period().empty()) return FieldError("period", "required");
  ASSIGN_OR_RETURN(absl::CivilMonth period,
                   ParseMonth("period", request.period()));
  const absl::Time now = clock_->Now();
  const absl::CivilMonth this_month = MonthInChina(now);
  if (period > this_month) {
    return FieldError("period", absl::StrCat("must not be after the current "
                                             "month ",
                                             FormatMonth(this_month), ", got ",
                                             request.period()));
  }
  RETURN_IF_ERROR(ValidateRange("weeks", request.weeks(), 0, kMaxWeeks));
  RETURN_IF_ERROR(ValidateRange("indicator_months", request.indicator_months(),
                                0, kMaxIndicatorMonths));
  const int weeks = request.weeks() == 0 ? kDefaultWeeks : request.weeks();
  const int months = request.indicator_months() == 0
                         ? kDefaultIndicatorMonths
                         : request.indicator_months();

  std::vector<std::string> villages;
  if (of_village) {
    absl::StatusOr<std::vector<std::string>> lineage =
        jurisdiction_->directory()->VillageLineage(subject);
    RETURN_IF_ERROR(lineage.status());  // NOT_FOUND names the village.
    RETURN_IF_ERROR(
        Authorize(principal, Role::kViewer, *lineage,
                  absl::StrCat("read the summary of village ", subject)));
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

  const absl::Time as_of = period == this_month ? now : EndOfMonth(period);
  const std::string as_of_day = FormatDate(DayInChina(as_of));
  v1::Summary summary;
  if (of_village) {
    summary.set_village_id(subject);
  } else {
    summary.set_region_id(subject);
  }
  summary.set_period(request.period());
  *summary.mutable_as_of_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(as_of));
  summary.set_villages(static_cast<int32_t>(villages.size()));

  // Tasks.
  ASSIGN_OR_RETURN(std::vector<TaskSnapshot> tasks,
                   store_->SnapshotTasks(villages, as_of, as_of_day));
  struct StarCount {
    int64_t total = 0, delivered = 0, cancelled = 0;
  };
  std::map<int, StarCount> by_star;
  for (const TaskSnapshot& task : tasks) {
    StarCount& star = by_star[task.star];
    ++star.total;
    summary.set_tasks_total(summary.tasks_total() + 1);
    if (task.cancelled) {
      ++star.cancelled;
      summary.set_tasks_cancelled(summary.tasks_cancelled() + 1);
      continue;
    }
    const ProjectStatus status = DerivedStatus(
        task.reports, task.delivered_quantity, task.target_quantity);
    switch (status) {
      case v1::PLANNED:
        summary.set_tasks_planned(summary.tasks_planned() + 1);
        break;
      case v1::IN_PROGRESS:
        summary.set_tasks_in_progress(summary.tasks_in_progress() + 1);
        break;
      default:
        ++star.delivered;
        summary.set_tasks_delivered(summary.tasks_delivered() + 1);
        break;
    }
    if (status != v1::DELIVERED && task.due_date < as_of_day) {
      summary.set_tasks_overdue(summary.tasks_overdue() + 1);
    }
  }
  summary.set_completion_rate(Rate(summary.tasks_delivered(),
                                   summary.tasks_total(),
                                   summary.tasks_cancelled()));
  for (int star = fivestar::common::v1::BRANCH_STRONG;
       star <= fivestar::common::v1::CIVILIZED_HAPPY; ++star) {
    const StarCount& count = by_star[star];
    v1::StarCompletion* completion = summary.add_completion_by_star();
    completion->set_star(static_cast<Star>(star));
    completion->set_total(count.total);
    completion->set_delivered(count.delivered);
    completion->set_cancelled(count.cancelled);
    completion->set_rate(Rate(count.delivered, count.total, count.cancelled));
  }

  // Weekly reporting compliance, averaged over every village covered.
  summary.set_weeks(weeks);
  if (!villages.empty()) {
    ASSIGN_OR_RETURN(auto reporting,
                     store_->CountReportingWeeks(villages, as_of, weeks));
    int64_t village_weeks = 0;
    for (const auto& [village, count] : reporting) village_weeks += count;
    summary.set_weekly_reporting_compliance(
        static_cast<double>(village_weeks) /
        (static_cast<double>(weeks) * static_cast<double>(villages.size())));
  }

  // Indicators.
  summary.set_indicator_months(months);
  if (!villages.empty()) {
    IndicatorValueQuery query;
    query.village_ids = villages;
    query.start_period = FormatMonth(period - (months - 1));
    query.end_period = FormatMonth(period);
    query.limit = -1;
    ASSIGN_OR_RETURN(std::vector<IndicatorValue> values,
                     store_->ListIndicatorValues(query));
    ASSIGN_OR_RETURN(std::vector<IndicatorDefinition> definitions,
                     store_->ListIndicatorDefinitions("", -1));
    absl::flat_hash_map<std::string, v1::IndicatorKind> kinds;
    for (const IndicatorDefinition& definition : definitions) {
      kinds[definition.key()] = definition.kind();
    }
    AddIndicatorTotals(values, kinds, &summary);
  }
  return summary;
}

}  // namespace fivestar::projects
