// The incentives a village earns in a year from the stars it holds (DESIGN
// §4): level incentives (work funds, base pay uplift) from the awarded level,
// and monthly committee-member bonuses for recognised stars. Pure logic:
// awards and the time are passed in.
#ifndef FIVESTAR_SERVICES_SCORING_INCENTIVES_H_
#define FIVESTAR_SERVICES_SCORING_INCENTIVES_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fivestar/scoring/v1/scoring.pb.h"

namespace fivestar::scoring {

// Whether `award` makes its village hold its star at instant `t`: it
// reached AWARDED at award_time ≤ t and was not withdrawn (close_time) at or
// before t.
bool HeldAt(const v1::Award& award, absl::Time t);

// The incentives of `village_id` for `year` under `rubric`'s incentive
// rules, from the village's `awards` (any state; awards of other villages
// are ignored) and its current `committee_members`.
// - The level is the number of stars held at the end of the year (China
//   time), or at `now` for the current year (then `provisional`); 0 when
//   the rubric's prerequisite star is not held; capped by max_level.
// - Of the level incentives, only the one with the highest min_level
//   reached applies (the first in rule order on a tie): a WORK_FUNDS item
//   when its funds are > 0 and a BASE_PAY_UPLIFT item when its uplift is >
//   0.
// - A star-recognition rule counts the months of the year at whose last
//   instant the star was held by an award recognised at min_authority or
//   above (for the current year, only months ended by `now`); an item of
//   bonus × members × months when months > 0.
// Items are in rule order; total_yuan sums them.
v1::Incentives ComputeIncentives(const v1::Rubric& rubric,
                                 const std::string& village_id, int year,
                                 absl::Time now,
                                 const std::vector<v1::Award>& awards,
                                 int committee_members);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_INCENTIVES_H_
