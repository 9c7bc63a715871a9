// The gap to a target level (学先进，找差距，补短板): from an evaluation, what
// each star not earned lacks and which stars to work on. Pure logic.
#ifndef FIVESTAR_SERVICES_SCORING_GAP_H_
#define FIVESTAR_SERVICES_SCORING_GAP_H_

#include "absl/status/statusor.h"
#include "fivestar/scoring/v1/scoring.pb.h"

namespace fivestar::scoring {

// The Gap of `evaluation` (made under `rubric`) to `target_level`, per the
// comments of Gap, StarGap and CriterionGap:
// - every star not earned, easiest first (fewest criteria to fix, then
//   fewest points short of the pass mark, then star order), with its unmet
//   mandatory criteria and then unmet optional ones, most points first,
//   until the points (counting those of the fixed mandatory ones) reach the
//   pass mark; a star that passed but lacks only the prerequisite has none;
// - the plan: the prerequisite star when not earned, then the easiest
//   others, until stars_needed stars are planned.
// tasks_to_deliver is the smallest n with (numerator + n) / denominator
// meeting the comparator, n ≤ denominator − numerator (0 when none does).
// INVALID_ARGUMENT when `target_level` is not 1..5 (the caller resolves 0
// to the registry's target); FAILED_PRECONDITION when it is above the
// rubric's max_level.
absl::StatusOr<v1::Gap> ComputeGap(const v1::Rubric& rubric,
                                   const v1::Evaluation& evaluation,
                                   int target_level);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_GAP_H_
