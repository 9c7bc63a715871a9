// Two evaluations of one village at once: the cache must end with the one
// the database recorded last. The first evaluation's write-through is held
// (a cache decorator through ScoringServerOptions::wrap_cache) while a
// second, with other inputs, is recorded; when the first is let go, the
// board Redis serves must still rank the village as the database does.
// (Before the fix, the second's write-through landed first and the held,
// older one overwrote it: a non-degraded board that disagreed with the
// database until the next write or re-sync.)
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using Stub = v1::ScoringService::Stub;

constexpr absl::Duration kHangGuard = absl::Seconds(30);

// Forwards to the real cache; the first Write of an armed village waits
// until Release().
class HeldWriteCache final : public BoardCache {
 public:
  explicit HeldWriteCache(std::unique_ptr<BoardCache> inner)
      : inner_(std::move(inner)) {}

  void Arm(const std::string& village) {
    absl::MutexLock lock(&mu_);
    armed_ = village;
  }
  // Waits (bounded) until a write is being held.
  bool WaitUntilHeld() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&held_), kHangGuard);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

  bool available() const override { return inner_->available(); }
  absl::Status Write(const Standing& now,
                     const std::vector<Standing>& previous) override {
    {
      absl::MutexLock lock(&mu_);
      if (!armed_.empty() && now.village_id == armed_) {
        armed_.clear();
        held_ = true;
        mu_.AwaitWithTimeout(absl::Condition(&released_), kHangGuard);
      }
    }
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
    return inner_->ReadBoard(board, offset, limit);
  }
  absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board,
      const std::vector<std::string>& village_ids) override {
    return inner_->RanksOf(board, village_ids);
  }
  absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id,
      int neighbours) override {
    return inner_->ReadNeighbourhood(board, village_id, neighbours);
  }
  void SetResyncCallback(std::function<absl::Status()> resync) override {
    inner_->SetResyncCallback(std::move(resync));
  }
  void Start() override { inner_->Start(); }
  void Stop() override { inner_->Stop(); }

 private:
  const std::unique_ptr<BoardCache> inner_;
  absl::Mutex mu_;
  std::string armed_ ABSL_GUARDED_BY(mu_);
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

TEST(PublishOrderTest, AHeldOlderWriteThroughDoesNotOverwriteANewerOne) {
  ScoringEnvOptions options;
  options.follow_feeds = false;
  ScoringTestEnv env(options);
  HeldWriteCache* cache = nullptr;
  env.RestartScoring([&cache](ScoringServerOptions& o) {
    o.wrap_cache = [&cache](std::unique_ptr<BoardCache> inner) {
      auto held = std::make_unique<HeldWriteCache>(std::move(inner));
      cache = held.get();
      return std::unique_ptr<BoardCache>(std::move(held));
    };
  });
  ASSERT_NE(cache, nullptr);
  ASSERT_OK(env.EvaluateRegion(kHuiche).status());
  // Bounded wait for the first re-sync, so the board below is Redis's.
  for (const absl::Time deadline = absl::Now() + kHangGuard;
       absl::Now() < deadline && !env.scoring().server().cache()->available();)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(env.scoring().server().cache()->available());

  cache->Arm(kMaohe);
  ASSERT_OK(env.SetIndicator(kMaohe, "inspection_score", kPeriod, 0));
  absl::StatusOr<v1::Evaluation> older, newer;
  std::atomic<bool> newer_done{false};
  std::thread first([&] { older = env.Evaluate(kMaohe); });
  ASSERT_TRUE(cache->WaitUntilHeld());
  ASSERT_OK(env.SetIndicator(kMaohe, "inspection_score", kPeriod, 100));
  std::thread second([&] {
    newer = env.Evaluate(kMaohe);
    newer_done.store(true);
  });
  // Give the second evaluation the chance to finish before the first is
  // let go (it does without the fix; with it, it waits for the first).
  // Bounded: not a timing assertion.
  for (const absl::Time deadline = absl::Now() + absl::Seconds(2);
       absl::Now() < deadline && !newer_done.load();)
    absl::SleepFor(absl::Milliseconds(10));
  cache->Release();
  first.join();
  second.join();
  ASSERT_OK(older.status());
  ASSERT_OK(newer.status());
  ASSERT_NE(older->total_points(), newer->total_points());

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> recorded,
                       RecordedEvaluations(env));
  ASSERT_OK_AND_ASSIGN(
      v1::GetLeaderboardResponse board,
      env.Leaderboard(kHuiche, kPeriod, fivestar::common::v1::STAR_UNSPECIFIED,
                      100));
  EXPECT_FALSE(board.degraded());
  EXPECT_EQ(DescribeBoard(EntriesOf(board)),
            DescribeBoard(ExpectedBoard(
                recorded, fivestar::common::v1::STAR_UNSPECIFIED)));
}

}  // namespace
}  // namespace fivestar::scoring
