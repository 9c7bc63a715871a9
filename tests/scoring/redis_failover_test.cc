// A Redis failover under the whole stack (registry, project tracking,
// scoring; a Redis master, a replica and a sentinel, scoring finding the
// master through the sentinel): the master is killed (SIGKILL), reads keep
// answering from the database meanwhile, the sentinel promotes the replica,
// and scoring then serves the boards from the new master again, re-synced
// from its database (the replica lacked a write the old master had), and
// writes to it.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::RedisCommand;
using ::fivestar::testing::RedisReply;
using Stub = v1::ScoringService::Stub;

constexpr Star kOverall = fivestar::common::v1::STAR_UNSPECIFIED;
// Bounds every wait: a failover with a 1 s down-after takes a few seconds.
constexpr absl::Duration kBound = absl::Seconds(20);

// The integer reply to `command` on 127.0.0.1:`port` (0 for a status), or
// -1.
long long Raw(int port, const std::vector<std::string>& command) {
  absl::StatusOr<RedisReply> reply = RedisCommand(port, command);
  if (!reply.ok()) return -1;
  if ((*reply)->type == REDIS_REPLY_INTEGER) return (*reply)->integer;
  return (*reply)->type == REDIS_REPLY_STATUS ? 0 : -1;
}

class RedisFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;  // scores change only by Evaluate
    options.redis_sentinel = true;
    env_ = std::make_unique<ScoringTestEnv>(options);
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_TRUE(WaitUntil(
        [&] { return env_->scoring().server().cache()->available(); }));
  }

  static bool WaitUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + kBound;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // Huiche's overall board as served, polled (bounded) until Redis serves
  // it (not degraded); `degraded` says whether it ever did not.
  std::string ServedFromRedis(bool* degraded) {
    std::string served;
    *degraded = true;
    WaitUntil([&] {
      absl::StatusOr<v1::GetLeaderboardResponse> board =
          env_->Leaderboard(kHuiche, kPeriod, kOverall, 100);
      if (!board.ok()) {
        served = board.status().ToString();
        return false;
      }
      served = DescribeBoard(EntriesOf(*board));
      *degraded = board->degraded();
      return !*degraded;
    });
    return served;
  }

  std::unique_ptr<ScoringTestEnv> env_;
};

TEST_F(RedisFailoverTest, KilledMasterFailsOverAndTheBoardsAreResynced) {
  fivestar::testing::RedisFailoverGroup& redis = *env_->redis_failover();
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> recorded,
                       RecordedEvaluations(*env_));
  ASSERT_EQ(recorded.size(), 21u);
  const std::vector<RankedEntry> expected = ExpectedBoard(recorded, kOverall);
  bool degraded = true;
  ASSERT_EQ(ServedFromRedis(&degraded), DescribeBoard(expected));
  ASSERT_FALSE(degraded);

  // The replica has every write-through so far; then it loses the top
  // village's, standing for one the old master accepted and died before
  // replicating. Its marker stays: only the master's move can tell.
  ASSERT_OK(redis.WaitForReplication());
  const std::string key =
      RedisBoardCache::KeyFor("fivestar", BoardKey{kHuiche, kPeriod, kOverall});
  const int replica = redis.replica->port();
  ASSERT_EQ(Raw(replica, {"CONFIG", "SET", "replica-read-only", "no"}), 0);
  ASSERT_EQ(Raw(replica, {"ZREM", key, expected.front().village_id}), 1);
  ASSERT_EQ(Raw(replica, {"CONFIG", "SET", "replica-read-only", "yes"}), 0);

  redis.master->Kill();
  // Reads answer throughout, from the database while there is no master.
  ASSERT_OK_AND_ASSIGN(v1::GetLeaderboardResponse during,
                       env_->Leaderboard(kHuiche, kPeriod, kOverall, 100));
  EXPECT_TRUE(during.degraded());
  EXPECT_EQ(DescribeBoard(EntriesOf(during)), DescribeBoard(expected));

  ASSERT_OK(redis.WaitForFailover(kBound));
  // Served by the new master, re-synced from the database: the village the
  // replica lacked is back, every entry exact.
  EXPECT_EQ(ServedFromRedis(&degraded), DescribeBoard(expected));
  EXPECT_FALSE(degraded);
  EXPECT_EQ(Raw(replica, {"ZCARD", key}), 21);
  for (const RankedEntry& entry : expected) {
    v1::GetVillageRankRequest request;
    request.set_village_id(entry.village_id);
    request.set_period(kPeriod);
    ASSERT_OK_AND_ASSIGN(v1::GetVillageRankResponse rank,
                         env_->Call(&Stub::GetVillageRank, request));
    EXPECT_FALSE(rank.degraded()) << entry.village_id;
    EXPECT_EQ(rank.entry().rank(), entry.rank) << entry.village_id;
    EXPECT_EQ(rank.entry().stars(), entry.stars) << entry.village_id;
    EXPECT_EQ(rank.entry().points(), entry.points) << entry.village_id;
  }

  // A new evaluation is written through to the new master.
  const std::string& last = expected.back().village_id;
  ASSERT_OK(env_->SetIndicator(last, "inspection_score", kPeriod, 100));
  ASSERT_OK(env_->Evaluate(last).status());
  ASSERT_OK_AND_ASSIGN(recorded, RecordedEvaluations(*env_));
  const std::vector<RankedEntry> after = ExpectedBoard(recorded, kOverall);
  ASSERT_NE(DescribeBoard(after), DescribeBoard(expected));
  EXPECT_EQ(ServedFromRedis(&degraded), DescribeBoard(after));
  EXPECT_FALSE(degraded);
}

}  // namespace
}  // namespace fivestar::scoring
