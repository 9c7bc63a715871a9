// The evaluation of one village for one month under a rubric (DESIGN §5),
// and the what-if form of it: per criterion the measured value against its
// threshold, per star passed / earned with its points, and the level. A
// pure function of (rubric, inputs, overrides): no clock, no I/O.
#ifndef FIVESTAR_SERVICES_SCORING_EVALUATOR_H_
#define FIVESTAR_SERVICES_SCORING_EVALUATOR_H_

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/rubric.h"
#include "services/scoring/village_inputs.h"

namespace fivestar::scoring {

// Hypothetical inputs of a WhatIf.
struct Overrides {
  // (indicator key, month "YYYY-MM") → the value assumed for that month.
  absl::flat_hash_map<std::pair<std::string, std::string>, double> indicators;
  // Criterion id → the measured value assumed; wins over `indicators`.
  absl::flat_hash_map<std::string, double> criteria;
};

// Evaluates `inputs` under `rubric` (a valid rubric; its star rules in any
// order), with `overrides` when given. Fills everything of the Evaluation
// but `recorded` and `evaluate_time`, which are the caller's.
//
// Per criterion (CriterionResult):
// - indicator: the window is WindowMonths() months ending with
//   inputs.period. LATEST takes the most recent month of the window with a
//   value (value_missing, unmet, actual 0 when none); SUM_LAST_N_MONTHS adds
//   the window's values (an empty window is 0, or value_missing and unmet
//   with require_data).
// - task completion: delivered / (total − cancelled) of the star's tasks
//   (all tasks for STAR_UNSPECIFIED); numerator and denominator are those.
// - reporting compliance: weeks_with_report / weeks of the window of
//   ComplianceWeeks() weeks; value_missing when inputs lack that window.
// - registry field: committee_members, or the number of
//   signature_industries, of inputs.village.
// - ratio: the two aggregated indicators; value_missing when either side
//   is.
// A rate or ratio whose denominator is 0 is vacuous: met, actual 1. EQ holds
// within 1e-9 × max(1, |threshold|); other comparators are exact. A
// criterion override replaces the measured value (numerator, denominator,
// vacuous and value_missing are then cleared); `overridden` is set when a
// criterion override or an indicator override inside the criterion's window
// touched it.
//
// StarResult.reason (empty when earned) is one line of causes joined by
// "; ", in this order:
//   "mandatory criterion <id> not met (<actual> <op> <threshold>)" per unmet
//       mandatory criterion in rubric order, <op> the relation that holds
//       instead ("<" for GE, "<=" for GT, ">" for LE, ">=" for LT, "!=" for
//       EQ), numbers as FormatNumber; "(no value)" when value_missing;
//   "prerequisite star <STAR> not passed" when the star passed but the
//       rubric's prerequisite star did not;
//   "<points> points, pass mark <pass_mark>" or, when short,
//       "<points> points, below pass mark <pass_mark>" — always last.
// e.g. "mandatory criterion branch_task_completion not met (0.7 < 0.75); 60
// points, pass mark 60".
v1::Evaluation Evaluate(const v1::Rubric& rubric, const VillageInputs& inputs,
                        const Overrides* overrides = nullptr);

// OK when `request`'s overrides are acceptable for `rubric` and
// `catalogue`; INVALID_ARGUMENT naming the field otherwise: period not
// YYYY-MM; more than 1000 overrides of a kind; an unknown indicator key; an
// override period not YYYY-MM; a value not finite, outside the indicator's
// [min, max] or not whole for an integral one; a (key, period) or criterion
// given twice (empty period counting as the request's); an unknown criterion
// id; a non-finite criterion value.
absl::Status ValidateWhatIf(const v1::WhatIfRequest& request,
                            const v1::Rubric& rubric,
                            const IndicatorCatalogue& catalogue);

// The overrides of a (valid) request; an empty period means the request's.
Overrides OverridesOf(const v1::WhatIfRequest& request);

// Both evaluations and the stars earned in one but not the other.
v1::WhatIfResponse CompareWhatIf(v1::Evaluation baseline,
                                 v1::Evaluation scenario);

// Whether `actual` satisfies `comparator` against `threshold` (EQ within
// 1e-9 × max(1, |threshold|)). Shared with the gap computation.
bool Satisfies(v1::Comparator comparator, double actual, double threshold);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_EVALUATOR_H_
