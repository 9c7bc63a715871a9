// RedisBoardCache behind Redis Sentinel, against real processes (a master,
// a replica, a sentinel): it finds the master through the sentinels,
// refuses a name no sentinel knows and a server that is not a master, and
// after the master is killed and the sentinel promotes the replica it
// serves again from the new master, with the boards re-synced from the
// store although the new master still has the marker.
#include "tests/testing/redis_sentinel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/testing/ports.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using fivestar::common::v1::STAR_UNSPECIFIED;
using fivestar::testing::PickFreePort;
using fivestar::testing::RedisCommand;
using fivestar::testing::RedisFailoverGroup;
using fivestar::testing::RedisReply;
using fivestar::testing::RedisSentinel;
using fivestar::testing::RedisSentinelOptions;
using fivestar::testing::RedisServer;
using fivestar::testing::RedisServerOptions;
using fivestar::testing::StatusIs;
using ::testing::ElementsAre;

constexpr char kPeriod[] = "2026-03";
constexpr char kPrefix[] = "test";
constexpr char kMasterName[] = "boards";
// Bounds every wait: a failover with a 1 s down-after takes a few seconds.
constexpr absl::Duration kFailoverBound = absl::Seconds(20);

MATCHER_P4(Entry, rank, village_id, stars, points, "") {
  return arg.rank == rank && arg.village_id == village_id &&
         arg.stars == stars && arg.points == points;
}

bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = kFailoverBound) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

Standing MakeStanding(const std::string& village, const std::string& region,
                      int stars, int points) {
  Standing standing;
  standing.village_id = village;
  standing.period = kPeriod;
  standing.lineage = {village, region};
  standing.stars = stars;
  standing.points = points;
  return standing;
}

BoardKey Board(const std::string& region) {
  return {region, kPeriod, STAR_UNSPECIFIED};
}

// The reply to `command` on 127.0.0.1:`port` as an integer (an array's
// size, 0 for a status), or -1.
long long Raw(int port, const std::vector<std::string>& command) {
  absl::StatusOr<RedisReply> reply = RedisCommand(port, command);
  if (!reply.ok()) return -1;
  switch ((*reply)->type) {
    case REDIS_REPLY_INTEGER:
      return (*reply)->integer;
    case REDIS_REPLY_ARRAY:
      return static_cast<long long>((*reply)->elements);
    case REDIS_REPLY_STATUS:
      return 0;
    default:
      return -1;
  }
}

// A loopback port nobody listens on: a sentinel that is down.
int DeadPort() {
  absl::StatusOr<int> port = PickFreePort();
  return port.ok() ? *port : 1;
}

RedisOptions SentinelOptions(const std::vector<int>& sentinel_ports,
                             const std::string& master_name) {
  RedisOptions options;
  options.host.clear();
  for (int port : sentinel_ports) {
    options.sentinels.push_back({"127.0.0.1", port});
  }
  options.master_name = master_name;
  options.connect_timeout = absl::Milliseconds(300);
  options.command_timeout = absl::Milliseconds(300);
  options.probe_interval = absl::Milliseconds(50);
  options.key_prefix = kPrefix;
  return options;
}

// The reason a cache that never came up gives, once its probe has tried.
std::string DownReason(RedisBoardCache& cache) {
  std::string message;
  WaitFor([&] {
    message =
        std::string(cache.ReadBoard(Board("town-a"), 0, 10).status().message());
    return message != "leaderboard cache unavailable: not connected yet";
  });
  return message;
}

class RedisSentinelTest : public ::testing::Test {
 protected:
  // A cache whose re-sync rebuilds from store_, the test's system of record.
  std::unique_ptr<RedisBoardCache> StartCache(const RedisOptions& options) {
    auto cache = std::make_unique<RedisBoardCache>(options);
    RedisBoardCache* raw = cache.get();
    cache->SetResyncCallback([this, raw]() -> absl::Status {
      resync_calls_.fetch_add(1);
      RETURN_IF_ERROR(raw->Clear());
      std::vector<Standing> standings;
      {
        absl::MutexLock lock(&store_mu_);
        standings = store_;
      }
      return raw->ReplaceBoards(kPeriod, standings);
    });
    cache->Start();
    return cache;
  }

  // Recorded in the store, then written through, as the service does.
  void Record(RedisBoardCache& cache, const Standing& standing) {
    {
      absl::MutexLock lock(&store_mu_);
      store_.push_back(standing);
    }
    ASSERT_OK(cache.Write(standing, {}));
  }

  std::atomic<int> resync_calls_{0};
  absl::Mutex store_mu_;
  std::vector<Standing> store_ ABSL_GUARDED_BY(store_mu_);
};

TEST_F(RedisSentinelTest, FindsTheMasterThroughTheSentinelsInTurn) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> master,
                       RedisServer::Start());
  RedisSentinelOptions sentinel_options;
  sentinel_options.master_name = kMasterName;
  sentinel_options.master_port = master->port();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisSentinel> sentinel,
                       RedisSentinel::Start(sentinel_options));
  // The first sentinel is down; the second answers.
  std::unique_ptr<RedisBoardCache> cache =
      StartCache(SentinelOptions({DeadPort(), sentinel->port()}, kMasterName));
  ASSERT_TRUE(WaitFor([&] { return cache->available(); }))
      << DownReason(*cache);

  Record(*cache, MakeStanding("v-a", "town-a", 2, 10));
  Record(*cache, MakeStanding("v-b", "town-a", 3, 5));
  ASSERT_OK_AND_ASSIGN(BoardSlice slice,
                       cache->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_EQ(slice.total, 2);
  EXPECT_THAT(slice.entries,
              ElementsAre(Entry(1, "v-b", 3, 5), Entry(2, "v-a", 2, 10)));
  // Written to the master the sentinel named.
  EXPECT_EQ(Raw(master->port(),
                {"ZCARD", RedisBoardCache::KeyFor(kPrefix, Board("town-a"))}),
            2);
  EXPECT_EQ(Raw(master->port(), {"EXISTS", "test:marker"}), 1);
}

TEST_F(RedisSentinelTest,
       UnknownMasterNameIsUnavailableNamingItAndEachSentinel) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> master,
                       RedisServer::Start());
  RedisSentinelOptions sentinel_options;
  sentinel_options.master_name = kMasterName;
  sentinel_options.master_port = master->port();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisSentinel> sentinel,
                       RedisSentinel::Start(sentinel_options));
  const int dead = DeadPort();
  std::unique_ptr<RedisBoardCache> cache =
      StartCache(SentinelOptions({dead, sentinel->port()}, "no-such-master"));

  EXPECT_EQ(DownReason(*cache),
            absl::StrCat("leaderboard cache unavailable: no sentinel gave the "
                         "address of master \"no-such-master\" (sentinel "
                         "127.0.0.1:",
                         dead, ": Connection refused; sentinel 127.0.0.1:",
                         sentinel->port(), ": master unknown)"));
  EXPECT_FALSE(cache->available());
  EXPECT_THAT(cache->Write(MakeStanding("v-a", "town-a", 1, 1), {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: no sentinel gave the "
                       "address of master \"no-such-master\""));
  EXPECT_EQ(resync_calls_.load(), 0);
  EXPECT_EQ(Raw(master->port(), {"DBSIZE"}), 0);
}

TEST_F(RedisSentinelTest, AReplicaTheSentinelNamesAsMasterIsNotWrittenTo) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> master,
                       RedisServer::Start());
  RedisServerOptions replica_options;
  replica_options.replica_of = master->port();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> replica,
                       RedisServer::Start(replica_options));
  // A sentinel whose answer is stale: it names the replica as the master
  // (as right after a demotion). A long down-after keeps it from acting on
  // the role it sees.
  RedisSentinelOptions sentinel_options;
  sentinel_options.master_name = "stale";
  sentinel_options.master_port = replica->port();
  sentinel_options.down_after = absl::Seconds(60);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisSentinel> sentinel,
                       RedisSentinel::Start(sentinel_options));
  std::unique_ptr<RedisBoardCache> cache =
      StartCache(SentinelOptions({sentinel->port()}, "stale"));

  EXPECT_EQ(
      DownReason(*cache),
      absl::StrCat(
          "leaderboard cache unavailable: redis at 127.0.0.1:", replica->port(),
          " (master \"stale\" by sentinel 127.0.0.1:", sentinel->port(),
          "): is a slave, not a master"));
  EXPECT_FALSE(cache->available());
  EXPECT_EQ(resync_calls_.load(), 0);
  EXPECT_EQ(Raw(master->port(), {"DBSIZE"}), 0);
}

TEST_F(RedisSentinelTest, FailoverReconnectsToThePromotedReplicaAndResyncs) {
  ASSERT_OK_AND_ASSIGN(RedisFailoverGroup group,
                       RedisFailoverGroup::Start(kMasterName));
  std::unique_ptr<RedisBoardCache> cache =
      StartCache(SentinelOptions({group.sentinel->port()}, kMasterName));
  ASSERT_TRUE(WaitFor([&] { return cache->available(); }))
      << DownReason(*cache);
  ASSERT_EQ(resync_calls_.load(), 1);  // the one at start

  Record(*cache, MakeStanding("v-a", "town-a", 2, 10));
  Record(*cache, MakeStanding("v-b", "town-a", 1, 7));
  Record(*cache, MakeStanding("v-c", "town-a", 3, 1));
  // v-b rises; the replica gets every write so far...
  {
    absl::MutexLock lock(&store_mu_);
    store_[1] = MakeStanding("v-b", "town-a", 4, 2);
  }
  ASSERT_OK(cache->Write(MakeStanding("v-b", "town-a", 4, 2), {}));
  ASSERT_OK(group.WaitForReplication());
  // ...but stands here for one that is lost: the old master accepted v-b's
  // rise and died before the replica had it. The new master must not serve
  // v-b's old score.
  const std::string key = RedisBoardCache::KeyFor(kPrefix, Board("town-a"));
  ASSERT_EQ(
      Raw(group.replica->port(), {"CONFIG", "SET", "replica-read-only", "no"}),
      0);
  ASSERT_EQ(Raw(group.replica->port(), {"ZADD", key, "-1000007", "v-b"}), 0);
  ASSERT_EQ(
      Raw(group.replica->port(), {"CONFIG", "SET", "replica-read-only", "yes"}),
      0);

  group.master->Kill();
  // The next call finds the master gone; calls then fail at once.
  EXPECT_THAT(cache->ReadBoard(Board("town-a"), 0, 10),
              StatusIs(absl::StatusCode::kUnavailable,
                       absl::StrCat("leaderboard cache unavailable: redis at "
                                    "127.0.0.1:",
                                    group.master->port())));
  EXPECT_FALSE(cache->available());

  ASSERT_OK(group.WaitForFailover(kFailoverBound));
  ASSERT_TRUE(WaitFor([&] { return cache->available(); }))
      << DownReason(*cache);
  // Re-synced because the master moved: its marker came with the data.
  EXPECT_EQ(resync_calls_.load(), 2);
  EXPECT_EQ(Raw(group.replica->port(), {"EXISTS", "test:marker"}), 1);
  ASSERT_OK_AND_ASSIGN(BoardSlice slice,
                       cache->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_EQ(slice.total, 3);
  EXPECT_THAT(slice.entries,
              ElementsAre(Entry(1, "v-b", 4, 2), Entry(2, "v-c", 3, 1),
                          Entry(3, "v-a", 2, 10)));

  // Writes go to the new master.
  Record(*cache, MakeStanding("v-d", "town-a", 5, 0));
  ASSERT_OK_AND_ASSIGN(slice, cache->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_THAT(slice.entries,
              ElementsAre(Entry(1, "v-d", 5, 0), Entry(2, "v-b", 4, 2),
                          Entry(3, "v-c", 3, 1), Entry(4, "v-a", 2, 10)));
  EXPECT_EQ(Raw(group.replica->port(), {"ZCARD", key}), 4);
}

}  // namespace
}  // namespace fivestar::scoring
