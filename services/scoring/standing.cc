#include "services/scoring/standing.h"

#include "services/scoring/village_inputs.h"

namespace fivestar::scoring {

Standing StandingOf(const v1::Evaluation& evaluation,
                    const std::vector<std::string>& lineage) {
  Standing standing;
  standing.village_id = evaluation.village_id();
  standing.period = evaluation.period();
  standing.rubric_version = evaluation.rubric_version();
  standing.lineage = lineage;
  standing.stars = evaluation.stars_earned();
  standing.points = evaluation.total_points();
  for (const v1::StarResult& star : evaluation.stars()) {
    const int index = StarIndex(star.star());
    if (index < 0 || index >= 5) continue;
    standing.per_star[index] = {star.earned(), star.points()};
  }
  return standing;
}

BoardScore ScoreOn(const Standing& standing, fivestar::common::v1::Star star) {
  if (star == fivestar::common::v1::STAR_UNSPECIFIED) {
    return {standing.village_id, standing.stars, standing.points};
  }
  const StarStanding& one = standing.per_star[StarIndex(star)];
  return {standing.village_id, one.earned ? 1 : 0, one.points};
}

}  // namespace fivestar::scoring
