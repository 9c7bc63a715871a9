// What an evaluation reads about one village for one month, gathered from
// the registry and project tracking (see InputsSource) or built by tests. A
// plain value: the evaluator computes from it and nothing else, so an
// evaluation is a pure function of (rubric, inputs, overrides).
#ifndef FIVESTAR_SERVICES_SCORING_VILLAGE_INPUTS_H_
#define FIVESTAR_SERVICES_SCORING_VILLAGE_INPUTS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fivestar/common/v1/star.pb.h"
#include "fivestar/registry/v1/registry.pb.h"

namespace fivestar::scoring {

using ::fivestar::common::v1::Star;

// The five stars in enum order, and a star's index into per-star arrays.
inline constexpr std::array<Star, 5> kStars = {
    fivestar::common::v1::BRANCH_STRONG,
    fivestar::common::v1::INDUSTRY_THRIVING, fivestar::common::v1::ECO_LIVABLE,
    fivestar::common::v1::SAFE_LAWFUL, fivestar::common::v1::CIVILIZED_HAPPY};
inline int StarIndex(Star star) { return static_cast<int>(star) - 1; }

// Practical tasks as of the end of the evaluated month (project tracking's
// Summary / StarCompletion figures).
struct TaskCounts {
  int64_t total = 0;  // cancelled ones included
  int64_t delivered = 0;
  int64_t cancelled = 0;
};

// Weekly reporting compliance over a number of weeks ending with the month.
struct ReportingCompliance {
  int weeks = 0;                 // weeks measured
  double weeks_with_report = 0;  // compliance × weeks
};

// What the rubric needs read: the union over its criteria.
struct InputNeeds {
  // Indicator keys read by any criterion (ratios included).
  absl::flat_hash_set<std::string> indicator_keys;
  // The widest indicator window in months (1–120), ending with the month.
  int indicator_months = 1;
  // Each distinct `weeks` of a reporting-compliance criterion (0 → 12
  // already applied).
  absl::flat_hash_set<int> compliance_weeks;
};

struct VillageInputs {
  // The village's registry record as it is now (committee_members,
  // signature_industries, target_level, region_id, name).
  registry::v1::Village village;
  // [village id, its region, ..., root region].
  std::vector<std::string> lineage;
  // The evaluated month, "YYYY-MM".
  std::string period;
  // All of the village's tasks, and per star (index StarIndex(star)).
  TaskCounts all_tasks;
  std::array<TaskCounts, 5> tasks_by_star;
  // Keyed by weeks measured, one entry per InputNeeds::compliance_weeks.
  absl::flat_hash_map<int, ReportingCompliance> compliance;
  // Indicator values in the window: key → month "YYYY-MM" → value. Months
  // without a value are absent.
  absl::flat_hash_map<std::string, absl::btree_map<std::string, double>>
      indicators;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_VILLAGE_INPUTS_H_
