// The leaderboards as the recorded evaluations imply them, computed
// independently of the service (no Redis, no store query): the oracle the
// leaderboard and Redis fault tests compare the served boards with.
#ifndef FIVESTAR_TESTS_SCORING_BOARD_ORACLE_H_
#define FIVESTAR_TESTS_SCORING_BOARD_ORACLE_H_

#include <string>
#include <vector>

#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/standing.h"
#include "tests/scoring/scoring_test_env.h"

namespace fivestar::scoring::testing {

// The board of `evaluations` for `star` (STAR_UNSPECIFIED: overall): most
// stars, then most points, then village id ascending, with competition
// ranks (tied scores share a rank).
std::vector<RankedEntry> ExpectedBoard(
    const std::vector<v1::Evaluation>& evaluations,
    fivestar::common::v1::Star star);

// "rank:village:stars:points " per entry, for readable comparisons.
std::string DescribeBoard(const std::vector<RankedEntry>& board);

// The entries of a GetLeaderboard response as RankedEntry values.
std::vector<RankedEntry> EntriesOf(const v1::GetLeaderboardResponse& response);

// Every evaluation recorded for `period`, read back over gRPC
// (GetEvaluation) for each village the store has a standing for, in village
// id order.
absl::StatusOr<std::vector<v1::Evaluation>> RecordedEvaluations(
    ScoringTestEnv& env, const std::string& period = kPeriod);

}  // namespace fivestar::scoring::testing

#endif  // FIVESTAR_TESTS_SCORING_BOARD_ORACLE_H_
