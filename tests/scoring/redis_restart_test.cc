// Redis killed (SIGKILL) and restarted on the same port while leaderboard
// reads and score-changing writes go on from several threads, against the
// real stack (registry, project tracking, scoring, redis-server): no read
// fails (reads served from the database while the cache is gone say
// `degraded`), every write the client was told succeeded is in the database
// afterwards, and once Redis is back the boards are re-synced with no call,
// equal to the ranking the recorded evaluations imply.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using Stub = v1::ScoringService::Stub;
using ::google::protobuf::util::MessageDifferencer;
namespace projects_v1 = ::fivestar::projects::v1;

constexpr Star kOverall = fivestar::common::v1::STAR_UNSPECIFIED;
constexpr int kWriters = 3;
constexpr int kReaders = 3;
// Writes per writer in each of the three phases (Redis up, killed,
// restarted).
constexpr int kWritesPerPhase = 12;
// Hang guard only: nothing here is expected to take long.
constexpr absl::Duration kHangGuard = absl::Seconds(60);

// What a writer was told: the last indicator value and evaluation
// acknowledged for each village it owns.
struct Acknowledged {
  double inspection_score = -1;
  v1::Evaluation evaluation;
};

class RedisRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;  // scores change only by Evaluate
    env_ = std::make_unique<ScoringTestEnv>(options);
    // A probe faster than production's keeps the test short; the behaviour
    // is the same.
    env_->RestartScoring([](ScoringServerOptions& o) {
      o.redis.probe_interval = absl::Milliseconds(100);
    });
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> all,
                         RecordedEvaluations(*env_));
    ASSERT_EQ(all.size(), 21u);
    for (const v1::Evaluation& e : all) villages_.push_back(e.village_id());
    // The cache serves (its first re-sync is done) before the load starts.
    ASSERT_TRUE(WaitUntil(
        [&] { return env_->scoring().server().cache()->available(); }));
  }

  // One writer: sets a new inspection score for each of its villages in
  // turn and evaluates it, recording what it was told. A failed call is
  // recorded as an error (the test fails on any).
  void Write(int writer, int count) {
    for (int i = 0; i < count; ++i) {
      const int n = writes_done_[writer].load();
      const std::string& village =
          villages_[writer + kWriters * (n % (villages_.size() / kWriters))];
      // 0..100 and different on every write of the village.
      const double score = (n * 37 + writer * 11) % 101;
      absl::Status set = SetScore(village, score, writer, n);
      if (!set.ok()) {
        Error(
            absl::StrCat("SetIndicatorValues ", village, ": ", set.ToString()));
      } else {
        absl::StatusOr<v1::Evaluation> evaluation = env_->Evaluate(village);
        absl::MutexLock lock(&mu_);
        acknowledged_[village].inspection_score = score;
        if (evaluation.ok()) {
          acknowledged_[village].evaluation = *evaluation;
        } else {
          errors_.push_back(absl::StrCat("Evaluate ", village, ": ",
                                         evaluation.status().ToString()));
        }
      }
      writes_done_[writer].fetch_add(1);
    }
  }

  absl::Status SetScore(const std::string& village, double score, int writer,
                        int n) {
    projects_v1::SetIndicatorValuesRequest request;
    projects_v1::IndicatorValue* value = request.add_values();
    value->set_village_id(village);
    value->set_indicator_key("inspection_score");
    value->set_period(kPeriod);
    value->set_value(score);
    request.set_request_id(absl::StrCat("restart-", writer, "-", n));
    return ScoringTestEnv::CallOn(
               env_->projects_stub(),
               &projects_v1::ProjectsService::Stub::SetIndicatorValues, request,
               kAdminToken)
        .status();
  }

  // One reader: alternates a whole board and a village's rank until told
  // to stop. Every call must succeed; degraded answers are counted.
  void Read(int reader) {
    static const char* const kRegions[] = {kHuiche, kNorth, kProvince};
    for (int i = 0; !stop_readers_.load(); ++i) {
      if (i % 2 == 0) {
        v1::GetLeaderboardRequest request;
        request.set_region_id(kRegions[(reader + i / 2) % 3]);
        request.set_period(kPeriod);
        request.set_page_size(100);
        auto board = env_->Call(&Stub::GetLeaderboard, request, kViewerToken);
        if (!board.ok()) {
          Error(absl::StrCat("GetLeaderboard ", request.region_id(), ": ",
                             board.status().ToString()));
        } else {
          Count(board->degraded());
          // Never a half-built board: every village is on it.
          if (request.region_id() != kNorth &&
              (board->total_villages() != 21 || board->entries_size() != 21)) {
            Error(absl::StrCat("GetLeaderboard ", request.region_id(),
                               " degraded=", board->degraded(), " total ",
                               board->total_villages(), " entries ",
                               board->entries_size()));
          }
        }
      } else {
        v1::GetVillageRankRequest request;
        request.set_village_id(villages_[(reader * 7 + i) % villages_.size()]);
        request.set_period(kPeriod);
        request.set_neighbours(2);
        auto rank = env_->Call(&Stub::GetVillageRank, request, kViewerToken);
        if (!rank.ok()) {
          Error(absl::StrCat("GetVillageRank ", request.village_id(), ": ",
                             rank.status().ToString()));
        } else {
          Count(rank->degraded());
        }
      }
    }
  }

  void Count(bool degraded) {
    (degraded ? degraded_reads_ : cached_reads_).fetch_add(1);
  }
  void Error(std::string error) {
    absl::MutexLock lock(&mu_);
    errors_.push_back(std::move(error));
  }

  // Waits until `done` holds, or the hang guard; whether it holds.
  static bool WaitUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + kHangGuard;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }
  // Waits until every writer has done `writes` writes, or the hang guard.
  bool WaitForWrites(int writes) {
    return WaitUntil([&] {
      for (const auto& count : writes_done_) {
        if (count < writes) return false;
      }
      return true;
    });
  }

  std::unique_ptr<ScoringTestEnv> env_;
  std::vector<std::string> villages_;
  std::atomic<int> writes_done_[kWriters] = {};
  std::atomic<bool> stop_readers_{false};
  std::atomic<int> degraded_reads_{0};
  std::atomic<int> cached_reads_{0};
  absl::Mutex mu_;
  std::map<std::string, Acknowledged> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RedisRestartTest, KilledAndRestartedUnderLoadLosesNothingAndResyncs) {
  // Phase by phase the writers do kWritesPerPhase each: Redis up, Redis
  // killed, Redis restarted empty on the same port.
  std::atomic<int> phase_target{kWritesPerPhase};
  std::vector<std::thread> threads;
  // However the test ends, the threads finish (writers have bounded work
  // once released) and are joined.
  auto join = absl::MakeCleanup([&] {
    phase_target.store(3 * kWritesPerPhase);
    stop_readers_.store(true);
    for (std::thread& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  });
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([this, w, &phase_target] {
      for (int target = kWritesPerPhase; target <= 3 * kWritesPerPhase;
           target += kWritesPerPhase) {
        const absl::Time deadline = absl::Now() + kHangGuard;
        while (phase_target.load() < target && absl::Now() < deadline) {
          absl::SleepFor(absl::Milliseconds(5));
        }
        Write(w, kWritesPerPhase);
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([this, r] { Read(r); });
  }

  // Mid-way through the first phase, once reads were served by Redis.
  ASSERT_TRUE(WaitForWrites(kWritesPerPhase / 2));
  ASSERT_TRUE(WaitUntil([&] { return cached_reads_.load() > 0; }));
  ASSERT_EQ(kill(env_->redis()->pid(), SIGKILL), 0);
  phase_target.store(2 * kWritesPerPhase);
  ASSERT_TRUE(WaitForWrites(2 * kWritesPerPhase));
  // The readers ran into the dead cache.
  ASSERT_TRUE(WaitUntil([&] { return degraded_reads_.load() > 0; }));
  env_->StartRedis();  // reaps the killed one, starts on the same port
  phase_target.store(3 * kWritesPerPhase);
  ASSERT_TRUE(WaitForWrites(3 * kWritesPerPhase));
  std::move(join).Invoke();

  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(errors_.empty())
        << errors_.size() << " failed calls, first: " << errors_.front();
  }

  // Every acknowledged write is in the databases: project tracking's
  // indicator value and scoring's recorded evaluation.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> recorded,
                       RecordedEvaluations(*env_));
  ASSERT_EQ(recorded.size(), 21u);
  std::map<std::string, v1::Evaluation> by_village;
  for (const v1::Evaluation& e : recorded) by_village[e.village_id()] = e;
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(acknowledged_.size(), 21u);
    for (const auto& [village, told] : acknowledged_) {
      const v1::Evaluation& stored = by_village[village];
      EXPECT_TRUE(MessageDifferencer::Equals(stored, told.evaluation))
          << "recorded: " << stored.ShortDebugString()
          << "\nacknowledged: " << told.evaluation.ShortDebugString();
      projects_v1::ListIndicatorValuesRequest request;
      request.set_village_id(village);
      request.set_start_period(kPeriod);
      request.set_end_period(kPeriod);
      request.set_indicator_key("inspection_score");
      ASSERT_OK_AND_ASSIGN(
          projects_v1::ListIndicatorValuesResponse values,
          ScoringTestEnv::CallOn(
              env_->projects_stub(),
              &projects_v1::ProjectsService::Stub::ListIndicatorValues, request,
              kAdminToken));
      ASSERT_EQ(values.values_size(), 1) << village;
      EXPECT_EQ(values.values(0).value(), told.inspection_score) << village;
    }
  }

  // Re-synced with no call: the boards Redis serves (not degraded) equal
  // the ranking the recorded evaluations imply. Bounded poll for the probe.
  for (const auto& [region, star] : std::vector<std::pair<std::string, Star>>{
           {kHuiche, kOverall},
           {kProvince, kOverall},
           {kCounty, fivestar::common::v1::SAFE_LAWFUL},
           {kHuiche, fivestar::common::v1::CIVILIZED_HAPPY}}) {
    const std::string expected = DescribeBoard(ExpectedBoard(recorded, star));
    std::string served;
    bool degraded = true;
    for (const absl::Time deadline = absl::Now() + kHangGuard;
         absl::Now() < deadline;) {
      ASSERT_OK_AND_ASSIGN(v1::GetLeaderboardResponse board,
                           env_->Leaderboard(region, kPeriod, star, 100));
      degraded = board.degraded();
      served = DescribeBoard(EntriesOf(board));
      if (!degraded) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_FALSE(degraded) << region << " star " << star;
    EXPECT_EQ(served, expected) << region << " star " << star;
  }
  // And a village's rank from Redis agrees with the same ranking.
  const std::vector<RankedEntry> huiche = ExpectedBoard(recorded, kOverall);
  for (const RankedEntry& entry : huiche) {
    v1::GetVillageRankRequest request;
    request.set_village_id(entry.village_id);
    request.set_period(kPeriod);
    ASSERT_OK_AND_ASSIGN(auto rank, env_->Call(&Stub::GetVillageRank, request));
    EXPECT_FALSE(rank.degraded()) << entry.village_id;
    EXPECT_EQ(rank.entry().rank(), entry.rank) << entry.village_id;
    EXPECT_EQ(rank.entry().points(), entry.points) << entry.village_id;
  }
}

}  // namespace
}  // namespace fivestar::scoring
