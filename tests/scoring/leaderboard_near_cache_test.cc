// The leaderboards' near-cache against the real stack (registry, project
// tracking, scoring, redis-server): boards and ranks read over gRPC are
// first read twice, so that the near-cache holds them (its hit count
// grows), and after each kind of write (Evaluate, a previous month's
// Evaluate, a re-evaluation by the projects feed, a region rebuild, writes
// while Redis is down and its return, a flushed Redis) the next reads equal
// what scoring's database says, exactly. A near-cache that kept any
// answer across one of these writes fails here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using Stub = v1::ScoringService::Stub;

constexpr Star kOverall = fivestar::common::v1::STAR_UNSPECIFIED;
constexpr Star kEco = fivestar::common::v1::ECO_LIVABLE;
constexpr absl::Duration kHangGuard = absl::Seconds(30);

std::string Describe(const std::vector<RankedEntry>& entries) {
  return DescribeBoard(entries);
}

class LeaderboardNearCacheTest : public ::testing::Test {
 protected:
  void Start(bool follow_feeds) {
    ScoringEnvOptions options;
    options.follow_feeds = follow_feeds;
    env_ = std::make_unique<ScoringTestEnv>(options);
    // A faster probe than production's keeps the Redis cases short.
    env_->RestartScoring([](ScoringServerOptions& o) {
      o.redis.probe_interval = absl::Milliseconds(100);
      o.near_cache.max_entries = 200'000;
    });
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_OK(env_->EvaluateRegion(kHuiche, "2022-08").status());
    ASSERT_TRUE(WaitUntilServedByRedis());
    ASSERT_NE(server().near_cache(), nullptr);
  }

  ScoringServer& server() { return env_->scoring().server(); }

  bool WaitUntilServedByRedis() {
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (absl::Now() < deadline) {
      if (server().cache()->available()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // The board as the database has it, with previous-month ranks, in the
  // response's terms.
  std::string StoredBoard(const BoardKey& board, int page_size) {
    auto slice = server().store().ReadBoard(board, 0, page_size);
    EXPECT_OK(slice);
    if (!slice.ok()) return "";
    std::vector<std::string> ids;
    for (const RankedEntry& e : slice->entries) ids.push_back(e.village_id);
    BoardKey previous = board;
    previous.period = PreviousMonth(board.period);
    auto ranks = server().store().RanksOf(previous, ids);
    EXPECT_OK(ranks);
    std::string out = absl::StrCat("total ", slice->total, ": ");
    for (const RankedEntry& e : slice->entries) {
      int previous_rank = 0;
      for (const RankedEntry& p : *ranks) {
        if (p.village_id == e.village_id) previous_rank = p.rank;
      }
      absl::StrAppend(&out, e.rank, ":", e.village_id, ":", e.stars, ":",
                      e.points, ":", previous_rank, " ");
    }
    return out;
  }

  // The same board served over gRPC; `degraded` set from the answer.
  std::string ServedBoard(const BoardKey& board, int page_size,
                          bool* degraded) {
    v1::GetLeaderboardRequest request;
    request.set_region_id(board.region_id);
    request.set_period(board.period);
    request.set_star(board.star);
    request.set_page_size(page_size);
    auto response = env_->Call(&Stub::GetLeaderboard, request, kViewerToken);
    EXPECT_OK(response);
    if (!response.ok()) return "";
    *degraded = *degraded || response->degraded();
    std::string out = absl::StrCat("total ", response->total_villages(), ": ");
    for (const v1::LeaderboardEntry& e : response->entries()) {
      absl::StrAppend(&out, e.rank(), ":", e.village_id(), ":", e.stars(), ":",
                      e.points(), ":", e.previous_rank(), " ");
    }
    return out;
  }

  // A village's place on its township's board, as the database has it and
  // as served.
  std::string StoredRank(const std::string& village, const std::string& period,
                         Star star) {
    auto hood =
        server().store().ReadNeighbourhood({kHuiche, period, star}, village, 2);
    if (!hood.ok()) return hood.status().ToString();
    return absl::StrCat("total ", hood->total, ": ", Describe(hood->above),
                        "| ", Describe({hood->entry}), "| ",
                        Describe(hood->below));
  }
  std::string ServedRank(const std::string& village, const std::string& period,
                         Star star, bool* degraded) {
    v1::GetVillageRankRequest request;
    request.set_village_id(village);
    request.set_period(period);
    request.set_star(star);
    request.set_neighbours(2);
    auto response = env_->Call(&Stub::GetVillageRank, request, kViewerToken);
    if (!response.ok()) return response.status().ToString();
    *degraded = *degraded || response->degraded();
    auto entries = [](const auto& list) {
      std::vector<RankedEntry> out;
      for (const v1::LeaderboardEntry& e : list) {
        out.push_back({e.rank(), e.village_id(), e.stars(), e.points()});
      }
      return out;
    };
    const v1::LeaderboardEntry& e = response->entry();
    return absl::StrCat(
        "total ", response->total_villages(), ": ",
        Describe(entries(response->above())), "| ",
        Describe({{e.rank(), e.village_id(), e.stars(), e.points()}}), "| ",
        Describe(entries(response->below())));
  }

  // Every board and rank the tests look at: served equals stored. Returns
  // whether any answer was degraded.
  bool ExpectServedEqualsStored() {
    bool degraded = false;
    for (const std::string& period :
         std::vector<std::string>{kPeriod, "2022-08"}) {
      for (const char* region : {kHuiche, kNorth, kCounty, kProvince}) {
        for (Star star : {kOverall, kEco}) {
          for (int page_size : {10, 100}) {
            const BoardKey board{region, period, star};
            EXPECT_EQ(ServedBoard(board, page_size, &degraded),
                      StoredBoard(board, page_size))
                << region << " " << period << " star " << star << " page "
                << page_size;
          }
        }
      }
      for (const std::string& village : villages_) {
        EXPECT_EQ(ServedRank(village, period, kOverall, &degraded),
                  StoredRank(village, period, kOverall))
            << village << " " << period;
      }
    }
    return degraded;
  }

  // Reads everything twice: the second round comes from the near-cache.
  void Warm() {
    EXPECT_FALSE(ExpectServedEqualsStored());
    const int64_t hits = server().near_cache()->hits();
    EXPECT_FALSE(ExpectServedEqualsStored());
    EXPECT_GT(server().near_cache()->hits(), hits);
  }

  // The village last on Huiche's board, given what earns every star.
  std::string Lift(const std::string& period = kPeriod) {
    auto board = env_->Leaderboard(kHuiche, period, kOverall, 100);
    EXPECT_OK(board);
    const std::string last =
        board->entries(board->entries_size() - 1).village_id();
    lifted_from_ = board->entries(board->entries_size() - 1).rank();
    for (const auto& [key, value] : std::vector<std::pair<std::string, double>>{
             {"inspection_score", 100},
             {"civilized_families", 10},
             {"moral_models", 10},
             {"civic_activities", 50},
             {"collective_income_yuan_ytd", 900000}}) {
      EXPECT_OK(env_->SetIndicator(last, key, period, value));
    }
    return last;
  }

  // Whether `village` ranks better on Huiche's served board than the last
  // place Lift() took it from.
  bool MovedUp(const std::string& village) {
    auto board = env_->Leaderboard(kHuiche, kPeriod, kOverall, 100);
    EXPECT_OK(board);
    for (const v1::LeaderboardEntry& e : board->entries()) {
      if (e.village_id() == village) return e.rank() < lifted_from_;
    }
    return false;
  }

  std::unique_ptr<ScoringTestEnv> env_;
  int lifted_from_ = 0;  // the lifted village's rank before
  const std::vector<std::string> villages_ = {kMaohe, kDangziling,
                                              "411323-huiche-north-02"};
};

TEST_F(LeaderboardNearCacheTest, AnEvaluationIsServedAtOnce) {
  Start(false);
  Warm();
  const std::string village = Lift();
  ASSERT_OK(env_->Evaluate(village).status());
  EXPECT_FALSE(ExpectServedEqualsStored());
  // The lifted village now leads Huiche's board, as served.
  EXPECT_TRUE(MovedUp(village));
}

TEST_F(LeaderboardNearCacheTest, APreviousMonthsEvaluationMovesTheRanksShown) {
  Start(false);
  Warm();
  // August's board changes: September's previous ranks must follow.
  const std::string village = Lift("2022-08");
  ASSERT_OK(env_->Evaluate(village, "2022-08").status());
  EXPECT_FALSE(ExpectServedEqualsStored());
}

TEST_F(LeaderboardNearCacheTest, AFeedReEvaluationIsServedOnceApplied) {
  Start(true);
  Warm();
  const FeedFollower* follower = server().projects_follower();
  const std::string village = Lift();
  // Five values, five feed changes: wait until the feed is applied through
  // the last (the re-evaluation and its write-through are done by then).
  // Not "five more than before": the follower may still have been applying
  // the set-up's changes then.
  const uint64_t newest = env_->ProjectsNewest();
  const absl::Time deadline = absl::Now() + kHangGuard;
  while (follower->applied() < newest && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(follower->applied(), newest);
  EXPECT_FALSE(ExpectServedEqualsStored());
  EXPECT_TRUE(MovedUp(village));
}

TEST_F(LeaderboardNearCacheTest, ARegionRebuildIsServedAtOnce) {
  Start(false);
  Warm();
  const std::string village = Lift();
  ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
  EXPECT_FALSE(ExpectServedEqualsStored());
  EXPECT_TRUE(MovedUp(village));
}

TEST_F(LeaderboardNearCacheTest, WritesWhileRedisIsDownAndItsReturnAreServed) {
  Start(false);
  Warm();
  env_->StopRedis();
  const std::string village = Lift();
  ASSERT_OK(env_->Evaluate(village).status());
  // Answered by the database meanwhile, and right.
  EXPECT_TRUE(ExpectServedEqualsStored());
  env_->StartRedis();
  ASSERT_TRUE(WaitUntilServedByRedis());
  EXPECT_FALSE(ExpectServedEqualsStored());
  // Served from memory again, still right.
  Warm();
}

TEST_F(LeaderboardNearCacheTest, AFlushedRedisIsServedRightAfterItsResync) {
  Start(false);
  Warm();
  auto* redis = dynamic_cast<RedisBoardCache*>(server().near_cache()->inner());
  ASSERT_NE(redis, nullptr);
  const int64_t resyncs = redis->resyncs_succeeded();
  env_->FlushRedis();
  // A write right after the flush, before the probe notices it.
  const std::string village = Lift();
  ASSERT_OK(env_->Evaluate(village).status());
  // Bounded wait for the probe's re-sync; then every answer is Redis's and
  // right.
  const absl::Time deadline = absl::Now() + kHangGuard;
  while ((redis->resyncs_succeeded() == resyncs || !redis->available()) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(redis->resyncs_succeeded(), resyncs);
  EXPECT_FALSE(ExpectServedEqualsStored());
  Warm();
}

}  // namespace
}  // namespace fivestar::scoring
