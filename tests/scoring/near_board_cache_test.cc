// NearBoardCache in front of a real RedisBoardCache on a real redis-server:
// repeated reads are answered from memory and equal what Redis answers;
// after every kind of write (write-through, move, removal, rebuild, clear)
// the next read equals Redis again, never the answer cached before; a read
// that fetched from Redis before a write landed is not kept after it; and
// nothing is served from memory while Redis is not available.
#include "services/scoring/near_board_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/testing/metrics.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using fivestar::common::v1::BRANCH_STRONG;
using fivestar::common::v1::Star;
using fivestar::common::v1::STAR_UNSPECIFIED;
using fivestar::testing::MetricValue;
using fivestar::testing::RedisServer;

constexpr char kPeriod[] = "2026-03";
constexpr char kPrevious[] = "2026-02";
constexpr absl::Duration kHangGuard = absl::Seconds(30);

bool WaitFor(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + kHangGuard;
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
  standing.per_star[0] = {stars > 0, points / 2};
  return standing;
}

BoardKey Board(const std::string& region, Star star = STAR_UNSPECIFIED,
               const std::string& period = kPeriod) {
  return {region, period, star};
}

std::string Describe(const std::vector<RankedEntry>& entries) {
  std::string out;
  for (const RankedEntry& e : entries) {
    absl::StrAppend(&out, e.rank, ":", e.village_id, ":", e.stars, ":",
                    e.points, " ");
  }
  return out;
}
std::string Describe(const absl::StatusOr<BoardSlice>& slice) {
  if (!slice.ok()) return slice.status().ToString();
  return absl::StrCat("total ", slice->total, ": ", Describe(slice->entries));
}
std::string Describe(const absl::StatusOr<BoardNeighbourhood>& hood) {
  if (!hood.ok())
    return std::string(absl::StatusCodeToString(hood.status().code()));
  return absl::StrCat("total ", hood->total, ": ", Describe(hood->above), "| ",
                      Describe({hood->entry}), "| ", Describe(hood->below));
}
std::string Describe(const absl::StatusOr<std::vector<RankedEntry>>& ranks) {
  if (!ranks.ok()) return ranks.status().ToString();
  return Describe(*ranks);
}

// Forwards to Redis; can hold a ReadBoard after Redis answered (the answer
// is then older than a write made meanwhile), and can pretend to be
// unavailable.
class HoldingCache final : public BoardCache {
 public:
  explicit HoldingCache(std::unique_ptr<BoardCache> inner)
      : inner_(std::move(inner)) {}

  void HoldNextRead() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
    held_ = released_ = false;
  }
  bool WaitUntilHeld() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&held_), kHangGuard);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  void SetUnavailable(bool unavailable) {
    absl::MutexLock lock(&mu_);
    unavailable_ = unavailable;
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }

  bool available() const override {
    absl::MutexLock lock(&mu_);
    return !unavailable_ && inner_->available();
  }
  absl::Status Write(const Standing& now,
                     const std::vector<Standing>& previous) override {
    return inner_->Write(now, previous);
  }
  absl::Status Remove(const std::vector<Standing>& removed) override {
    return inner_->Remove(removed);
  }
  absl::Status ReplaceBoards(const std::string& period,
                             const std::vector<Standing>& standings) override {
    return inner_->ReplaceBoards(period, standings);
  }
  absl::Status Clear() override { return inner_->Clear(); }
  absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board, int offset,
                                       int limit) override {
    absl::StatusOr<BoardSlice> slice = inner_->ReadBoard(board, offset, limit);
    absl::MutexLock lock(&mu_);
    ++reads_;
    if (hold_) {
      hold_ = false;
      held_ = true;
      mu_.AwaitWithTimeout(absl::Condition(&released_), kHangGuard);
    }
    return slice;
  }
  absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board,
      const std::vector<std::string>& village_ids) override {
    {
      absl::MutexLock lock(&mu_);
      ++reads_;
    }
    return inner_->RanksOf(board, village_ids);
  }
  absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id,
      int neighbours) override {
    {
      absl::MutexLock lock(&mu_);
      ++reads_;
    }
    return inner_->ReadNeighbourhood(board, village_id, neighbours);
  }
  void SetResyncCallback(std::function<absl::Status()> resync) override {
    inner_->SetResyncCallback(std::move(resync));
  }
  void Start() override { inner_->Start(); }
  void Stop() override { inner_->Stop(); }

 private:
  const std::unique_ptr<BoardCache> inner_;
  mutable absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool unavailable_ ABSL_GUARDED_BY(mu_) = false;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

class NearBoardCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(NearCacheOptions()); }

  void Build(NearCacheOptions options) {
    if (near_ != nullptr) near_->Stop();
    near_.reset();
    if (redis_ == nullptr) {
      ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    }
    RedisOptions redis;
    redis.port = redis_->port();
    redis.probe_interval = absl::Milliseconds(50);
    redis.key_prefix = "near";
    auto redis_cache = std::make_unique<RedisBoardCache>(redis);
    redis_cache_ = redis_cache.get();
    auto holding = std::make_unique<HoldingCache>(std::move(redis_cache));
    holding_ = holding.get();
    near_ = std::make_unique<NearBoardCache>(std::move(holding), options);
    near_->Start();
    ASSERT_TRUE(WaitFor([&] { return near_->available(); }));
    ASSERT_OK(near_->Clear());
  }

  void TearDown() override {
    if (near_ != nullptr) near_->Stop();
  }

  // Writes the standings the way the service does (through the near-cache).
  void Record(const std::vector<Standing>& standings) {
    for (const Standing& standing : standings) {
      ASSERT_OK(near_->Write(standing, {}));
    }
  }

  // Every read shape, through the near-cache and straight from Redis:
  // equal.
  void ExpectEqualToRedis(const std::vector<BoardKey>& boards,
                          const std::vector<std::string>& villages) {
    for (const BoardKey& board : boards) {
      SCOPED_TRACE(absl::StrCat(board.region_id, " ", board.period, " ",
                                static_cast<int>(board.star)));
      for (const auto& [offset, limit] :
           std::vector<std::pair<int, int>>{{0, 10}, {0, 2}, {1, 2}, {5, 5}}) {
        EXPECT_EQ(Describe(near_->ReadBoard(board, offset, limit)),
                  Describe(redis_cache_->ReadBoard(board, offset, limit)));
      }
      for (const std::string& village : villages) {
        for (int neighbours : {0, 1, 3}) {
          EXPECT_EQ(
              Describe(near_->ReadNeighbourhood(board, village, neighbours)),
              Describe(
                  redis_cache_->ReadNeighbourhood(board, village, neighbours)));
        }
      }
      EXPECT_EQ(Describe(near_->RanksOf(board, villages)),
                Describe(redis_cache_->RanksOf(board, villages)));
    }
  }

  std::unique_ptr<RedisServer> redis_;
  RedisBoardCache* redis_cache_ = nullptr;
  HoldingCache* holding_ = nullptr;
  std::unique_ptr<NearBoardCache> near_;
};

const std::vector<std::string> kVillages = {"v-a", "v-b", "v-c", "v-d", "v-x"};

std::vector<Standing> Town() {
  return {MakeStanding("v-a", {"town-a", "county"}, 3, 20),
          MakeStanding("v-b", {"town-a", "county"}, 2, 150),
          MakeStanding("v-c", {"town-a", "county"}, 2, 150),
          MakeStanding("v-d", {"town-b", "county"}, 1, 90)};
}

std::vector<BoardKey> AllBoards() {
  std::vector<BoardKey> boards;
  for (const char* region : {"town-a", "town-b", "county"}) {
    for (Star star : {STAR_UNSPECIFIED, BRANCH_STRONG}) {
      boards.push_back(Board(region, star));
      boards.push_back(Board(region, star, kPrevious));
    }
  }
  return boards;
}

TEST_F(NearBoardCacheTest, ARepeatedReadIsAnsweredFromMemoryAndEqualsRedis) {
  Record(Town());
  ExpectEqualToRedis(AllBoards(), kVillages);
  const int64_t misses = near_->misses();
  const int redis_reads = holding_->reads();
  ExpectEqualToRedis(AllBoards(), kVillages);
  EXPECT_EQ(near_->misses(), misses);
  EXPECT_EQ(holding_->reads(), redis_reads);
  EXPECT_GT(near_->hits(), 0);
}

TEST_F(NearBoardCacheTest, AfterEveryKindOfWriteTheNextReadEqualsRedis) {
  Record(Town());
  ExpectEqualToRedis(AllBoards(), kVillages);  // warm
  const std::string before = Describe(near_->ReadBoard(Board("town-a"), 0, 10));

  // A write-through that reorders the board.
  ASSERT_OK(near_->Write(MakeStanding("v-c", {"town-a", "county"}, 5, 1), {}));
  EXPECT_NE(Describe(near_->ReadBoard(Board("town-a"), 0, 10)), before);
  ExpectEqualToRedis(AllBoards(), kVillages);

  // A move: v-b leaves town-a for town-b (its previous standing names the
  // board it leaves).
  ASSERT_OK(near_->Write(MakeStanding("v-b", {"town-b", "county"}, 2, 150),
                         {MakeStanding("v-b", {"town-a", "county"}, 2, 150)}));
  ExpectEqualToRedis(AllBoards(), kVillages);

  // Another month's write changes the previous month's boards only.
  ASSERT_OK(near_->Write(
      MakeStanding("v-a", {"town-a", "county"}, 1, 1, kPrevious), {}));
  ExpectEqualToRedis(AllBoards(), kVillages);

  // A removal (the village left the registry).
  ASSERT_OK(near_->Remove({MakeStanding("v-d", {"town-b", "county"}, 1, 90)}));
  ExpectEqualToRedis(AllBoards(), kVillages);

  // A rebuild of the month from other standings.
  ASSERT_OK(near_->ReplaceBoards(
      kPeriod, {MakeStanding("v-x", {"town-a", "county"}, 4, 4),
                MakeStanding("v-a", {"town-a", "county"}, 0, 0)}));
  ExpectEqualToRedis(AllBoards(), kVillages);

  // A clear (a re-sync starts with it).
  ASSERT_OK(near_->Clear());
  EXPECT_EQ(Describe(near_->ReadBoard(Board("town-a"), 0, 10)), "total 0: ");
  ExpectEqualToRedis(AllBoards(), kVillages);
}

TEST_F(NearBoardCacheTest, AReadFetchedBeforeAWriteIsNotKeptAfterIt) {
  Record(Town());
  // A read fetches town-a's board from Redis and is held before it can
  // store it; meanwhile a write-through changes the board.
  holding_->HoldNextRead();
  absl::StatusOr<BoardSlice> old_read;
  std::thread reader(
      [&] { old_read = near_->ReadBoard(Board("town-a"), 0, 10); });
  ASSERT_TRUE(holding_->WaitUntilHeld());
  ASSERT_OK(near_->Write(MakeStanding("v-c", {"town-a", "county"}, 5, 1), {}));
  holding_->Release();
  reader.join();
  ASSERT_OK(old_read.status());
  EXPECT_EQ(old_read->entries.front().village_id, "v-a");  // from before
  // The next read is Redis's answer after the write, not the held one.
  ASSERT_OK_AND_ASSIGN(BoardSlice now,
                       near_->ReadBoard(Board("town-a"), 0, 10));
  EXPECT_EQ(now.entries.front().village_id, "v-c");
  EXPECT_EQ(Describe(now),
            Describe(redis_cache_->ReadBoard(Board("town-a"), 0, 10)));
}

TEST_F(NearBoardCacheTest, NothingIsServedFromMemoryWhileRedisIsUnavailable) {
  Record(Town());
  ExpectEqualToRedis(AllBoards(), kVillages);  // warm
  holding_->SetUnavailable(true);
  EXPECT_FALSE(near_->available());
  const int64_t hits = near_->hits();
  const int reads = holding_->reads();
  EXPECT_OK(near_->ReadBoard(Board("town-a"), 0, 10).status());
  EXPECT_EQ(near_->hits(), hits);
  EXPECT_EQ(holding_->reads(), reads + 1);  // asked the cache itself
  holding_->SetUnavailable(false);
}

TEST_F(NearBoardCacheTest, AWriteThatFailsStillDropsItsBoards) {
  Record(Town());
  ExpectEqualToRedis(AllBoards(), kVillages);  // warm
  redis_->Stop();
  // The store would hold this; Redis cannot take it.
  EXPECT_FALSE(
      near_->Write(MakeStanding("v-c", {"town-a", "county"}, 5, 1), {}).ok());
  EXPECT_FALSE(near_->available());
  // Nothing of town-a or the county is left to serve once Redis answers
  // again (a re-sync would follow in the service).
  fivestar::testing::RedisServerOptions same_port;
  same_port.port = redis_->port();
  ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start(same_port));
  ASSERT_TRUE(WaitFor([&] { return near_->available(); }));
  const int64_t hits = near_->hits();
  EXPECT_EQ(Describe(near_->ReadBoard(Board("town-a"), 0, 10)),
            Describe(redis_cache_->ReadBoard(Board("town-a"), 0, 10)));
  EXPECT_EQ(near_->hits(), hits);
}

TEST_F(NearBoardCacheTest, ASmallBoundStillAnswersExactly) {
  NearCacheOptions options;
  options.max_entries = 8;
  Build(options);
  Record(Town());
  for (int round = 0; round < 3; ++round) {
    ExpectEqualToRedis(AllBoards(), kVillages);
  }
  // It filled up and started over, which its metrics say.
  EXPECT_GT(near_->overflows(), 0);
  EXPECT_EQ(MetricValue(near_->metrics(),
                        "fivestar_leaderboard_near_cache_overflows_total"),
            near_->overflows());
}

TEST_F(NearBoardCacheTest, ItsMetricsCountHitsMissesAndWhatItHolds) {
  Record(Town());
  ExpectEqualToRedis(AllBoards(), kVillages);
  ExpectEqualToRedis(AllBoards(), kVillages);
  EXPECT_GT(near_->hits(), 0);
  EXPECT_GT(near_->misses(), 0);
  EXPECT_EQ(near_->overflows(), 0);
  EXPECT_EQ(MetricValue(near_->metrics(),
                        "fivestar_leaderboard_near_cache_reads_total", "answer",
                        "hit"),
            near_->hits());
  EXPECT_EQ(MetricValue(near_->metrics(),
                        "fivestar_leaderboard_near_cache_reads_total", "answer",
                        "miss"),
            near_->misses());
  EXPECT_GT(
      MetricValue(near_->metrics(), "fivestar_leaderboard_near_cache_entries"),
      0);
  near_->InvalidateAll();
  EXPECT_EQ(
      MetricValue(near_->metrics(), "fivestar_leaderboard_near_cache_entries"),
      0);
}

}  // namespace
}  // namespace fivestar::scoring
