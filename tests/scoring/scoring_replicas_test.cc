// Two scoring replicas on one PostgreSQL database: one at a time follows
// the peers' change feeds (the one holding the followers' lease), and the
// other takes over when the first stops or loses its database session;
// either answers with what the follower recorded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using Stub = v1::ScoringService::Stub;

// The measured value of `criterion` in an evaluation (-1 when absent).
double Actual(const v1::Evaluation& evaluation, const std::string& criterion) {
  for (const v1::StarResult& star : evaluation.stars()) {
    for (const v1::CriterionResult& c : star.criteria()) {
      if (c.criterion_id() == criterion) return c.actual();
    }
  }
  return -1;
}

// Waits (at most `limit`) until `done()`.
bool Eventually(const std::function<bool()>& done,
                absl::Duration limit = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

class ScoringReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ScoringTestEnv>();
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_OK_AND_ASSIGN(
        v1::Rubric rubric,
        env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kViewerToken));
    for (const v1::StarRule& rule : rubric.stars()) {
      for (const v1::Criterion& c : rule.criteria()) {
        if (c.has_indicator() && c.indicator().key() == "inspection_score") {
          inspection_ = c.id();
        }
      }
    }
    ASSERT_FALSE(inspection_.empty());
    // The env's scoring started first, so it holds the lease.
    ASSERT_TRUE(Eventually([&] { return first().following(); }));
    second_ = std::make_unique<fivestar::testing::ScoringHost>(
        env_->database("scoring"), env_->registry().address(),
        env_->projects().address(), kServiceToken, env_->redis()->port(),
        env_->tokens(), &env_->clock(), [](ScoringServerOptions& options) {
          options.follower_lease_interval = absl::Milliseconds(100);
        });
    second_stub_ = v1::ScoringService::NewStub(second_->NewChannel());
  }

  ScoringServer& first() { return env_->scoring().server(); }
  ScoringServer& second() { return second_->server(); }

  // Waits until the evaluation recorded for Maohe, read through the second
  // replica, has `score` for its inspection.
  bool WaitForInspection(double score) {
    return Eventually(
        [&] {
          v1::GetEvaluationRequest request;
          request.set_village_id(kMaohe);
          request.set_period(kPeriod);
          absl::StatusOr<v1::Evaluation> evaluation =
              ScoringTestEnv::CallOn(*second_stub_, &Stub::GetEvaluation,
                                     request, std::string(kViewerToken));
          return evaluation.ok() && Actual(*evaluation, inspection_) == score;
        },
        absl::Seconds(20));
  }

  std::unique_ptr<ScoringTestEnv> env_;
  std::string inspection_;
  std::unique_ptr<fivestar::testing::ScoringHost> second_;
  std::unique_ptr<Stub> second_stub_;
};

TEST_F(ScoringReplicasTest, OneFollowsAndTheOtherTakesOverWhenItStops) {
  // Ten of the second's tries: it never gets the lease while the first
  // holds it.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(first().following());
  EXPECT_FALSE(second().following());

  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 3));
  EXPECT_TRUE(WaitForInspection(3));
  EXPECT_GT(first().projects_follower()->applied(), 0u);
  EXPECT_EQ(second().projects_follower()->applied(), 0u);

  env_->StopScoring();
  ASSERT_TRUE(Eventually([&] { return second().following(); }));
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 41));
  EXPECT_TRUE(WaitForInspection(41));
}

TEST_F(ScoringReplicasTest, ALostSessionHandsTheFeedsOver) {
  // The first replica's lease session ends as if its connection broke.
  ASSERT_OK(fivestar::testing::ExecuteSql(
      env_->database("scoring"),
      "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
      "JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted "
      "AND a.application_name = 'fivestar-lease'"));
  // The second (trying every 100 ms) takes it; the first, which checks
  // every second, finds its session gone and stops following.
  ASSERT_TRUE(Eventually([&] { return second().following(); }));
  ASSERT_TRUE(Eventually([&] { return !first().following(); }));
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_FALSE(first().following());
  EXPECT_TRUE(second().following());

  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 7));
  EXPECT_TRUE(WaitForInspection(7));
}

TEST_F(ScoringReplicasTest, ARubricActivatedThroughOneIsUsedThroughTheOther) {
  // An evaluation through the second replica first, so that it has used
  // (and, were it kept, remembered) the active rubric.
  auto evaluate_through_second = [&] {
    v1::EvaluateRequest request;
    request.set_village_id(kMaohe);
    request.set_period(kPeriod);
    return ScoringTestEnv::CallOn(*second_stub_, &Stub::Evaluate, request,
                                  std::string(kAdminToken));
  };
  ASSERT_OK_AND_ASSIGN(v1::Evaluation before, evaluate_through_second());
  EXPECT_EQ(before.rubric_version(), 1);
  // A second version, made and activated through the first replica.
  ASSERT_OK_AND_ASSIGN(
      v1::Rubric active,
      env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kViewerToken));
  v1::CreateRubricRequest create;
  *create.mutable_rubric() = active;
  create.mutable_rubric()->set_name("第二版");
  create.set_activate(true);
  ASSERT_OK_AND_ASSIGN(v1::Rubric created,
                       env_->Call(&Stub::CreateRubric, create, kAdminToken));
  EXPECT_EQ(created.version(), 2);
  ASSERT_OK_AND_ASSIGN(v1::Evaluation after, evaluate_through_second());
  EXPECT_EQ(after.rubric_version(), 2);
  // And back to the first, also through the first replica.
  v1::SetActiveRubricRequest back;
  back.set_version(1);
  ASSERT_OK(env_->Call(&Stub::SetActiveRubric, back, kAdminToken).status());
  ASSERT_OK_AND_ASSIGN(v1::Evaluation again, evaluate_through_second());
  EXPECT_EQ(again.rubric_version(), 1);
}

}  // namespace
}  // namespace fivestar::scoring
