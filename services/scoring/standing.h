// A recorded evaluation as the leaderboards see it: the village, the month,
// where the village sat in the region tree, and its stars and points
// overall and per star. Shared by the store (system of record) and the
// Redis board cache.
#ifndef FIVESTAR_SERVICES_SCORING_STANDING_H_
#define FIVESTAR_SERVICES_SCORING_STANDING_H_

#include <array>
#include <string>
#include <vector>

#include "fivestar/common/v1/star.pb.h"
#include "fivestar/scoring/v1/scoring.pb.h"

namespace fivestar::scoring {

struct StarStanding {
  bool earned = false;
  int points = 0;
};

struct Standing {
  std::string village_id;
  std::string period;  // "YYYY-MM"
  int rubric_version = 0;
  // [village id, its region, ..., root region] when evaluated.
  std::vector<std::string> lineage;
  int stars = 0;                         // stars earned
  int points = 0;                        // total points over the five stars
  std::array<StarStanding, 5> per_star;  // index StarIndex(star)
};

// The Standing of an evaluation and the lineage it was made with.
Standing StandingOf(const v1::Evaluation& evaluation,
                    const std::vector<std::string>& lineage);

// One board: a region's villages for a month, overall (star
// STAR_UNSPECIFIED) or for one star.
struct BoardKey {
  std::string region_id;
  std::string period;
  fivestar::common::v1::Star star = fivestar::common::v1::STAR_UNSPECIFIED;

  bool operator==(const BoardKey& other) const {
    return region_id == other.region_id && period == other.period &&
           star == other.star;
  }
};

// A village's (stars, points) on a board: overall, or for a per-star board
// (earned ? 1 : 0, that star's points).
struct BoardScore {
  std::string village_id;
  int stars = 0;
  int points = 0;
};

// BoardScore of `standing` on a board of `star`.
BoardScore ScoreOn(const Standing& standing, fivestar::common::v1::Star star);

// A village's place: competition rank ("1, 2, 2, 4") by stars, then points
// (most first); equal villages listed by village id.
struct RankedEntry {
  int rank = 0;
  std::string village_id;
  int stars = 0;
  int points = 0;
};

// A slice of a board in board order and the board's size.
struct BoardSlice {
  int total = 0;
  std::vector<RankedEntry> entries;
};

// A village's entry with its neighbours.
struct BoardNeighbourhood {
  int total = 0;
  RankedEntry entry;
  std::vector<RankedEntry> above;  // in board order
  std::vector<RankedEntry> below;  // in board order
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_STANDING_H_
