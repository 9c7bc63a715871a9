// The leaderboards over gRPC against the real stack: board order and
// competition ranks checked against the recorded evaluations at every
// region level, per-star boards, paging, neighbours, movement across two
// months, frozen snapshots; and Redis stopped, restarted and flushed: reads
// stay right (marked degraded) and the cache is re-synced with no call.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::StatusIs;
using Stub = v1::ScoringService::Stub;

constexpr Star kUnspecified = fivestar::common::v1::STAR_UNSPECIFIED;

class LeaderboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;
    env_ = std::make_unique<ScoringTestEnv>(options);
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
  }

  std::vector<v1::Evaluation> Evaluations(const std::string& period = kPeriod) {
    auto evaluations = RecordedEvaluations(*env_, period);
    EXPECT_OK(evaluations);
    return evaluations.ok() ? *evaluations : std::vector<v1::Evaluation>();
  }

  // Every page of a board, `page_size` at a time.
  std::vector<RankedEntry> ReadAll(const std::string& region, Star star,
                                   int page_size, bool* degraded = nullptr,
                                   const std::string& period = kPeriod) {
    v1::GetLeaderboardRequest request;
    request.set_region_id(region);
    request.set_period(period);
    request.set_star(star);
    request.set_page_size(page_size);
    std::vector<RankedEntry> board;
    for (int page = 0; page < 100; ++page) {
      auto response = env_->Call(&Stub::GetLeaderboard, request, kViewerToken);
      EXPECT_OK(response);
      if (!response.ok()) break;
      if (degraded != nullptr) *degraded = response->degraded();
      for (const v1::LeaderboardEntry& e : response->entries()) {
        board.push_back({e.rank(), e.village_id(), e.stars(), e.points()});
      }
      if (response->next_page_token().empty()) break;
      request.set_page_token(response->next_page_token());
    }
    return board;
  }

  std::unique_ptr<ScoringTestEnv> env_;
};

TEST_F(LeaderboardTest, BoardsAtEveryRegionLevelMatchTheEvaluations) {
  const std::vector<v1::Evaluation> all = Evaluations();
  ASSERT_EQ(all.size(), 21u);
  std::vector<v1::Evaluation> north;
  for (const v1::Evaluation& e : all) {
    if (e.village_id().rfind(kNorth, 0) == 0) north.push_back(e);
  }
  bool saw_tie = false;
  for (Star star :
       {kUnspecified, fivestar::common::v1::BRANCH_STRONG,
        fivestar::common::v1::INDUSTRY_THRIVING,
        fivestar::common::v1::ECO_LIVABLE, fivestar::common::v1::SAFE_LAWFUL,
        fivestar::common::v1::CIVILIZED_HAPPY}) {
    for (const char* region : {kHuiche, kCounty, kCity, kProvince}) {
      bool degraded = true;
      const std::vector<RankedEntry> board =
          ReadAll(region, star, 4, &degraded);
      const std::vector<RankedEntry> expected = ExpectedBoard(all, star);
      EXPECT_EQ(DescribeBoard(board), DescribeBoard(expected))
          << "region " << region << " star " << star;
      EXPECT_FALSE(degraded);
      for (size_t i = 1; i < board.size(); ++i) {
        saw_tie = saw_tie || board[i].rank == board[i - 1].rank;
      }
    }
    EXPECT_EQ(DescribeBoard(ReadAll(kNorth, star, 100)),
              DescribeBoard(ExpectedBoard(north, star)));
  }
  // Competition ranking needs ties to show; Huiche's villages have some.
  EXPECT_TRUE(saw_tie);
}

TEST_F(LeaderboardTest, PagesAndTotals) {
  ASSERT_OK_AND_ASSIGN(auto first,
                       env_->Leaderboard(kHuiche, kPeriod, kUnspecified, 10));
  EXPECT_EQ(first.total_villages(), 21);
  EXPECT_EQ(first.entries_size(), 10);
  EXPECT_FALSE(first.next_page_token().empty());
  EXPECT_EQ(first.region_id(), kHuiche);
  // The token is bound to the board it was made for.
  v1::GetLeaderboardRequest request;
  request.set_region_id(kCounty);
  request.set_period(kPeriod);
  request.set_page_token(first.next_page_token());
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
  request.set_region_id("no-such-region");
  request.clear_page_token();
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound, ""));
  request.set_region_id(kHuiche);
  request.set_period("2022-13");
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "period"));
  request.set_period(kPeriod);
  request.set_page_size(1001);
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_size"));
  // Another township's operator sees nothing of Huiche.
  request.set_page_size(0);
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  // A month nobody was evaluated for: an empty board.
  request.set_period("2022-07");
  ASSERT_OK_AND_ASSIGN(
      auto empty, env_->Call(&Stub::GetLeaderboard, request, kViewerToken));
  EXPECT_EQ(empty.total_villages(), 0);
  EXPECT_EQ(empty.entries_size(), 0);
}

TEST_F(LeaderboardTest, RankWithNeighboursAtTheEdgesAndInTheMiddle) {
  const std::vector<RankedEntry> board = ReadAll(kHuiche, kUnspecified, 100);
  ASSERT_EQ(board.size(), 21u);
  for (size_t at : {size_t{0}, size_t{10}, size_t{20}}) {
    v1::GetVillageRankRequest request;
    request.set_village_id(board[at].village_id);
    request.set_period(kPeriod);
    request.set_neighbours(2);
    ASSERT_OK_AND_ASSIGN(auto rank, env_->Call(&Stub::GetVillageRank, request,
                                               kHuicheViewerToken));
    EXPECT_EQ(rank.region_id(), kHuiche);  // the village's township
    EXPECT_EQ(rank.total_villages(), 21);
    EXPECT_EQ(rank.entry().rank(), board[at].rank);
    EXPECT_EQ(rank.entry().village_id(), board[at].village_id);
    const size_t above = std::min<size_t>(at, 2);
    const size_t below = std::min<size_t>(20 - at, 2);
    ASSERT_EQ(static_cast<size_t>(rank.above_size()), above);
    ASSERT_EQ(static_cast<size_t>(rank.below_size()), below);
    for (size_t i = 0; i < above; ++i) {
      EXPECT_EQ(rank.above(i).village_id(), board[at - above + i].village_id);
    }
    for (size_t i = 0; i < below; ++i) {
      EXPECT_EQ(rank.below(i).village_id(), board[at + 1 + i].village_id);
    }
  }
  v1::GetVillageRankRequest request;
  request.set_village_id(kMaohe);
  request.set_period(kPeriod);
  request.set_region_id(kWest);
  EXPECT_THAT(env_->Call(&Stub::GetVillageRank, request, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "region_id"));
  request.set_region_id(kProvince);
  ASSERT_OK_AND_ASSIGN(
      auto province, env_->Call(&Stub::GetVillageRank, request, kViewerToken));
  EXPECT_EQ(province.region_id(), kProvince);
  request.set_period("2022-08");
  EXPECT_THAT(env_->Call(&Stub::GetVillageRank, request, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-huiche-north-01 has no recorded "
                       "evaluation for 2022-08"));
  // The same answer from the database when the cache is down.
  env_->StopRedis();
  EXPECT_THAT(env_->Call(&Stub::GetVillageRank, request, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-huiche-north-01 has no recorded "
                       "evaluation for 2022-08"));
}

TEST_F(LeaderboardTest, RankOnABoardAboveTheScopeListsOnlyReadableNeighbours) {
  v1::GetVillageRankRequest request;
  request.set_village_id(kMaohe);
  request.set_period(kPeriod);
  request.set_neighbours(50);
  ASSERT_OK_AND_ASSIGN(
      auto all, env_->Call(&Stub::GetVillageRank, request, kViewerToken));
  ASSERT_EQ(all.above_size() + all.below_size(), 20);
  // A district operator: its village's place on the township board, with
  // the neighbours of its own district only.
  ASSERT_OK_AND_ASSIGN(auto north, env_->Call(&Stub::GetVillageRank, request,
                                              kNorthOperatorToken));
  EXPECT_EQ(north.region_id(), kHuiche);
  EXPECT_EQ(north.total_villages(), all.total_villages());
  EXPECT_EQ(north.entry().rank(), all.entry().rank());
  auto in_north = [](const auto& entries) {
    std::vector<std::string> ids;
    for (const v1::LeaderboardEntry& entry : entries) {
      if (absl::StartsWith(entry.village_id(), kNorth)) {
        ids.push_back(entry.village_id());
      }
    }
    return ids;
  };
  auto ids = [](const auto& entries) {
    std::vector<std::string> out;
    for (const v1::LeaderboardEntry& entry : entries) {
      out.push_back(entry.village_id());
    }
    return out;
  };
  EXPECT_EQ(ids(north.above()), in_north(all.above()));
  EXPECT_EQ(ids(north.below()), in_north(all.below()));
  EXPECT_EQ(north.above_size() + north.below_size(), 3);
  // A village viewer: its own place, no neighbour.
  ASSERT_OK_AND_ASSIGN(
      auto own, env_->Call(&Stub::GetVillageRank, request, kMaoheViewerToken));
  EXPECT_EQ(own.entry().rank(), all.entry().rank());
  EXPECT_EQ(own.total_villages(), all.total_villages());
  EXPECT_EQ(own.above_size() + own.below_size(), 0);
  // But not the board itself, which ranks villages outside its scope.
  v1::GetLeaderboardRequest board;
  board.set_region_id(kHuiche);
  board.set_period(kPeriod);
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, board, kMaoheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "outside its scope 411323-huiche-north-01"));
}

TEST_F(LeaderboardTest, MovementAgainstThePreviousMonth) {
  // August has no indicator values yet: a different board.
  ASSERT_OK(env_->EvaluateRegion(kHuiche, "2022-08").status());
  const std::vector<RankedEntry> august =
      ReadAll(kHuiche, kUnspecified, 100, nullptr, "2022-08");
  std::map<std::string, int> before;
  for (const RankedEntry& e : august) before[e.village_id] = e.rank;
  ASSERT_OK_AND_ASSIGN(auto september, env_->Leaderboard(kHuiche));
  bool moved = false;
  for (const v1::LeaderboardEntry& e : september.entries()) {
    EXPECT_EQ(e.previous_rank(), before[e.village_id()]) << e.village_id();
    EXPECT_EQ(e.rank_change(), e.previous_rank() - e.rank());
    moved = moved || e.rank_change() != 0;
  }
  EXPECT_TRUE(moved);
  // In August nobody was ranked in July.
  ASSERT_OK_AND_ASSIGN(auto first, env_->Leaderboard(kHuiche, "2022-08"));
  for (const v1::LeaderboardEntry& e : first.entries()) {
    EXPECT_EQ(e.previous_rank(), 0);
    EXPECT_EQ(e.rank_change(), 0);
  }
}

TEST_F(LeaderboardTest, FrozenBoardsNeverChange) {
  v1::FreezeLeaderboardRequest freeze;
  freeze.set_region_id(kHuiche);
  freeze.set_period(kPeriod);
  freeze.set_comment("九月观摩评比");
  EXPECT_THAT(env_->Call(&Stub::FreezeLeaderboard, freeze, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  ASSERT_OK_AND_ASSIGN(
      v1::LeaderboardSnapshot snapshot,
      env_->Call(&Stub::FreezeLeaderboard, freeze, kHuicheOperatorToken));
  EXPECT_EQ(snapshot.creator(), "huiche-operator");
  EXPECT_EQ(snapshot.total_villages(), 21);
  EXPECT_THAT(env_->Call(&Stub::FreezeLeaderboard, freeze, kAdminToken),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));

  v1::GetLeaderboardRequest request;
  request.set_region_id(kHuiche);
  request.set_period(kPeriod);
  request.set_snapshot(true);
  ASSERT_OK_AND_ASSIGN(
      auto frozen, env_->Call(&Stub::GetLeaderboard, request, kViewerToken));
  ASSERT_OK_AND_ASSIGN(auto live, env_->Leaderboard(kHuiche));
  EXPECT_EQ(frozen.snapshot().creator(), "huiche-operator");
  ASSERT_EQ(frozen.entries_size(), live.entries_size());
  for (int i = 0; i < live.entries_size(); ++i) {
    EXPECT_EQ(frozen.entries(i).village_id(), live.entries(i).village_id());
    EXPECT_EQ(frozen.entries(i).rank(), live.entries(i).rank());
  }

  // The last village gets every indicator a star needs; the live board
  // changes, the frozen one does not.
  const std::string last = live.entries(live.entries_size() - 1).village_id();
  for (const auto& [key, value] : std::vector<std::pair<std::string, double>>{
           {"inspection_score", 100},
           {"civilized_families", 10},
           {"moral_models", 10},
           {"civic_activities", 50},
           {"collective_income_yuan_ytd", 900000}}) {
    ASSERT_OK(env_->SetIndicator(last, key, kPeriod, value));
  }
  ASSERT_OK(env_->Evaluate(last).status());
  ASSERT_OK_AND_ASSIGN(auto live_after, env_->Leaderboard(kHuiche));
  EXPECT_NE(live_after.entries(live_after.entries_size() - 1).village_id(),
            last);
  ASSERT_OK_AND_ASSIGN(auto frozen_after, env_->Call(&Stub::GetLeaderboard,
                                                     request, kViewerToken));
  for (int i = 0; i < frozen.entries_size(); ++i) {
    EXPECT_EQ(frozen_after.entries(i).village_id(),
              frozen.entries(i).village_id());
    EXPECT_EQ(frozen_after.entries(i).points(), frozen.entries(i).points());
  }
  request.set_period("2022-08");
  EXPECT_THAT(env_->Call(&Stub::GetLeaderboard, request, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

// Waits (bounded) until the cache answers `board` exactly as the store
// does: the re-sync happened with no call from the test.
bool WaitForCacheEqualToStore(ScoringServer& server, const BoardKey& board) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (server.cache()->available()) {
      auto cached = server.cache()->ReadBoard(board, 0, 1000);
      auto stored = server.store().ReadBoard(board, 0, 1000);
      if (cached.ok() && stored.ok() && cached->total == stored->total &&
          cached->total > 0 &&
          DescribeBoard(cached->entries) == DescribeBoard(stored->entries)) {
        return true;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST_F(LeaderboardTest, RedisDownReadsStayRightAndWritesSucceed) {
  const std::vector<RankedEntry> before = ReadAll(kHuiche, kUnspecified, 100);
  env_->StopRedis();
  bool degraded = false;
  EXPECT_EQ(DescribeBoard(ReadAll(kHuiche, kUnspecified, 7, &degraded)),
            DescribeBoard(before));
  EXPECT_TRUE(degraded);
  v1::GetVillageRankRequest rank;
  rank.set_village_id(kMaohe);
  rank.set_period(kPeriod);
  ASSERT_OK_AND_ASSIGN(auto degraded_rank,
                       env_->Call(&Stub::GetVillageRank, rank, kViewerToken));
  EXPECT_TRUE(degraded_rank.degraded());

  // A write while Redis is down is accepted and seen by degraded reads.
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 10));
  ASSERT_OK_AND_ASSIGN(v1::Evaluation evaluation, env_->Evaluate(kMaohe));
  std::vector<v1::Evaluation> all = Evaluations();
  const std::string expected = DescribeBoard(ExpectedBoard(all, kUnspecified));
  EXPECT_EQ(DescribeBoard(ReadAll(kHuiche, kUnspecified, 100)), expected);

  // Redis returns (empty): the boards are re-synced with no call, and
  // equal the database.
  env_->StartRedis();
  ScoringServer& server = env_->scoring().server();
  EXPECT_TRUE(
      WaitForCacheEqualToStore(server, {kHuiche, kPeriod, kUnspecified}));
  EXPECT_TRUE(WaitForCacheEqualToStore(
      server, {kProvince, kPeriod, fivestar::common::v1::ECO_LIVABLE}));
  degraded = true;
  EXPECT_EQ(DescribeBoard(ReadAll(kHuiche, kUnspecified, 100, &degraded)),
            expected);
  EXPECT_FALSE(degraded);
}

TEST_F(LeaderboardTest, AFlushedCacheIsResyncedWithNoCall) {
  const std::vector<RankedEntry> before = ReadAll(kHuiche, kUnspecified, 100);
  env_->FlushRedis();
  ScoringServer& server = env_->scoring().server();
  EXPECT_TRUE(
      WaitForCacheEqualToStore(server, {kHuiche, kPeriod, kUnspecified}));
  EXPECT_TRUE(WaitForCacheEqualToStore(
      server, {kNorth, kPeriod, fivestar::common::v1::BRANCH_STRONG}));
  bool degraded = true;
  EXPECT_EQ(DescribeBoard(ReadAll(kHuiche, kUnspecified, 100, &degraded)),
            DescribeBoard(before));
  EXPECT_FALSE(degraded);
}

TEST_F(LeaderboardTest, WithoutRedisEveryReadIsDegradedAndRight) {
  ScoringEnvOptions options;
  options.redis = false;
  options.follow_feeds = false;
  ScoringTestEnv env(options);
  ASSERT_OK(env.EvaluateRegion(kHuiche).status());
  ASSERT_OK_AND_ASSIGN(auto board, env.Leaderboard(kHuiche));
  EXPECT_TRUE(board.degraded());
  EXPECT_EQ(board.total_villages(), 21);
  const std::vector<RankedEntry> cached = ReadAll(kHuiche, kUnspecified, 100);
  ASSERT_EQ(cached.size(), 21u);
  for (int i = 0; i < 21; ++i) {
    EXPECT_EQ(board.entries(i).village_id(), cached[i].village_id);
    EXPECT_EQ(board.entries(i).rank(), cached[i].rank);
  }
}

}  // namespace
}  // namespace fivestar::scoring
