#include "services/scoring/gap.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/scoring/evaluator.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::Star;
using ::fivestar::common::v1::STAR_UNSPECIFIED;

// The fewest more deliveries that make the rate meet the criterion.
int64_t TasksToDeliver(const v1::CriterionResult& result) {
  const auto delivered = static_cast<int64_t>(std::llround(result.numerator()));
  const auto counted = static_cast<int64_t>(std::llround(result.denominator()));
  if (counted <= 0) return 0;
  for (int64_t n = 0; delivered + n <= counted; ++n) {
    const double rate =
        static_cast<double>(delivered + n) / static_cast<double>(counted);
    if (Satisfies(result.comparator(), rate, result.threshold())) return n;
  }
  return 0;
}

v1::CriterionGap GapOf(const v1::CriterionResult& result,
                       bool task_completion) {
  v1::CriterionGap gap;
  gap.set_criterion_id(result.criterion_id());
  gap.set_description(result.description());
  gap.set_mandatory(result.mandatory());
  gap.set_comparator(result.comparator());
  gap.set_threshold(result.threshold());
  gap.set_actual(result.actual());
  gap.set_change_needed(result.threshold() - result.actual());
  gap.set_points(result.max_points());
  gap.set_value_missing(result.value_missing());
  if (task_completion && !result.value_missing()) {
    gap.set_tasks_to_deliver(TasksToDeliver(result));
  }
  return gap;
}

}  // namespace

absl::StatusOr<v1::Gap> ComputeGap(const v1::Rubric& rubric,
                                   const v1::Evaluation& evaluation,
                                   int target_level) {
  RETURN_IF_ERROR(ValidateRange("target_level", target_level, 1, 5));
  const int cap = rubric.global_rules().max_level();
  if (cap > 0 && target_level > cap) {
    return absl::FailedPreconditionError(
        absl::StrCat("target_level ", target_level,
                     " is above the rubric's level cap of ", cap));
  }
  // Criterion id → whether it measures task completion.
  absl::flat_hash_map<std::string, bool> task_completion;
  for (const v1::StarRule& rule : rubric.stars()) {
    for (const v1::Criterion& criterion : rule.criteria()) {
      task_completion[criterion.id()] =
          criterion.input_case() == v1::Criterion::kTaskCompletion;
    }
  }

  v1::Gap gap;
  gap.set_village_id(evaluation.village_id());
  gap.set_period(evaluation.period());
  gap.set_rubric_version(evaluation.rubric_version());
  gap.set_current_level(evaluation.level());
  gap.set_target_level(target_level);
  gap.set_reached(evaluation.level() >= target_level);
  gap.set_stars_needed(std::max(0, target_level - evaluation.level()));

  for (const v1::StarResult& star : evaluation.stars()) {
    if (star.earned()) continue;
    v1::StarGap* star_gap = gap.add_stars();
    star_gap->set_star(star.star());
    star_gap->set_points(star.points());
    star_gap->set_pass_mark(star.pass_mark());
    if (star.passed()) continue;  // Only the prerequisite is missing.
    int points = star.points();
    std::vector<const v1::CriterionResult*> optional;
    for (const v1::CriterionResult& criterion : star.criteria()) {
      if (criterion.met()) continue;
      if (criterion.mandatory()) {
        *star_gap->add_criteria_to_fix() =
            GapOf(criterion, task_completion[criterion.criterion_id()]);
        points += criterion.max_points();
      } else {
        optional.push_back(&criterion);
      }
    }
    std::stable_sort(
        optional.begin(), optional.end(),
        [](const v1::CriterionResult* a, const v1::CriterionResult* b) {
          return a->max_points() > b->max_points();
        });
    for (const v1::CriterionResult* criterion : optional) {
      if (points >= star.pass_mark()) break;
      *star_gap->add_criteria_to_fix() =
          GapOf(*criterion, task_completion[criterion->criterion_id()]);
      points += criterion->max_points();
    }
  }
  std::stable_sort(
      gap.mutable_stars()->begin(), gap.mutable_stars()->end(),
      [](const v1::StarGap& a, const v1::StarGap& b) {
        const int short_a = std::max(0, a.pass_mark() - a.points());
        const int short_b = std::max(0, b.pass_mark() - b.points());
        if (a.criteria_to_fix_size() != b.criteria_to_fix_size()) {
          return a.criteria_to_fix_size() < b.criteria_to_fix_size();
        }
        if (short_a != short_b) return short_a < short_b;
        return a.star() < b.star();
      });

  const Star prerequisite = rubric.global_rules().prerequisite_star();
  auto plan = [&gap](v1::StarGap* star) {
    star->set_in_plan(true);
    gap.add_plan(star->star());
  };
  if (gap.stars_needed() > 0 && prerequisite != STAR_UNSPECIFIED) {
    for (v1::StarGap& star : *gap.mutable_stars()) {
      if (star.star() == prerequisite) plan(&star);
    }
  }
  for (v1::StarGap& star : *gap.mutable_stars()) {
    if (gap.plan_size() >= gap.stars_needed()) break;
    if (!star.in_plan()) plan(&star);
  }
  return gap;
}

}  // namespace fivestar::scoring
