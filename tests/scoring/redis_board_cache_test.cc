// RedisBoardCache against a real redis-server: board order and ranks,
// write-through, bulk rebuilds under concurrent readers, and the cache's
// behaviour when Redis stops, hangs, restarts empty, is flushed or wants a
// password.
#include "services/scoring/redis_board_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using fivestar::common::v1::BRANCH_STRONG;
using fivestar::common::v1::INDUSTRY_THRIVING;
using fivestar::common::v1::Star;
using fivestar::common::v1::STAR_UNSPECIFIED;
using fivestar::testing::RedisServer;
using fivestar::testing::RedisServerOptions;
using fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kPeriod[] = "2026-03";
constexpr char kPrefix[] = "test";

MATCHER_P4(Entry, rank, village_id, stars, points, "") {
  return arg.rank == rank && arg.village_id == village_id &&
         arg.stars == stars && arg.points == points;
}

bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

Standing MakeStanding(const std::string& village,
                      std::vector<std::string> regions, int stars, int points,
                      const std::string& period = kPeriod) {
  Standing standing;
  standing.village_id = village;
  standing.period = period;
  standing.lineage = {village};
  standing.lineage.insert(standing.lineage.end(), regions.begin(),
                          regions.end());
  standing.stars = stars;
  standing.points = points;
  return standing;
}

BoardKey Board(const std::string& region, Star star = STAR_UNSPECIFIED,
               const std::string& period = kPeriod) {
  return {region, period, star};
}

// One command on a separate connection, for what the cache cannot do
// (FLUSHALL, looking at raw keys). Returns the integer reply, or the number
// of elements of an array reply.
long long Raw(int port, const std::vector<std::string>& command,
              const std::string& password = "") {
  redisContext* context = redisConnect("127.0.0.1", port);
  if (context == nullptr || context->err != 0) {
    if (context != nullptr) redisFree(context);
    return -1;
  }
  if (!password.empty()) {
    freeReplyObject(redisCommand(context, "AUTH %s", password.c_str()));
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  long long result = -1;
  if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) {
    result = reply->integer;
  } else if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY) {
    result = static_cast<long long>(reply->elements);
  } else if (reply != nullptr && reply->type == REDIS_REPLY_STATUS) {
    result = 0;
  }
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(context);
  return result;
}

class RedisBoardCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    cache_ = StartCache(Options(redis_->port()));
    ASSERT_TRUE(WaitFor([&] { return cache_->available(); }));
  }

  static RedisOptions Options(int port) {
    RedisOptions options;
    options.port = port;
    options.connect_timeout = absl::Milliseconds(300);
    options.command_timeout = absl::Milliseconds(300);
    options.probe_interval = absl::Milliseconds(50);
    options.key_prefix = kPrefix;
    return options;
  }

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
  void Record(const Standing& standing) {
    {
      absl::MutexLock lock(&store_mu_);
      store_.push_back(standing);
    }
    ASSERT_OK(cache_->Write(standing, {}));
  }

  std::vector<std::string> Members(const BoardKey& board) {
    absl::StatusOr<BoardSlice> slice = cache_->ReadBoard(board, 0, 1000);
    std::vector<std::string> members;
    if (!slice.ok()) return {"<" + slice.status().ToString() + ">"};
    for (const RankedEntry& entry : slice->entries) {
      members.push_back(entry.village_id);
    }
    return members;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisBoardCache> cache_;
  std::atomic<int> resync_calls_{0};
  absl::Mutex store_mu_;
  std::vector<Standing> store_ ABSL_GUARDED_BY(store_mu_);
};

TEST(RedisBoardCacheKeyTest, KeyCarriesRegionAndStarAsHashTag) {
  EXPECT_EQ(RedisBoardCache::KeyFor("fivestar", Board("county-x")),
            "fivestar:board:{county-x:0}:2026-03");
  EXPECT_EQ(
      RedisBoardCache::KeyFor("fivestar", Board("county-x", INDUSTRY_THRIVING)),
      "fivestar:board:{county-x:2}:2026-03");
}

TEST_F(RedisBoardCacheTest, StartRunsTheResyncOnceAndWritesTheMarker) {
  EXPECT_EQ(resync_calls_.load(), 1);
  EXPECT_EQ(cache_->resyncs_succeeded(), 1);
  EXPECT_EQ(Raw(redis_->port(), {"EXISTS", "test:marker"}), 1);
}

TEST_F(RedisBoardCacheTest, TiedScoresShareRankAndListByVillageId) {
  Record(MakeStanding("v-d", {"town-a", "county-x"}, 2, 100));
  Record(MakeStanding("v-c", {"town-a", "county-x"}, 2, 150));
  Record(MakeStanding("v-b", {"town-a", "county-x"}, 2, 150));
  Record(MakeStanding("v-a", {"town-a", "county-x"}, 3, 20));

  for (const std::string region : {"town-a", "county-x"}) {
    ASSERT_OK_AND_ASSIGN(BoardSlice slice,
                         cache_->ReadBoard(Board(region), 0, 10));
    EXPECT_EQ(slice.total, 4);
    EXPECT_THAT(slice.entries,
                ElementsAre(Entry(1, "v-a", 3, 20), Entry(2, "v-b", 2, 150),
                            Entry(2, "v-c", 2, 150), Entry(4, "v-d", 2, 100)));
  }
  // Not on a board of its own: lineage[0] is the village.
  ASSERT_OK_AND_ASSIGN(BoardSlice own, cache_->ReadBoard(Board("v-a"), 0, 10));
  EXPECT_EQ(own.total, 0);
  EXPECT_THAT(own.entries, IsEmpty());
  // Nor on another month's.
  ASSERT_OK_AND_ASSIGN(
      BoardSlice other,
      cache_->ReadBoard(Board("town-a", STAR_UNSPECIFIED, "2026-02"), 0, 10));
  EXPECT_EQ(other.total, 0);
}

TEST_F(RedisBoardCacheTest, PerStarBoardsRankByThatStarOnly) {
  Standing a = MakeStanding("v-a", {"town-a"}, 3, 300);
  a.per_star[0] = {true, 80};
  a.per_star[1] = {false, 55};
  Standing b = MakeStanding("v-b", {"town-a"}, 1, 100);
  b.per_star[0] = {true, 90};
  b.per_star[1] = {true, 40};
  Record(a);
  Record(b);

  ASSERT_OK_AND_ASSIGN(
      BoardSlice branch,
      cache_->ReadBoard(Board("town-a", BRANCH_STRONG), 0, 10));
  EXPECT_THAT(branch.entries,
              ElementsAre(Entry(1, "v-b", 1, 90), Entry(2, "v-a", 1, 80)));
  ASSERT_OK_AND_ASSIGN(
      BoardSlice industry,
      cache_->ReadBoard(Board("town-a", INDUSTRY_THRIVING), 0, 10));
  EXPECT_THAT(industry.entries,
              ElementsAre(Entry(1, "v-b", 1, 40), Entry(2, "v-a", 0, 55)));
  // A star nobody scored on: everyone tied at (0, 0).
  ASSERT_OK_AND_ASSIGN(
      BoardSlice fifth,
      cache_->ReadBoard(Board("town-a", fivestar::common::v1::CIVILIZED_HAPPY),
                        0, 10));
  EXPECT_THAT(fifth.entries,
              ElementsAre(Entry(1, "v-a", 0, 0), Entry(1, "v-b", 0, 0)));
}

TEST_F(RedisBoardCacheTest, PagesCarryCompetitionRanks) {
  Record(MakeStanding("v-a", {"town-a"}, 3, 20));
  Record(MakeStanding("v-b", {"town-a"}, 2, 150));
  Record(MakeStanding("v-c", {"town-a"}, 2, 150));
  Record(MakeStanding("v-d", {"town-a"}, 2, 100));
  Record(MakeStanding("v-e", {"town-a"}, 0, 999999));

  ASSERT_OK_AND_ASSIGN(BoardSlice middle,
                       cache_->ReadBoard(Board("town-a"), 2, 2));
  EXPECT_EQ(middle.total, 5);
  EXPECT_THAT(middle.entries,
              ElementsAre(Entry(2, "v-c", 2, 150), Entry(4, "v-d", 2, 100)));
  ASSERT_OK_AND_ASSIGN(BoardSlice last,
                       cache_->ReadBoard(Board("town-a"), 4, 10));
  EXPECT_THAT(last.entries, ElementsAre(Entry(5, "v-e", 0, 999999)));
  ASSERT_OK_AND_ASSIGN(BoardSlice beyond,
                       cache_->ReadBoard(Board("town-a"), 5, 10));
  EXPECT_EQ(beyond.total, 5);
  EXPECT_THAT(beyond.entries, IsEmpty());
  ASSERT_OK_AND_ASSIGN(BoardSlice none,
                       cache_->ReadBoard(Board("town-a"), 0, 0));
  EXPECT_EQ(none.total, 5);
  EXPECT_THAT(none.entries, IsEmpty());

  EXPECT_THAT(cache_->ReadBoard(Board("town-a"), -1, 10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "offset: must be 0..2147483647, got -1"));
  EXPECT_THAT(cache_->ReadBoard(Board("town-a"), 0, -5),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "limit: must be 0..2147483647, got -5"));
}

TEST_F(RedisBoardCacheTest, RanksOfListsThoseOnTheBoardInTheOrderAsked) {
  Record(MakeStanding("v-a", {"town-a"}, 3, 20));
  Record(MakeStanding("v-b", {"town-a"}, 2, 150));
  Record(MakeStanding("v-c", {"town-a"}, 2, 150));
  Record(MakeStanding("v-d", {"town-a"}, 2, 100));

  ASSERT_OK_AND_ASSIGN(
      std::vector<RankedEntry> ranks,
      cache_->RanksOf(Board("town-a"), {"v-d", "v-unknown", "v-c", "v-a"}));
  EXPECT_THAT(ranks,
              ElementsAre(Entry(4, "v-d", 2, 100), Entry(2, "v-c", 2, 150),
                          Entry(1, "v-a", 3, 20)));
  ASSERT_OK_AND_ASSIGN(ranks, cache_->RanksOf(Board("town-b"), {"v-a"}));
  EXPECT_THAT(ranks, IsEmpty());
}

TEST_F(RedisBoardCacheTest, NeighbourhoodStopsAtBothEdges) {
  Record(MakeStanding("v-1", {"town-a"}, 5, 0));
  Record(MakeStanding("v-2", {"town-a"}, 4, 0));
  Record(MakeStanding("v-3", {"town-a"}, 3, 0));
  Record(MakeStanding("v-4", {"town-a"}, 3, 0));
  Record(MakeStanding("v-5", {"town-a"}, 1, 0));

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood top,
                       cache_->ReadNeighbourhood(Board("town-a"), "v-1", 2));
  EXPECT_EQ(top.total, 5);
  EXPECT_THAT(top.entry, Entry(1, "v-1", 5, 0));
  EXPECT_THAT(top.above, IsEmpty());
  EXPECT_THAT(top.below,
              ElementsAre(Entry(2, "v-2", 4, 0), Entry(3, "v-3", 3, 0)));

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood bottom,
                       cache_->ReadNeighbourhood(Board("town-a"), "v-5", 2));
  EXPECT_THAT(bottom.entry, Entry(5, "v-5", 1, 0));
  EXPECT_THAT(bottom.above,
              ElementsAre(Entry(3, "v-3", 3, 0), Entry(3, "v-4", 3, 0)));
  EXPECT_THAT(bottom.below, IsEmpty());

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood tied,
                       cache_->ReadNeighbourhood(Board("town-a"), "v-4", 1));
  EXPECT_THAT(tied.entry, Entry(3, "v-4", 3, 0));
  EXPECT_THAT(tied.above, ElementsAre(Entry(3, "v-3", 3, 0)));
  EXPECT_THAT(tied.below, ElementsAre(Entry(5, "v-5", 1, 0)));

  EXPECT_THAT(cache_->ReadNeighbourhood(Board("town-a"), "v-9", 2),
              StatusIs(absl::StatusCode::kNotFound,
                       "village v-9 is not on the board of region town-a, "
                       "period 2026-03, star 0"));
}

TEST_F(RedisBoardCacheTest, ReadsSurviveAFlushedScriptCache) {
  Record(MakeStanding("v-a", {"town-a"}, 1, 1));
  ASSERT_EQ(Raw(redis_->port(), {"SCRIPT", "FLUSH"}), 0);
  ASSERT_OK_AND_ASSIGN(BoardSlice slice,
                       cache_->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_THAT(slice.entries, ElementsAre(Entry(1, "v-a", 1, 1)));
  ASSERT_OK_AND_ASSIGN(std::vector<RankedEntry> ranks,
                       cache_->RanksOf(Board("town-a"), {"v-a"}));
  EXPECT_THAT(ranks, ElementsAre(Entry(1, "v-a", 1, 1)));
  EXPECT_EQ(cache_->failures(), 0);
  EXPECT_TRUE(cache_->available());
}

TEST_F(RedisBoardCacheTest, MoveLeavesOnlyTheOldRegionsBoards) {
  const Standing before = MakeStanding("v-a", {"town-a", "county-x"}, 2, 10);
  ASSERT_OK(cache_->Write(before, {}));
  ASSERT_OK(
      cache_->Write(MakeStanding("v-b", {"town-a", "county-x"}, 1, 0), {}));

  const Standing now = MakeStanding("v-a", {"town-b", "county-x"}, 3, 5);
  ASSERT_OK(cache_->Write(now, {before}));

  for (Star star : {STAR_UNSPECIFIED, BRANCH_STRONG, INDUSTRY_THRIVING,
                    fivestar::common::v1::CIVILIZED_HAPPY}) {
    EXPECT_THAT(Members(Board("town-a", star)), ElementsAre("v-b"));
    EXPECT_THAT(Members(Board("town-b", star)), ElementsAre("v-a"));
    EXPECT_THAT(Members(Board("county-x", star)), ElementsAre("v-a", "v-b"));
  }
  ASSERT_OK_AND_ASSIGN(BoardSlice county,
                       cache_->ReadBoard(Board("county-x"), 0, 10));
  EXPECT_THAT(county.entries,
              ElementsAre(Entry(1, "v-a", 3, 5), Entry(2, "v-b", 1, 0)));
}

TEST_F(RedisBoardCacheTest, RemoveTakesTheVillageOffEveryBoard) {
  const Standing a = MakeStanding("v-a", {"town-a", "county-x"}, 2, 10);
  ASSERT_OK(cache_->Write(a, {}));
  ASSERT_OK(
      cache_->Write(MakeStanding("v-b", {"town-a", "county-x"}, 1, 0), {}));
  ASSERT_OK(cache_->Remove({a}));
  EXPECT_THAT(Members(Board("town-a")), ElementsAre("v-b"));
  EXPECT_THAT(Members(Board("county-x", BRANCH_STRONG)), ElementsAre("v-b"));
}

TEST_F(RedisBoardCacheTest, WriteRejectsScoresTheEncodingCannotHold) {
  EXPECT_THAT(cache_->Write(MakeStanding("v-a", {"town-a"}, 2, -1), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "now.points: must be 0..999999, got -1"));
  Standing big = MakeStanding("v-a", {"town-a"}, 2, 5);
  big.per_star[3].points = 1'000'000;
  EXPECT_THAT(cache_->Write(big, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "now.per_star[3].points: must be 0..999999, got "
                       "1000000"));
  EXPECT_THAT(Members(Board("town-a")), IsEmpty());
}

TEST_F(RedisBoardCacheTest, ReplaceBoardsReplacesExactlyTheLineagesBoards) {
  ASSERT_OK(
      cache_->Write(MakeStanding("v-a", {"town-a", "county-x"}, 1, 1), {}));
  ASSERT_OK(
      cache_->Write(MakeStanding("v-stale", {"town-a", "county-x"}, 5, 0), {}));
  ASSERT_OK(
      cache_->Write(MakeStanding("v-z", {"town-z", "county-z"}, 1, 1), {}));
  ASSERT_OK(cache_->Write(
      MakeStanding("v-old", {"town-a", "county-x"}, 1, 1, "2026-02"), {}));

  ASSERT_OK(cache_->ReplaceBoards(
      kPeriod, {MakeStanding("v-a", {"town-a", "county-x"}, 4, 7),
                MakeStanding("v-c", {"town-c", "county-x"}, 2, 0)}));

  ASSERT_OK_AND_ASSIGN(BoardSlice town,
                       cache_->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_EQ(town.total, 1);
  EXPECT_THAT(town.entries, ElementsAre(Entry(1, "v-a", 4, 7)));
  EXPECT_THAT(Members(Board("town-a", BRANCH_STRONG)), ElementsAre("v-a"));
  EXPECT_THAT(Members(Board("town-c")), ElementsAre("v-c"));
  EXPECT_THAT(Members(Board("county-x")), ElementsAre("v-a", "v-c"));
  // Other regions and months are not touched.
  EXPECT_THAT(Members(Board("town-z")), ElementsAre("v-z"));
  EXPECT_THAT(Members(Board("town-a", STAR_UNSPECIFIED, "2026-02")),
              ElementsAre("v-old"));
  // No temporary key is left behind, and live boards do not expire.
  EXPECT_EQ(Raw(redis_->port(), {"KEYS", "test:*:tmp:*"}), 0);
  EXPECT_EQ(Raw(redis_->port(),
                {"TTL", RedisBoardCache::KeyFor(kPrefix, Board("town-a"))}),
            -1);
  // 3 regions × 6 boards this month, 2 × 6 for town-z, 2 × 6 last month.
  EXPECT_EQ(Raw(redis_->port(), {"KEYS", "test:board:*"}), 18 + 12 + 12);
}

TEST_F(RedisBoardCacheTest, ReplaceBoardsRejectsAStandingOfAnotherMonth) {
  EXPECT_THAT(cache_->ReplaceBoards(
                  kPeriod, {MakeStanding("v-a", {"town-a"}, 1, 1),
                            MakeStanding("v-b", {"town-a"}, 1, 1, "2026-02")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "standings[1].period: must be 2026-03, got 2026-02"));
  EXPECT_THAT(Members(Board("town-a")), IsEmpty());
}

TEST_F(RedisBoardCacheTest, ReaderSeesTheOldOrTheNewBoardNeverAPartOne) {
  // Large enough to take several ZADD commands and pipelines per rebuild.
  auto board_of = [](int size, const std::string& tag) {
    std::vector<Standing> standings;
    for (int i = 0; i < size; ++i) {
      standings.push_back(MakeStanding(absl::StrCat("v-", tag, "-", i),
                                       {"town-a", "county-x"}, i % 6, i));
    }
    return standings;
  };
  const std::vector<Standing> small = board_of(300, "s");
  const std::vector<Standing> large = board_of(2500, "l");
  ASSERT_OK(cache_->ReplaceBoards(kPeriod, small));

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  absl::Mutex mu;
  std::set<int> sizes;
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<BoardSlice> slice =
          cache_->ReadBoard(Board("county-x", BRANCH_STRONG), 0, 5);
      absl::MutexLock lock(&mu);
      sizes.insert(slice.ok() ? slice->total : -1);
      reads.fetch_add(1);
    }
  });
  absl::Cleanup stop_reader = [&] {
    done.store(true);
    reader.join();
  };
  for (int round = 0; round < 6; ++round) {
    ASSERT_OK(cache_->ReplaceBoards(kPeriod, round % 2 == 0 ? large : small));
  }
  // At least a few reads, however slow the machine.
  ASSERT_TRUE(WaitFor([&] { return reads.load() >= 20; }));
  std::move(stop_reader).Invoke();
  absl::MutexLock lock(&mu);
  for (int size : sizes) {
    EXPECT_TRUE(size == 300 || size == 2500) << "saw a board of " << size;
  }
  EXPECT_EQ(Raw(redis_->port(), {"KEYS", "test:*:tmp:*"}), 0);
}

TEST_F(RedisBoardCacheTest, ClearDropsEveryBoardAndKeepsTheMarker) {
  ASSERT_OK(
      cache_->Write(MakeStanding("v-a", {"town-a", "county-x"}, 1, 1), {}));
  ASSERT_OK(cache_->Write(
      MakeStanding("v-a", {"town-a", "county-x"}, 1, 1, "2026-02"), {}));
  // Another deployment's boards in the same Redis stay.
  ASSERT_EQ(
      Raw(redis_->port(), {"ZADD", "other:board:{x:0}:2026-03", "1", "v"}), 1);
  ASSERT_OK(cache_->Clear());
  EXPECT_EQ(Raw(redis_->port(), {"KEYS", "test:board:*"}), 0);
  EXPECT_EQ(Raw(redis_->port(), {"EXISTS", "test:marker"}), 1);
  EXPECT_EQ(Raw(redis_->port(), {"EXISTS", "other:board:{x:0}:2026-03"}), 1);
  EXPECT_TRUE(cache_->available());
}

TEST_F(RedisBoardCacheTest, StoppedRedisFailsFastThenRestartTriggersResync) {
  Record(MakeStanding("v-a", {"town-a"}, 1, 1));
  const int port = redis_->port();
  redis_->Stop();

  EXPECT_THAT(cache_->ReadBoard(Board("town-a"), 0, 10),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: redis at 127.0.0.1:"));
  EXPECT_FALSE(cache_->available());
  EXPECT_EQ(cache_->failures(), 1);
  // Later calls fail at once, without trying Redis (no new failure).
  EXPECT_THAT(cache_->Write(MakeStanding("v-b", {"town-a"}, 2, 2), {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: "));
  EXPECT_THAT(cache_->RanksOf(Board("town-a"), {"v-a"}),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: "));
  EXPECT_EQ(cache_->failures(), 1);
  {
    absl::MutexLock lock(&store_mu_);
    store_.push_back(MakeStanding("v-b", {"town-a"}, 2, 2));
  }

  RedisServerOptions same_port;
  same_port.port = port;
  ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start(same_port));
  ASSERT_TRUE(WaitFor([&] { return cache_->available(); }));
  EXPECT_EQ(cache_->resyncs_succeeded(), 2);
  // Rebuilt from the store, with the write Redis missed.
  EXPECT_THAT(Members(Board("town-a")), ElementsAre("v-b", "v-a"));
}

TEST_F(RedisBoardCacheTest, FlushAllTriggersResync) {
  Record(MakeStanding("v-a", {"town-a"}, 1, 1));
  ASSERT_EQ(Raw(redis_->port(), {"FLUSHALL"}), 0);
  ASSERT_TRUE(WaitFor(
      [&] { return cache_->resyncs_succeeded() == 2 && cache_->available(); }));
  EXPECT_THAT(Members(Board("town-a")), ElementsAre("v-a"));
  EXPECT_EQ(Raw(redis_->port(), {"EXISTS", "test:marker"}), 1);
}

TEST_F(RedisBoardCacheTest, NoWriteIsLostToResyncsRunningBesideIt) {
  std::atomic<bool> done{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    // One writer, so the store's order is the cache's order, as with one
    // village's evaluations in the service.
    for (int i = 0; !done.load(); ++i) {
      const Standing standing = MakeStanding(absl::StrCat("v-", i % 40),
                                             {"town-a", "county-x"}, i % 6, i);
      {
        absl::MutexLock lock(&store_mu_);
        bool replaced = false;
        for (Standing& stored : store_) {
          if (stored.village_id == standing.village_id) {
            stored = standing;
            replaced = true;
          }
        }
        if (!replaced) store_.push_back(standing);
      }
      // UNAVAILABLE never happens here (Redis stays up); a write during a
      // re-sync goes through.
      EXPECT_OK(cache_->Write(standing, {}));
      writes.fetch_add(1);
    }
  });
  absl::Cleanup stop_writer = [&] {
    done.store(true);
    writer.join();
  };
  for (int flush = 0; flush < 3; ++flush) {
    const int before = writes.load();
    ASSERT_TRUE(WaitFor([&] { return writes.load() >= before + 100; }));
    const int64_t resyncs = cache_->resyncs_succeeded();
    ASSERT_EQ(Raw(redis_->port(), {"FLUSHALL"}), 0);
    ASSERT_TRUE(WaitFor([&] { return cache_->resyncs_succeeded() > resyncs; }));
  }
  std::move(stop_writer).Invoke();
  ASSERT_TRUE(WaitFor([&] { return cache_->available(); }));

  std::vector<Standing> stored;
  {
    absl::MutexLock lock(&store_mu_);
    stored = store_;
  }
  ASSERT_EQ(stored.size(), 40);
  ASSERT_OK_AND_ASSIGN(BoardSlice board,
                       cache_->ReadBoard(Board("county-x"), 0, 100));
  ASSERT_EQ(board.total, 40);
  for (const RankedEntry& entry : board.entries) {
    for (const Standing& standing : stored) {
      if (standing.village_id != entry.village_id) continue;
      EXPECT_EQ(entry.stars, standing.stars) << entry.village_id;
      EXPECT_EQ(entry.points, standing.points) << entry.village_id;
    }
  }
}

TEST_F(RedisBoardCacheTest, HungRedisCostsOneTimeoutThenCallsFailAtOnce) {
  Record(MakeStanding("v-a", {"town-a"}, 1, 1));
  ASSERT_EQ(kill(redis_->pid(), SIGSTOP), 0);

  const absl::Time start = absl::Now();
  EXPECT_THAT(cache_->ReadBoard(Board("town-a"), 0, 10),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: redis at 127.0.0.1:"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // did not hang
  EXPECT_FALSE(cache_->available());
  // A write the cache missed: the store has it, so a re-sync must follow
  // even though Redis kept its data.
  const Standing missed = MakeStanding("v-b", {"town-a"}, 2, 2);
  {
    absl::MutexLock lock(&store_mu_);
    store_.push_back(missed);
  }
  EXPECT_THAT(cache_->Write(missed, {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: "));
  EXPECT_THAT(cache_->ReadNeighbourhood(Board("town-a"), "v-a", 1),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: "));
  EXPECT_EQ(cache_->failures(), 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  ASSERT_EQ(kill(redis_->pid(), SIGCONT), 0);
  ASSERT_TRUE(WaitFor([&] { return cache_->available(); }));
  // The one at start and the one that caught up. (A re-sync may also have
  // started and failed, if the probe's last check was answered as Redis
  // woke up while the cache was down.)
  EXPECT_EQ(cache_->resyncs_succeeded(), 2);
  EXPECT_THAT(Members(Board("town-a")), ElementsAre("v-b", "v-a"));
}

TEST_F(RedisBoardCacheTest, WriteDuringResyncAsksForAnother) {
  // A second cache on the same Redis whose re-sync waits for the test.
  absl::Notification entered;
  absl::Notification release;
  std::atomic<int> calls{0};
  RedisOptions options = Options(redis_->port());
  options.key_prefix = "second";
  RedisBoardCache second(options);
  second.SetResyncCallback([&]() -> absl::Status {
    RETURN_IF_ERROR(second.Clear());
    if (calls.fetch_add(1) == 0) {
      entered.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  });
  second.Start();
  entered.WaitForNotification();
  EXPECT_FALSE(second.available());
  // Writes go through during a re-sync; reads wait for it to finish.
  EXPECT_OK(second.Write(MakeStanding("v-a", {"town-a"}, 1, 1), {}));
  EXPECT_THAT(second.ReadBoard(Board("town-a"), 0, 10),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: waiting for a re-sync"));
  release.Notify();
  ASSERT_TRUE(WaitFor([&] { return second.available(); }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(second.resyncs_started(), 2);
  EXPECT_EQ(second.resyncs_succeeded(), 2);
  second.Stop();
}

TEST_F(RedisBoardCacheTest, FailedResyncIsRetried) {
  RedisOptions options = Options(redis_->port());
  options.key_prefix = "second";
  RedisBoardCache second(options);
  std::atomic<int> calls{0};
  second.SetResyncCallback([&]() -> absl::Status {
    if (calls.fetch_add(1) < 2) return absl::InternalError("store is busy");
    return second.Clear();
  });
  second.Start();
  ASSERT_TRUE(WaitFor([&] { return second.available(); }));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(second.resyncs_succeeded(), 1);
}

TEST_F(RedisBoardCacheTest, StopMakesEveryCallUnavailable) {
  cache_->Stop();
  EXPECT_FALSE(cache_->available());
  EXPECT_THAT(cache_->ReadBoard(Board("town-a"), 0, 10),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: stopped"));
  EXPECT_THAT(cache_->Write(MakeStanding("v-a", {"town-a"}, 1, 1), {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: stopped"));
}

TEST(RedisBoardCacheAuthTest, AuthenticatesWithThePassword) {
  RedisServerOptions server_options;
  server_options.password = "s3cret pass";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> redis,
                       RedisServer::Start(server_options));
  RedisOptions options;
  options.port = redis->port();
  options.probe_interval = absl::Milliseconds(50);
  options.key_prefix = kPrefix;

  options.password = "s3cret pass";
  RedisBoardCache good(options);
  good.Start();
  ASSERT_TRUE(WaitFor([&] { return good.available(); }));
  ASSERT_OK(good.Write(MakeStanding("v-a", {"town-a"}, 1, 1), {}));
  ASSERT_OK_AND_ASSIGN(BoardSlice slice, good.ReadBoard(Board("town-a"), 0, 5));
  EXPECT_THAT(slice.entries, ElementsAre(Entry(1, "v-a", 1, 1)));

  // ACL form: the default user with its password.
  options.user = "default";
  RedisBoardCache with_user(options);
  with_user.Start();
  ASSERT_TRUE(WaitFor([&] { return with_user.available(); }));

  options.user.clear();
  options.password = "wrong";
  RedisBoardCache bad(options);
  bad.Start();
  // Down from the start, with the probe's reason.
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(
        bad.ReadBoard(Board("town-a"), 0, 5).status().message(),
        "AUTH failed: WRONGPASS");
  }));
  EXPECT_FALSE(bad.available());
  EXPECT_THAT(bad.ReadBoard(Board("town-a"), 0, 5),
              StatusIs(absl::StatusCode::kUnavailable,
                       "leaderboard cache unavailable: redis at 127.0.0.1:"));
}

}  // namespace
}  // namespace fivestar::scoring
