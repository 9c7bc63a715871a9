#include "tests/scoring/board_oracle.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar::scoring::testing {
namespace {

struct Row {
  std::string village;
  int stars;
  int points;
};

}  // namespace

std::vector<RankedEntry> ExpectedBoard(
    const std::vector<v1::Evaluation>& evaluations,
    fivestar::common::v1::Star star) {
  std::vector<Row> rows;
  for (const v1::Evaluation& e : evaluations) {
    if (star == fivestar::common::v1::STAR_UNSPECIFIED) {
      rows.push_back({e.village_id(), e.stars_earned(), e.total_points()});
    } else {
      for (const v1::StarResult& s : e.stars()) {
        if (s.star() == star) {
          rows.push_back({e.village_id(), s.earned() ? 1 : 0, s.points()});
        }
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(b.stars, b.points, a.village) <
           std::tie(a.stars, a.points, b.village);
  });
  std::vector<RankedEntry> board;
  for (size_t i = 0; i < rows.size(); ++i) {
    int rank = static_cast<int>(i) + 1;
    if (i > 0 && rows[i].stars == rows[i - 1].stars &&
        rows[i].points == rows[i - 1].points) {
      rank = board.back().rank;
    }
    board.push_back({rank, rows[i].village, rows[i].stars, rows[i].points});
  }
  return board;
}

std::string DescribeBoard(const std::vector<RankedEntry>& board) {
  std::string out;
  for (const RankedEntry& e : board) {
    absl::StrAppend(&out, e.rank, ":", e.village_id, ":", e.stars, ":",
                    e.points, " ");
  }
  return out;
}

std::vector<RankedEntry> EntriesOf(const v1::GetLeaderboardResponse& response) {
  std::vector<RankedEntry> entries;
  for (const v1::LeaderboardEntry& e : response.entries()) {
    entries.push_back({e.rank(), e.village_id(), e.stars(), e.points()});
  }
  return entries;
}

absl::StatusOr<std::vector<v1::Evaluation>> RecordedEvaluations(
    ScoringTestEnv& env, const std::string& period) {
  ASSIGN_OR_RETURN(
      std::vector<Standing> standings,
      env.scoring().server().store().ListStandings(period, "", 100000));
  std::vector<v1::Evaluation> out;
  v1::GetEvaluationRequest request;
  request.set_period(period);
  for (const Standing& standing : standings) {
    request.set_village_id(standing.village_id);
    ASSIGN_OR_RETURN(v1::Evaluation evaluation,
                     env.Call(&v1::ScoringService::Stub::GetEvaluation, request,
                              kViewerToken));
    out.push_back(std::move(evaluation));
  }
  return out;
}

}  // namespace fivestar::scoring::testing
