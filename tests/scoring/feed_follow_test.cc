// Scoring follows the change feeds of project tracking and the registry:
// a value, a report or a registry change written through the peers' APIs
// re-evaluates the village within seconds and moves it on its boards; a
// cut stream and a restart of scoring miss nothing and apply nothing twice.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/http_get.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::StatusIs;
using google::protobuf::util::TimeUtil;
using Stub = v1::ScoringService::Stub;
namespace projects_v1 = ::fivestar::projects::v1;
namespace registry_v1 = ::fivestar::registry::v1;

// The measured value of a criterion in an evaluation (-1 when absent).
double Actual(const v1::Evaluation& evaluation, const std::string& criterion) {
  for (const v1::StarResult& star : evaluation.stars()) {
    for (const v1::CriterionResult& c : star.criteria()) {
      if (c.criterion_id() == criterion) return c.actual();
    }
  }
  return -1;
}

// The criterion of a rubric star measured by `pred`.
std::string CriterionOf(const v1::Rubric& rubric, Star star,
                        const std::function<bool(const v1::Criterion&)>& pred) {
  for (const v1::StarRule& rule : rubric.stars()) {
    if (rule.star() != star) continue;
    for (const v1::Criterion& c : rule.criteria()) {
      if (pred(c)) return c.id();
    }
  }
  return "";
}

class FeedFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ScoringTestEnv>();
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_OK_AND_ASSIGN(
        rubric_,
        env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kViewerToken));
    inspection_ = CriterionOf(
        rubric_, fivestar::common::v1::ECO_LIVABLE, [](const v1::Criterion& c) {
          return c.has_indicator() && c.indicator().key() == "inspection_score";
        });
    committee_ =
        CriterionOf(rubric_, fivestar::common::v1::BRANCH_STRONG,
                    [](const v1::Criterion& c) {
                      return c.input_case() == v1::Criterion::kRegistryField;
                    });
    ASSERT_FALSE(inspection_.empty());
    ASSERT_FALSE(committee_.empty());
  }

  absl::StatusOr<v1::Evaluation> Recorded(const std::string& village,
                                          const std::string& period = kPeriod) {
    v1::GetEvaluationRequest request;
    request.set_village_id(village);
    request.set_period(period);
    return env_->Call(&Stub::GetEvaluation, request, kViewerToken);
  }

  // Waits (at most 20 s) until `village`'s recorded evaluation has `value`
  // for `criterion`.
  bool WaitForActual(const std::string& village, const std::string& criterion,
                     double value, const std::string& period = kPeriod) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto evaluation = Recorded(village, period);
      if (evaluation.ok() && Actual(*evaluation, criterion) == value) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // Waits until scoring has applied project tracking's whole feed.
  bool WaitForCaughtUp() {
    const uint64_t newest = env_->ProjectsNewest();
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      FeedFollower* follower = env_->scoring().server().projects_follower();
      if (follower->applied() == newest) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  std::unique_ptr<ScoringTestEnv> env_;
  v1::Rubric rubric_;
  std::string inspection_;
  std::string committee_;
};

TEST_F(FeedFollowTest, AnIndicatorValueReEvaluatesTheVillageAndItsRank) {
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 3));
  EXPECT_TRUE(WaitForActual(kMaohe, inspection_, 3));
  ASSERT_OK_AND_ASSIGN(v1::Evaluation evaluation, Recorded(kMaohe));
  for (const v1::StarResult& star : evaluation.stars()) {
    if (star.star() == fivestar::common::v1::ECO_LIVABLE) {
      EXPECT_FALSE(star.earned());
    }
  }
  v1::GetVillageRankRequest request;
  request.set_village_id(kMaohe);
  request.set_period(kPeriod);
  ASSERT_OK_AND_ASSIGN(
      auto rank, env_->Call(&Stub::GetVillageRank, request, kViewerToken));
  EXPECT_EQ(rank.entry().points(), evaluation.total_points());
  EXPECT_EQ(rank.entry().stars(), evaluation.stars_earned());
  EXPECT_FALSE(rank.degraded());
}

TEST_F(FeedFollowTest, AProgressReportReEvaluatesTheCurrentMonth) {
  ASSERT_OK(env_->EvaluateRegion(kHuiche, "2022-10").status());
  const std::string completion = CriterionOf(
      rubric_, fivestar::common::v1::BRANCH_STRONG,
      [](const v1::Criterion& c) { return c.has_task_completion(); });
  ASSERT_OK_AND_ASSIGN(v1::Evaluation before, Recorded(kMaohe, "2022-10"));
  const double rate = Actual(before, completion);
  // Deliver one of Maohe's open tasks in full.
  projects_v1::ListProjectsRequest list;
  list.set_village_id(kMaohe);
  list.set_page_size(100);
  ASSERT_OK_AND_ASSIGN(
      auto projects,
      ScoringTestEnv::CallOn(env_->projects_stub(),
                             &projects_v1::ProjectsService::Stub::ListProjects,
                             list, kAdminToken));
  const projects_v1::Project* open = nullptr;
  int counted = 0;
  for (const projects_v1::Project& p : projects.projects()) {
    if (p.status() != projects_v1::CANCELLED) ++counted;
    if (open == nullptr && p.status() != projects_v1::DELIVERED &&
        p.status() != projects_v1::CANCELLED) {
      open = &p;
    }
  }
  ASSERT_NE(open, nullptr);
  projects_v1::CreateProgressReportRequest report;
  report.mutable_report()->set_project_id(open->id());
  report.mutable_report()->set_quantity(open->target_quantity() -
                                        open->delivered_quantity());
  ASSERT_OK(ScoringTestEnv::CallOn(
                env_->projects_stub(),
                &projects_v1::ProjectsService::Stub::CreateProgressReport,
                report, kAdminToken)
                .status());
  EXPECT_TRUE(
      WaitForActual(kMaohe, completion, rate + 1.0 / counted, "2022-10"));
}

TEST_F(FeedFollowTest, ARegistryChangeReEvaluatesAndAMoveChangesBoards) {
  registry_v1::UpdateVillageRequest update;
  update.mutable_village()->set_id(kMaohe);
  update.mutable_village()->set_committee_members(3);
  update.mutable_update_mask()->add_paths("committee_members");
  ASSERT_OK(
      ScoringTestEnv::CallOn(env_->registry_stub(),
                             &registry_v1::RegistryService::Stub::UpdateVillage,
                             update, kAdminToken)
          .status());
  EXPECT_TRUE(WaitForActual(kMaohe, committee_, 3));

  // Moved from the north district to the west: it leaves one district's
  // board and joins the other's.
  update.mutable_village()->set_region_id(kWest);
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("region_id");
  ASSERT_OK(
      ScoringTestEnv::CallOn(env_->registry_stub(),
                             &registry_v1::RegistryService::Stub::UpdateVillage,
                             update, kAdminToken)
          .status());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool moved = false;
  while (!moved && absl::Now() < deadline) {
    auto north = env_->Leaderboard(kNorth);
    auto west = env_->Leaderboard(kWest);
    if (north.ok() && west.ok()) {
      bool in_north = false;
      bool in_west = false;
      for (const auto& e : north->entries())
        in_north |= e.village_id() == kMaohe;
      for (const auto& e : west->entries()) in_west |= e.village_id() == kMaohe;
      moved = !in_north && in_west && north->total_villages() == 3 &&
              west->total_villages() == 4;
    }
    if (!moved) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(moved);
  // Still once on the township's board.
  ASSERT_OK_AND_ASSIGN(auto township, env_->Leaderboard(kHuiche));
  EXPECT_EQ(township.total_villages(), 21);
}

TEST_F(FeedFollowTest, ARestartAndACutStreamMissNothingAndRepeatNothing) {
  ASSERT_TRUE(WaitForCaughtUp());
  // A change while scoring is down is applied when it returns.
  env_->StopScoring();
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 41));
  env_->StartScoring();
  EXPECT_TRUE(WaitForActual(kMaohe, inspection_, 41));
  ASSERT_TRUE(WaitForCaughtUp());

  // Nothing is applied twice: after another restart with no change, the
  // recorded evaluation is not re-made (its evaluate_time would move with
  // the clock).
  ASSERT_OK_AND_ASSIGN(v1::Evaluation applied, Recorded(kMaohe));
  env_->clock().Advance(absl::Hours(1));
  env_->RestartScoring();
  ASSERT_TRUE(WaitForCaughtUp());
  absl::SleepFor(absl::Milliseconds(1500));  // a heartbeat or more
  ASSERT_OK_AND_ASSIGN(v1::Evaluation after, Recorded(kMaohe));
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(after.evaluate_time()),
            TimeUtil::TimestampToMicroseconds(applied.evaluate_time()));

  // Project tracking goes away and comes back: the stream is resumed and
  // later changes arrive.
  env_->RestartProjects();
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 42));
  EXPECT_TRUE(WaitForActual(kMaohe, inspection_, 42));
  ASSERT_TRUE(WaitForCaughtUp());
}

// Another follower of the same database (a scoring replica that took the
// lease over) applied a range first: this follower's batch for it is
// refused by the fence, so the range is not applied twice, and it resumes
// after the stored cursor.
TEST_F(FeedFollowTest, ARangeAnotherFollowerAppliedIsNotAppliedAgain) {
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 41));
  ASSERT_TRUE(WaitForActual(kMaohe, inspection_, 41));
  ASSERT_TRUE(WaitForCaughtUp());
  ScoringStore& store = env_->scoring().server().store();
  ASSERT_OK_AND_ASSIGN(FeedCursor stored, store.GetCursor("projects"));
  // The other follower's write: the next change is applied.
  ASSERT_OK(store.SetCursor({"projects",
                             FeedCursor{stored.feed_id, stored.sequence + 1},
                             std::nullopt}));
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 43));
  ASSERT_TRUE(WaitForCaughtUp());
  absl::SleepFor(absl::Milliseconds(1500));  // a heartbeat or more
  ASSERT_OK_AND_ASSIGN(v1::Evaluation skipped, Recorded(kMaohe));
  EXPECT_EQ(Actual(skipped, inspection_), 41);
  // Later changes are this follower's again.
  ASSERT_OK(env_->SetIndicator(kMaohe, "inspection_score", kPeriod, 44));
  EXPECT_TRUE(WaitForActual(kMaohe, inspection_, 44));
}

}  // namespace
}  // namespace fivestar::scoring

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::testing::HttpGet;

// Polls /metrics until it holds `line` (at most 20 s).
bool WaitForMetric(int port, const std::string& line) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (HttpGet(port, "/metrics").find(line) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST(ScoringMetricsTest, FeedLagAndDegradedReadsAreExposed) {
  ScoringTestEnv env;
  env.RestartScoring([](ScoringServerOptions& options) {
    options.server.metrics_address = "127.0.0.1:0";
  });
  const int port = env.scoring().server().host().metrics_port();
  // Caught up with both feeds: no lag.
  EXPECT_TRUE(
      WaitForMetric(port, "fivestar_feed_follower_lag{feed=\"projects\"} 0"));
  EXPECT_TRUE(
      WaitForMetric(port, "fivestar_feed_follower_lag{feed=\"registry\"} 0"));
  ASSERT_OK(env.EvaluateRegion(kHuiche).status());
  ASSERT_OK(env.Leaderboard(kHuiche).status());
  EXPECT_TRUE(WaitForMetric(port, "fivestar_leaderboard_cache_up 1"));
  EXPECT_TRUE(
      WaitForMetric(port, "fivestar_leaderboard_degraded_reads_total 0"));
  env.StopRedis();
  ASSERT_OK_AND_ASSIGN(auto board, env.Leaderboard(kHuiche));
  EXPECT_TRUE(board.degraded());
  EXPECT_TRUE(
      WaitForMetric(port, "fivestar_leaderboard_degraded_reads_total 1"));
  EXPECT_TRUE(WaitForMetric(port, "fivestar_leaderboard_cache_up 0"));
}

}  // namespace
}  // namespace fivestar::scoring
