#include "services/projects/progress_summaries.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/projects/kept_figures.pb.h"
#include "services/projects/project_tracker.h"
#include "spdlog/spdlog.h"

namespace fivestar::projects {
namespace {
constexpr int kDefaultWeeks = 12;
constexpr int kDefaultIndicatorMonths = 1;
}  // namespace

// What a summary covers: the request's period, weeks and indicator months
// once their field rules hold, and the instant the figures refer to.
struct SummaryWindow {
  std::string period;  // "YYYY-MM"
  absl::CivilMonth month;
  absl::Time as_of;
  std::string as_of_day;  // "YYYY-MM-DD" of `as_of` in China
  int weeks = kDefaultWeeks;
  int indicator_months = kDefaultIndicatorMonths;
  // Whether `month` is before the current month (its instant is fixed).
  bool closed = false;
};

// The indicator keys of kept figures, each stored once however many
// villages report it: a village's figures name a key by its address here,
// which stays valid for the summaries' life (keys are never removed; they
// are those of the catalogue's definitions that have values).
class IndicatorKeys {
 public:
  const std::string* Intern(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return &*keys_.insert(key).first;
  }

 private:
  absl::Mutex mu_;
  absl::node_hash_set<std::string> keys_ ABSL_GUARDED_BY(mu_);
};

struct VillageFigures {
  struct StarCount {
    int64_t total = 0, delivered = 0, cancelled = 0;
  };
  // One indicator's values: those of `values` from the previous series'
  // `end` (0 for the first) up to its own.
  struct Series {
    const std::string* key;  // Interned in IndicatorKeys.
    uint32_t end;
  };
  int64_t total = 0, planned = 0, in_progress = 0, delivered = 0, cancelled = 0,
          overdue = 0;
  // Indexed by the star's enum value; 1–5 are the stars.
  std::array<StarCount, 6> by_star;
  int64_t reporting_weeks = 0;
  // The village's indicator values within the months, key by key
  // (ascending), each key's in period order; kept flat, as a province's
  // worth of figures is kept at once.
  std::vector<Series> series;
  std::vector<double> values;
};

namespace {

using ::google::protobuf::util::TimeUtil;

constexpr int kMaxWeeks = 104;
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

using Window = SummaryWindow;

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
  window.closed = window.month < this_month;
  window.as_of = window.closed ? EndOfMonth(window.month) : now;
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

// Calls `fn(village, tasks, reporting_weeks, values)` for each village of
// `villages` (ascending, as the store orders its rows) with that village's
// rows from `rows`, read for exactly those villages.
template <typename Fn>
void ForEachVillageRows(const SummaryRows& rows,
                        const std::vector<std::string>& villages, Fn fn) {
  const absl::Span<const TaskSnapshot> tasks(rows.tasks);
  const absl::Span<const IndicatorValue> values(rows.values);
  size_t task = 0;
  size_t value = 0;
  for (const std::string& village : villages) {
    // Each village's rows start where the previous village's ended.
    const size_t first_task = task;
    while (task < tasks.size() && tasks[task].village_id == village) ++task;
    const size_t first_value = value;
    while (value < values.size() && values[value].village_id() == village) {
      ++value;
    }
    auto weeks = rows.reporting_weeks.find(village);
    fn(village, tasks.subspan(first_task, task - first_task),
       weeks == rows.reporting_weeks.end() ? 0 : weeks->second,
       values.subspan(first_value, value - first_value));
  }
  // The store answers for exactly the villages asked, in their order.
  FIVESTAR_CHECK(task == tasks.size() && value == values.size(),
                 "summary rows of a village outside the request, or out of "
                 "order");
}

// The figures of one village from its rows as of the window's instant,
// counted exactly as AddTaskFigures and AddIndicatorTotals count them.
VillageFigures FiguresOf(absl::Span<const TaskSnapshot> tasks,
                         int64_t reporting_weeks,
                         absl::Span<const IndicatorValue> values,
                         const Window& window, IndicatorKeys* interned) {
  VillageFigures figures;
  for (const TaskSnapshot& task : tasks) {
    VillageFigures::StarCount* star = task.star >= 1 && task.star <= 5
                                          ? &figures.by_star[task.star]
                                          : nullptr;
    if (star != nullptr) ++star->total;
    ++figures.total;
    if (task.cancelled) {
      if (star != nullptr) ++star->cancelled;
      ++figures.cancelled;
      continue;
    }
    const ProjectStatus status = DerivedStatus(
        task.reports, task.delivered_quantity, task.target_quantity);
    switch (status) {
      case v1::PLANNED:
        ++figures.planned;
        break;
      case v1::IN_PROGRESS:
        ++figures.in_progress;
        break;
      default:
        if (star != nullptr) ++star->delivered;
        ++figures.delivered;
        break;
    }
    if (status != v1::DELIVERED && task.due_date < window.as_of_day) {
      ++figures.overdue;
    }
  }
  figures.reporting_weeks = reporting_weeks;
  // `values` are ordered by key, then period.
  size_t series = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i == 0 || values[i].indicator_key() != values[i - 1].indicator_key()) {
      ++series;
    }
  }
  figures.series.reserve(series);
  figures.values.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (i == 0 || values[i].indicator_key() != values[i - 1].indicator_key()) {
      figures.series.push_back(
          {interned->Intern(values[i].indicator_key()), 0});
    }
    figures.values.push_back(values[i].value());
    figures.series.back().end = static_cast<uint32_t>(figures.values.size());
  }
  return figures;
}

// One summary per village of `villages` (in ascending order), each equal
// to SummarizeTogether of that village alone, from rows read once for all.
// With `figures`, also each village's figures from the same rows, in the
// same order, naming their keys in `interned`.
absl::StatusOr<std::vector<v1::Summary>> SummarizeEach(
    ProjectsStore* store, const std::vector<std::string>& villages,
    const Window& window, IndicatorKeys* interned,
    std::vector<std::shared_ptr<const VillageFigures>>* figures) {
  ASSIGN_OR_RETURN(SummaryRows rows, ReadRows(store, villages, window));
  std::vector<v1::Summary> summaries;
  summaries.reserve(villages.size());
  if (figures != nullptr) figures->reserve(villages.size());
  ForEachVillageRows(
      rows, villages,
      [&](const std::string& village, absl::Span<const TaskSnapshot> tasks,
          int64_t reporting_weeks, absl::Span<const IndicatorValue> values) {
        v1::Summary& summary =
            summaries.emplace_back(EmptySummary(window, /*villages=*/1));
        summary.set_village_id(village);
        AddFigures(tasks, reporting_weeks, values, rows, window, &summary);
        if (figures != nullptr) {
          figures->push_back(std::make_shared<const VillageFigures>(
              FiguresOf(tasks, reporting_weeks, values, window, interned)));
        }
      });
  return summaries;
}

// The summary of `figures` (one per village, in village order) together:
// the same numbers SummarizeTogether computes from the rows, because counts
// add exactly and each indicator's values are added in the same order
// (village, then period).
v1::Summary SumFigures(
    absl::Span<const VillageFigures* const> figures,
    const absl::flat_hash_map<std::string, v1::IndicatorKind>& kinds,
    const Window& window) {
  v1::Summary summary = EmptySummary(window, figures.size());
  VillageFigures sum;
  struct Total {
    double value = 0;
    int villages = 0;
    bool flow = false;
  };
  std::map<std::string, Total> totals;
  // Each interned key's total, or null when the key is not in the
  // catalogue: one lookup by name per key rather than per village.
  absl::flat_hash_map<const std::string*, Total*> total_of;
  for (const VillageFigures* village : figures) {
    sum.total += village->total;
    sum.planned += village->planned;
    sum.in_progress += village->in_progress;
    sum.delivered += village->delivered;
    sum.cancelled += village->cancelled;
    sum.overdue += village->overdue;
    for (size_t star = 0; star < sum.by_star.size(); ++star) {
      sum.by_star[star].total += village->by_star[star].total;
      sum.by_star[star].delivered += village->by_star[star].delivered;
      sum.by_star[star].cancelled += village->by_star[star].cancelled;
    }
    sum.reporting_weeks += village->reporting_weeks;
    uint32_t begin = 0;
    for (const VillageFigures::Series& series : village->series) {
      const absl::Span<const double> values(village->values.data() + begin,
                                            series.end - begin);
      begin = series.end;
      auto [found, added] = total_of.try_emplace(series.key, nullptr);
      if (added) {
        auto kind = kinds.find(*series.key);
        if (kind != kinds.end()) {
          found->second = &totals[*series.key];
          found->second->flow = kind->second == v1::FLOW;
        }
      }
      Total* total = found->second;
      if (total == nullptr) continue;  // Not in the catalogue.
      ++total->villages;
      if (total->flow) {
        for (double value : values) total->value += value;
      } else {
        total->value += values.back();
      }
    }
  }
  summary.set_tasks_total(sum.total);
  summary.set_tasks_planned(sum.planned);
  summary.set_tasks_in_progress(sum.in_progress);
  summary.set_tasks_delivered(sum.delivered);
  summary.set_tasks_cancelled(sum.cancelled);
  summary.set_tasks_overdue(sum.overdue);
  summary.set_completion_rate(Rate(sum.delivered, sum.total, sum.cancelled));
  for (int star = fivestar::common::v1::BRANCH_STRONG;
       star <= fivestar::common::v1::CIVILIZED_HAPPY; ++star) {
    const VillageFigures::StarCount& count = sum.by_star[star];
    v1::StarCompletion* completion = summary.add_completion_by_star();
    completion->set_star(static_cast<Star>(star));
    completion->set_total(count.total);
    completion->set_delivered(count.delivered);
    completion->set_cancelled(count.cancelled);
    completion->set_rate(Rate(count.delivered, count.total, count.cancelled));
  }
  if (summary.villages() > 0) {
    summary.set_weekly_reporting_compliance(
        static_cast<double>(sum.reporting_weeks) /
        (static_cast<double>(window.weeks) *
         static_cast<double>(summary.villages())));
  }
  for (const auto& [key, total] : totals) {
    v1::IndicatorTotal* out = summary.add_indicator_totals();
    out->set_key(key);
    out->set_value(total.value);
    out->set_aggregation(kinds.at(key));
    out->set_villages_reporting(total.villages);
  }
  return summary;
}

// The key of a window's figures: everything that decides them.
std::string WindowKey(const Window& window) {
  return absl::StrCat(window.period, "|", window.weeks, "|",
                      window.indicator_months);
}

// The stored form of `figures` (ProjectsStore's kept figures).
std::string EncodeFigures(const VillageFigures& figures) {
  internal::KeptVillageFigures kept;
  kept.set_total(figures.total);
  kept.set_planned(figures.planned);
  kept.set_in_progress(figures.in_progress);
  kept.set_delivered(figures.delivered);
  kept.set_cancelled(figures.cancelled);
  kept.set_overdue(figures.overdue);
  for (const VillageFigures::StarCount& count : figures.by_star) {
    kept.add_by_star(count.total);
    kept.add_by_star(count.delivered);
    kept.add_by_star(count.cancelled);
  }
  kept.set_reporting_weeks(figures.reporting_weeks);
  std::string* keys = kept.mutable_keys();
  for (const VillageFigures::Series& series : figures.series) {
    if (!keys->empty()) keys->push_back(' ');
    keys->append(*series.key);
    kept.add_ends(series.end);
  }
  kept.mutable_values()->Add(figures.values.begin(), figures.values.end());
  return kept.SerializeAsString();
}

// Decodes kept figures (EncodeFigures), naming their keys in `interned`:
// one decoder for the figures of one read, reusing its arena and the keys
// it interned.
class FiguresDecoder {
 public:
  explicit FiguresDecoder(IndicatorKeys* interned) : interned_(interned) {}

  absl::StatusOr<VillageFigures> Decode(const std::string& village,
                                        const std::string& bytes) {
    arena_.Reset();
    auto* kept =
        google::protobuf::Arena::CreateMessage<internal::KeptVillageFigures>(
            &arena_);
    const auto broken = [&village](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(
          "the kept summary figures of village ", village, " ", why));
    };
    if (!kept->ParseFromString(bytes)) return broken("do not parse");
    VillageFigures figures;
    if (kept->by_star_size() != 3 * static_cast<int>(figures.by_star.size())) {
      return broken("do not count every star");
    }
    figures.total = kept->total();
    figures.planned = kept->planned();
    figures.in_progress = kept->in_progress();
    figures.delivered = kept->delivered();
    figures.cancelled = kept->cancelled();
    figures.overdue = kept->overdue();
    for (size_t star = 0; star < figures.by_star.size(); ++star) {
      const int first = 3 * static_cast<int>(star);
      figures.by_star[star] = {kept->by_star(first), kept->by_star(first + 1),
                               kept->by_star(first + 2)};
    }
    figures.reporting_weeks = kept->reporting_weeks();
    figures.series.reserve(kept->ends_size());
    uint32_t begin = 0;
    int i = 0;
    if (!kept->keys().empty()) {
      for (absl::string_view key : absl::StrSplit(kept->keys(), ' ')) {
        // Each indicator has at least one value, and they end in order.
        if (i == kept->ends_size() || kept->ends(i) <= begin ||
            kept->ends(i) > static_cast<uint32_t>(kept->values_size())) {
          return broken("do not end each indicator's values in order");
        }
        begin = kept->ends(i++);
        figures.series.push_back({Intern(key), begin});
      }
    }
    if (i != kept->ends_size() ||
        begin != static_cast<uint32_t>(kept->values_size())) {
      return broken("hold values of no indicator");
    }
    figures.values.assign(kept->values().begin(), kept->values().end());
    return figures;
  }

 private:
  // The interned key, asking `interned_` once per key and decoder.
  const std::string* Intern(absl::string_view key) {
    auto found = seen_.find(key);
    if (found != seen_.end()) return found->second;
    const std::string* interned = interned_->Intern(std::string(key));
    seen_.emplace(*interned, interned);
    return interned;
  }

  IndicatorKeys* interned_;
  google::protobuf::Arena arena_;
  // Viewing the interned strings themselves.
  absl::flat_hash_map<absl::string_view, const std::string*> seen_;
};

// Changes read per query while catching up with the feed.
constexpr int kChangesPerRead = 10'000;

// Beyond this many searches (distinct villages changed in one catch-up
// times kept region sums) every kept region sum is dropped rather than each
// one searched for the villages, which bounds the work done under the lock.
constexpr size_t kMostRegionSumSearches = 100'000;

// The kept region sums may name up to this many villages (over all of
// them) per village figure kept: a window's province, cities, counties
// and townships each name every village once.
constexpr size_t kSummedVillagesPerCachedVillage = 4;

// The key of a region's sum for a window.
std::string RegionSumKey(const std::string& window_key,
                         const std::string& region_id) {
  return absl::StrCat(window_key, "|", region_id);
}

}  // namespace

ProgressSummaries::ProgressSummaries(ProjectsStore* store,
                                     const Jurisdiction* jurisdiction,
                                     const Clock* clock,
                                     size_t max_cached_villages,
                                     size_t min_villages_kept_in_database)
    : store_(store),
      jurisdiction_(jurisdiction),
      clock_(clock),
      max_cached_villages_(max_cached_villages),
      min_villages_kept_in_database_(min_villages_kept_in_database),
      keys_(std::make_unique<IndicatorKeys>()) {
  // Where the change feed stands: nothing is kept yet, so nothing before
  // it can be stale. Failing that, the first closed-month summary asks.
  if (max_cached_villages_ == 0) return;
  absl::StatusOr<uint64_t> newest = store_->NewestSequence();
  if (newest.ok()) {
    absl::MutexLock lock(&mu_);
    seen_changes_ = true;
    changes_seen_ = *newest;
  }
}

ProgressSummaries::~ProgressSummaries() = default;

absl::StatusOr<uint64_t> ProgressSummaries::CatchUpWithChanges() {
  uint64_t seen = 0;
  {
    absl::MutexLock lock(&mu_);
    seen = changes_seen_;
    if (!seen_changes_ || (figures_.empty() && region_sums_.empty())) {
      // Nothing is kept, so nothing earlier can be stale: skip to the
      // newest change rather than read every one (an import leaves
      // millions) unless something was kept while it was asked.
      const bool had_seen = seen_changes_;
      mu_.Unlock();
      absl::StatusOr<uint64_t> newest = store_->NewestSequence();
      mu_.Lock();
      if (!newest.ok()) return newest.status();
      if (!seen_changes_ || (had_seen && changes_seen_ == seen &&
                             figures_.empty() && region_sums_.empty())) {
        seen_changes_ = true;
        changes_seen_ = std::max(changes_seen_, *newest);
        return changes_seen_;
      }
      seen = changes_seen_;
    }
  }
  while (true) {
    ASSIGN_OR_RETURN(ChangeBatch batch,
                     store_->ReadChanges(seen, {}, kChangesPerRead));
    absl::MutexLock lock(&mu_);
    absl::flat_hash_set<std::string> changed;
    for (const Change& change : batch.changes) {
      if (change.sequence() <= changes_seen_) continue;  // Seen by another.
      if (!changed.insert(change.village_id()).second) continue;
      for (auto& [window, villages] : figures_) {
        cached_villages_ -= villages.erase(change.village_id());
      }
    }
    DropRegionSums(changed);
    seen = std::max<uint64_t>(seen, batch.scanned_through);
    changes_seen_ = std::max(changes_seen_, seen);
    if (static_cast<int>(batch.changes.size()) < kChangesPerRead) {
      return changes_seen_;
    }
  }
}

void ProgressSummaries::KeepFigures(const std::string& window_key,
                                    const std::vector<std::string>& villages,
                                    const std::vector<Figures>& figures,
                                    uint64_t seen) {
  FIVESTAR_CHECK(villages.size() == figures.size(),
                 "village figures out of step with the villages");
  if (max_cached_villages_ == 0 || villages.empty()) return;
  absl::MutexLock lock(&mu_);
  // Kept only if no change was seen since `seen`: a change seen since may
  // have come after the rows were read, and was not applied to them.
  if (!seen_changes_ || changes_seen_ != seen) return;
  if (cached_villages_ + figures.size() > max_cached_villages_) {
    figures_.clear();
    cached_villages_ = 0;
  }
  auto& window_figures = figures_[window_key];
  for (size_t i = 0; i < villages.size(); ++i) {
    if (window_figures.emplace(villages[i], figures[i]).second) {
      ++cached_villages_;
    }
  }
  if (window_figures.empty()) figures_.erase(window_key);
}

void ProgressSummaries::KeepInDatabase(const std::string& window_key,
                                       const std::vector<std::string>& villages,
                                       const std::vector<Figures>& figures,
                                       uint64_t seen) {
  FIVESTAR_CHECK(villages.size() == figures.size(),
                 "village figures out of step with the villages");
  if (max_cached_villages_ == 0 || villages.empty() ||
      villages.size() < min_villages_kept_in_database_) {
    return;
  }
  std::vector<KeptFigures> stored;
  stored.reserve(villages.size());
  for (size_t i = 0; i < villages.size(); ++i) {
    stored.push_back({villages[i], EncodeFigures(*figures[i])});
  }
  // Not waited for: the figures are a cache, and the summary is already
  // computed. A failure costs the next summary a read of the rows.
  store_->KeepFiguresAsync(
      window_key, seen, std::move(stored), [](absl::Status status) {
        if (!status.ok()) {
          spdlog::warn("msg=kept_figures_not_written error={}",
                       LogValue(status.ToString()));
        }
      });
}

void ProgressSummaries::DropRegionSums(
    const absl::flat_hash_set<std::string>& changed) {
  if (changed.empty() || region_sums_.empty()) return;
  if (changed.size() * region_sums_.size() > kMostRegionSumSearches) {
    region_sums_.clear();
    summed_villages_ = 0;
    return;
  }
  for (auto it = region_sums_.begin(); it != region_sums_.end();) {
    const std::vector<std::string>& villages = it->second->villages;
    const bool touched =
        std::any_of(changed.begin(), changed.end(), [&](const std::string& id) {
          return std::binary_search(villages.begin(), villages.end(), id);
        });
    if (touched) {
      summed_villages_ -= villages.size();
      region_sums_.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<v1::Summary> ProgressSummaries::SummarizeClosedMonth(
    const std::vector<std::string>& villages, const SummaryWindow& window,
    const std::string& region_id) {
  ASSIGN_OR_RETURN(const uint64_t seen, CatchUpWithChanges());
  const std::string key = WindowKey(window);
  const std::string sum_key =
      region_id.empty() ? std::string() : RegionSumKey(key, region_id);
  std::shared_ptr<const RegionSum> region_sum;
  if (!sum_key.empty()) {
    absl::MutexLock lock(&mu_);
    auto it = region_sums_.find(sum_key);
    if (it != region_sums_.end()) region_sum = it->second;
  }
  if (region_sum != nullptr && region_sum->villages == villages) {
    // Kept through `seen` (a change since that named one of its villages
    // would have dropped it before the catch-up returned); the kinds are
    // read on every call, as below.
    ASSIGN_OR_RETURN(std::vector<IndicatorDefinition> definitions,
                     store_->ListIndicatorDefinitions("", -1));
    absl::flat_hash_map<std::string, v1::IndicatorKind> kinds;
    for (const IndicatorDefinition& definition : definitions) {
      kinds[definition.key()] = definition.kind();
    }
    if (kinds == region_sum->kinds) return region_sum->summary;
    return SumKept(villages, window, seen, sum_key, std::move(kinds));
  }
  return SumKept(villages, window, seen, sum_key, std::nullopt);
}

absl::StatusOr<v1::Summary> ProgressSummaries::SumKept(
    const std::vector<std::string>& villages, const SummaryWindow& window,
    uint64_t seen, const std::string& sum_key,
    std::optional<absl::flat_hash_map<std::string, v1::IndicatorKind>>
        read_kinds) {
  const std::string key = WindowKey(window);
  std::vector<Figures> kept(villages.size());
  std::vector<std::string> missing;
  {
    absl::MutexLock lock(&mu_);
    auto it = figures_.find(key);
    for (size_t i = 0; i < villages.size(); ++i) {
      if (it != figures_.end()) {
        auto found = it->second.find(villages[i]);
        if (found != it->second.end()) {
          kept[i] = found->second;
          continue;
        }
      }
      missing.push_back(villages[i]);
    }
  }
  if (!missing.empty()) {
    // Figures kept in the database, by this process or another: valid when
    // read, as a write to a village deletes them in its transaction.
    ASSIGN_OR_RETURN(std::vector<KeptFigures> stored,
                     store_->ReadKeptFigures(key, missing));
    std::vector<std::string> found_villages;
    std::vector<Figures> found;
    found_villages.reserve(stored.size());
    found.reserve(stored.size());
    FiguresDecoder decoder(keys_.get());
    for (KeptFigures& village : stored) {
      ASSIGN_OR_RETURN(VillageFigures figures,
                       decoder.Decode(village.village_id, village.figures));
      found_villages.push_back(std::move(village.village_id));
      found.push_back(
          std::make_shared<const VillageFigures>(std::move(figures)));
    }
    // Both are in village order.
    size_t next = 0;
    std::vector<std::string> still_missing;
    for (size_t i = 0; i < villages.size(); ++i) {
      if (kept[i] != nullptr) continue;
      if (next < found_villages.size() && found_villages[next] == villages[i]) {
        kept[i] = found[next++];
      } else {
        still_missing.push_back(villages[i]);
      }
    }
    FIVESTAR_CHECK(next == found_villages.size(),
                   "kept figures of a village not asked for, or out of order");
    KeepFigures(key, found_villages, found, seen);
    missing = std::move(still_missing);
  }
  absl::flat_hash_map<std::string, v1::IndicatorKind> kinds;
  if (missing.empty() && read_kinds.has_value()) {
    kinds = *std::move(read_kinds);
  } else if (missing.empty()) {
    ASSIGN_OR_RETURN(std::vector<IndicatorDefinition> definitions,
                     store_->ListIndicatorDefinitions("", -1));
    for (const IndicatorDefinition& definition : definitions) {
      kinds[definition.key()] = definition.kind();
    }
  } else {
    // Read after `seen`: the rows hold every change through it.
    ASSIGN_OR_RETURN(SummaryRows rows, ReadRows(store_, missing, window));
    kinds = std::move(rows.kinds);
    std::vector<Figures> fresh;
    fresh.reserve(missing.size());
    ForEachVillageRows(
        rows, missing,
        [&](const std::string&, absl::Span<const TaskSnapshot> tasks,
            int64_t reporting_weeks, absl::Span<const IndicatorValue> values) {
          fresh.push_back(std::make_shared<const VillageFigures>(
              FiguresOf(tasks, reporting_weeks, values, window, keys_.get())));
        });
    size_t next = 0;
    for (size_t i = 0; i < villages.size(); ++i) {
      if (kept[i] != nullptr) continue;
      FIVESTAR_CHECK(next < fresh.size() && missing[next] == villages[i],
                     "village figures out of step with the villages");
      kept[i] = fresh[next];
      ++next;
    }
    KeepFigures(key, missing, fresh, seen);
    KeepInDatabase(key, missing, fresh, seen);
  }
  std::vector<const VillageFigures*> figures;
  figures.reserve(kept.size());
  for (const Figures& village : kept) figures.push_back(village.get());
  v1::Summary summary = SumFigures(figures, kinds, window);
  if (!sum_key.empty()) {
    auto sum = std::make_shared<RegionSum>();
    sum->villages = villages;
    sum->kinds = std::move(kinds);
    sum->summary = summary;
    absl::MutexLock lock(&mu_);
    // As with the figures: kept only if no change was seen since `seen`,
    // so none of its villages changed after their figures were read.
    if (changes_seen_ == seen) {
      const size_t most =
          kSummedVillagesPerCachedVillage * max_cached_villages_;
      auto old = region_sums_.find(sum_key);
      if (old != region_sums_.end()) {
        summed_villages_ -= old->second->villages.size();
        region_sums_.erase(old);
      }
      if (summed_villages_ + villages.size() > most) {
        region_sums_.clear();
        summed_villages_ = 0;
      }
      if (villages.size() <= most) {
        summed_villages_ += villages.size();
        region_sums_.emplace(sum_key, std::move(sum));
      }
    }
  }
  return summary;
}

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
  v1::Summary summary;
  if (window.closed && max_cached_villages_ > 0) {
    ASSIGN_OR_RETURN(summary, SummarizeClosedMonth(villages, window,
                                                   of_village ? "" : subject));
  } else {
    ASSIGN_OR_RETURN(summary, SummarizeTogether(store_, villages, window));
  }
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

  // A closed month's figures read for the page are kept for GetSummary (a
  // region's evaluation reads every village's this way). The feed is read
  // first, so the rows hold every change through the last one seen and
  // later ones drop the figures when GetSummary catches up with the feed.
  std::optional<uint64_t> seen;
  if (window.closed && max_cached_villages_ > 0) {
    ASSIGN_OR_RETURN(seen, CatchUpWithChanges());
  }
  std::vector<Figures> figures;
  ASSIGN_OR_RETURN(std::vector<v1::Summary> summaries,
                   SummarizeEach(store_, page, window, keys_.get(),
                                 seen.has_value() ? &figures : nullptr));
  if (seen.has_value()) {
    KeepFigures(WindowKey(window), page, figures, *seen);
    KeepInDatabase(WindowKey(window), page, figures, *seen);
  }
  v1::ListVillageSummariesResponse response;
  for (v1::Summary& summary : summaries) {
    *response.add_summaries() = std::move(summary);
  }
  response.set_next_page_token(next_page_token);
  return response;
}

}  // namespace fivestar::projects
