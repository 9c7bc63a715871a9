// Scoring's rubric and evaluation RPCs over gRPC against the real stack
// (registry, project tracking with Huiche's data, redis-server), with
// authentication on: the default rubric, rubric rules over the API, the
// Huiche evaluation of 2022-09 against expectations computed independently
// (tests/scoring/testdata), region evaluation streaming, what-if, gap,
// missing data and vacuous rates.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/scoring/huiche_expected.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::StatusIs;
using Stub = v1::ScoringService::Stub;
using ::testing::HasSubstr;

const v1::CriterionResult* FindCriterion(const v1::Evaluation& evaluation,
                                         const std::string& id) {
  for (const v1::StarResult& star : evaluation.stars()) {
    for (const v1::CriterionResult& c : star.criteria()) {
      if (c.criterion_id() == id) return &c;
    }
  }
  return nullptr;
}

const v1::StarResult& StarOf(const v1::Evaluation& evaluation, Star star) {
  for (const v1::StarResult& s : evaluation.stars()) {
    if (s.star() == star) return s;
  }
  static const v1::StarResult* none = new v1::StarResult();
  return *none;
}

class ScoringServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;
    env_ = std::make_unique<ScoringTestEnv>(options);
  }
  std::unique_ptr<ScoringTestEnv> env_;
};

TEST_F(ScoringServiceTest, TheDefaultRubricIsVersionOneAndActive) {
  ASSERT_OK_AND_ASSIGN(
      v1::Rubric rubric,
      env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kHuicheViewerToken));
  EXPECT_EQ(rubric.version(), 1);
  EXPECT_TRUE(rubric.active());
  ASSERT_EQ(rubric.stars_size(), 5);
  int criteria = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(rubric.stars(i).star(), static_cast<Star>(i + 1));
    EXPECT_EQ(rubric.stars(i).pass_mark(), 60);
    criteria += rubric.stars(i).criteria_size();
  }
  EXPECT_EQ(criteria, 16);  // DESIGN §5's table
  EXPECT_EQ(rubric.incentive_rules_size(), 2);
  EXPECT_THAT(rubric.creator(), HasSubstr("default.textproto"));

  v1::GetRubricRequest missing;
  missing.set_version(9);
  EXPECT_THAT(env_->Call(&Stub::GetRubric, missing, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound, "rubric version 9"));
}

TEST_F(ScoringServiceTest, RubricRulesAreEnforcedOverTheApi) {
  ASSERT_OK_AND_ASSIGN(
      v1::Rubric rubric,
      env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kViewerToken));
  v1::CreateRubricRequest request;
  *request.mutable_rubric() = rubric;

  // Only a global admin changes the rubric.
  EXPECT_THAT(env_->Call(&Stub::CreateRubric, request, kCountyAdminToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "global scope"));

  struct Case {
    const char* what;
    std::function<void(v1::Rubric&)> change;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"unknown indicator",
       [](v1::Rubric& r) {
         r.mutable_stars(1)->mutable_criteria(0)->mutable_indicator()->set_key(
             "gdp_per_capita");
       },
       "rubric.stars[1].criteria[0].indicator.key"},
      {"four stars", [](v1::Rubric& r) { r.mutable_stars()->RemoveLast(); },
       "rubric.stars"},
      {"no name", [](v1::Rubric& r) { r.clear_name(); }, "rubric.name"},
      {"pass mark above the points",
       [](v1::Rubric& r) { r.mutable_stars(0)->set_pass_mark(101); },
       "rubric.stars[0].pass_mark"},
      {"duplicate criterion id",
       [](v1::Rubric& r) {
         r.mutable_stars(1)->mutable_criteria(0)->set_id(
             r.stars(0).criteria(0).id());
       },
       "rubric.stars[1].criteria[0].id"},
      {"notice days", [](v1::Rubric& r) { r.set_public_notice_days(61); },
       "rubric.public_notice_days"},
  };
  for (const Case& c : cases) {
    v1::CreateRubricRequest bad = request;
    c.change(*bad.mutable_rubric());
    EXPECT_THAT(env_->Call(&Stub::CreateRubric, bad, kAdminToken),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message))
        << c.what;
  }
  ASSERT_OK_AND_ASSIGN(
      auto list,
      env_->Call(&Stub::ListRubrics, v1::ListRubricsRequest(), kViewerToken));
  EXPECT_EQ(list.rubrics_size(), 1);  // nothing stored by the failures

  // validate_only stores nothing; a real create is version 2, not active
  // until activated.
  request.set_validate_only(true);
  ASSERT_OK(env_->Call(&Stub::CreateRubric, request, kAdminToken).status());
  request.set_validate_only(false);
  request.mutable_rubric()->set_name("第二版");
  ASSERT_OK_AND_ASSIGN(v1::Rubric second,
                       env_->Call(&Stub::CreateRubric, request, kAdminToken));
  EXPECT_EQ(second.version(), 2);
  EXPECT_FALSE(second.active());
  EXPECT_EQ(second.creator(), "province-admin");
  v1::SetActiveRubricRequest activate;
  activate.set_version(2);
  EXPECT_THAT(
      env_->Call(&Stub::SetActiveRubric, activate, kHuicheOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, ""));
  ASSERT_OK_AND_ASSIGN(v1::Rubric active, env_->Call(&Stub::SetActiveRubric,
                                                     activate, kAdminToken));
  EXPECT_TRUE(active.active());
  activate.set_version(3);
  EXPECT_THAT(env_->Call(&Stub::SetActiveRubric, activate, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, ""));

  v1::ListRubricsRequest page;
  page.set_page_size(1);
  ASSERT_OK_AND_ASSIGN(list,
                       env_->Call(&Stub::ListRubrics, page, kViewerToken));
  ASSERT_EQ(list.rubrics_size(), 1);
  EXPECT_EQ(list.rubrics(0).version(), 2);
  EXPECT_TRUE(list.rubrics(0).active());
  page.set_page_token(list.next_page_token());
  ASSERT_OK_AND_ASSIGN(list,
                       env_->Call(&Stub::ListRubrics, page, kViewerToken));
  ASSERT_EQ(list.rubrics_size(), 1);
  EXPECT_EQ(list.rubrics(0).version(), 1);
  EXPECT_FALSE(list.rubrics(0).active());
  EXPECT_EQ(list.next_page_token(), "");
}

TEST_F(ScoringServiceTest, HuicheSeptemberMatchesTheHandComputedResults) {
  ASSERT_OK_AND_ASSIGN(std::vector<ExpectedVillage> expected,
                       LoadHuicheExpected());
  ASSERT_EQ(expected.size(), 21u);
  ASSERT_OK_AND_ASSIGN(auto messages,
                       env_->EvaluateRegion(kHuiche, kPeriod, true));
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.front().villages_total(), 21);
  EXPECT_EQ(messages.back().phase(), v1::EvaluateRegionResponse::DONE);
  EXPECT_EQ(messages.back().villages_evaluated(), 21);
  EXPECT_EQ(messages.back().villages_failed(), 0);
  std::map<std::string, v1::Evaluation> streamed;
  for (const auto& message : messages) {
    for (const auto& evaluation : message.evaluations()) {
      streamed[evaluation.village_id()] = evaluation;
    }
  }
  EXPECT_EQ(streamed.size(), 21u);

  for (const ExpectedVillage& village : expected) {
    v1::GetEvaluationRequest request;
    request.set_village_id(village.village_id);
    request.set_period(kPeriod);
    ASSERT_OK_AND_ASSIGN(
        v1::Evaluation evaluation,
        env_->Call(&Stub::GetEvaluation, request, kHuicheViewerToken));
    SCOPED_TRACE(village.village_id);
    EXPECT_TRUE(evaluation.recorded());
    EXPECT_EQ(evaluation.rubric_version(), 1);
    EXPECT_EQ(evaluation.stars_earned(), village.stars);
    EXPECT_EQ(evaluation.level(), village.stars);
    EXPECT_EQ(evaluation.total_points(), village.points);
    ASSERT_EQ(evaluation.stars_size(), 5);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(evaluation.stars(i).earned(), village.per_star[i].earned)
          << "star " << i + 1;
      EXPECT_EQ(evaluation.stars(i).points(), village.per_star[i].points)
          << "star " << i + 1;
      EXPECT_EQ(evaluation.stars(i).reason(), village.per_star[i].reason)
          << "star " << i + 1;
    }
    EXPECT_EQ(streamed[village.village_id].total_points(), village.points);
  }
}

TEST_F(ScoringServiceTest, EvaluateExplainsEachCriterion) {
  ASSERT_OK_AND_ASSIGN(v1::Evaluation evaluation,
                       env_->Evaluate(kMaohe, kPeriod, kHuicheOperatorToken));
  EXPECT_TRUE(evaluation.recorded());
  EXPECT_EQ(evaluation.target_level(), 3);
  // Maohe (north-01): 3 stars, 350 points; collective income 98,000 <
  // 100,000 and inspection 81 < 85.
  EXPECT_EQ(evaluation.stars_earned(), 3);
  EXPECT_EQ(evaluation.total_points(), 350);
  const v1::StarResult& industry =
      StarOf(evaluation, fivestar::common::v1::INDUSTRY_THRIVING);
  EXPECT_FALSE(industry.earned());
  EXPECT_EQ(industry.pass_mark(), 60);
  EXPECT_EQ(industry.max_points(), 100);
  const v1::CriterionResult* income =
      FindCriterion(evaluation, "industry_collective_income");
  ASSERT_NE(income, nullptr);
  EXPECT_TRUE(income->mandatory());
  EXPECT_EQ(income->actual(), 98000);
  EXPECT_EQ(income->threshold(), 100000);
  EXPECT_FALSE(income->met());
  EXPECT_EQ(income->points(), 0);
  EXPECT_EQ(income->max_points(), 50);
  EXPECT_FALSE(income->value_missing());

  // Permissions: a viewer may not evaluate (it records); another
  // township's operator may not touch Maohe; an unknown village.
  EXPECT_THAT(env_->Evaluate(kMaohe, kPeriod, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(env_->Evaluate(kMaohe, kPeriod, kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(env_->Evaluate("411323-huiche-north-99"),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(env_->Evaluate(kMaohe, "2022-11"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period: must not be after the current month 2022-10"));
  v1::GetEvaluationRequest request;
  request.set_village_id(kMaohe);
  request.set_period("2022-08");
  EXPECT_THAT(env_->Call(&Stub::GetEvaluation, request, kViewerToken),
              StatusIs(absl::StatusCode::kNotFound, "never evaluated"));
}

TEST_F(ScoringServiceTest, MissingDataAndVacuousRates) {
  // August: no indicator values at all. LATEST criteria are missing data
  // (unmet); 12-month sums without require_data count 0; no disputes
  // received makes the mediation ratio vacuously met.
  ASSERT_OK_AND_ASSIGN(v1::Evaluation august,
                       env_->Evaluate(kMaohe, "2022-08"));
  const v1::CriterionResult* inspection =
      FindCriterion(august, "eco_inspection_score");
  ASSERT_NE(inspection, nullptr);
  EXPECT_TRUE(inspection->value_missing());
  EXPECT_FALSE(inspection->met());
  EXPECT_EQ(inspection->actual(), 0);
  bool saw_vacuous = false;
  for (const v1::StarResult& star : august.stars()) {
    for (const v1::CriterionResult& c : star.criteria()) {
      if (c.vacuous()) {
        saw_vacuous = true;
        EXPECT_TRUE(c.met()) << c.criterion_id();
        EXPECT_EQ(c.denominator(), 0) << c.criterion_id();
      }
    }
  }
  EXPECT_TRUE(saw_vacuous);
  // A village without tasks: its completion rate is vacuous.
  ASSERT_OK_AND_ASSIGN(v1::Evaluation other, env_->Evaluate(kOtherVillage));
  const v1::CriterionResult* completion =
      FindCriterion(other, "branch_task_completion");
  ASSERT_NE(completion, nullptr);
  EXPECT_TRUE(completion->vacuous());
  EXPECT_TRUE(completion->met());
}

TEST_F(ScoringServiceTest, WhatIfChangesNothingAndExplainsTheDifference) {
  ASSERT_OK(env_->Evaluate(kMaohe).status());
  v1::WhatIfRequest request;
  request.set_village_id(kMaohe);
  request.set_period(kPeriod);
  v1::IndicatorOverride* income = request.add_indicator_overrides();
  income->set_indicator_key("collective_income_yuan_ytd");
  income->set_value(100000);
  v1::CriterionOverride* inspection = request.add_criterion_overrides();
  inspection->set_criterion_id("eco_inspection_score");
  inspection->set_actual(90);
  ASSERT_OK_AND_ASSIGN(v1::WhatIfResponse response,
                       env_->Call(&Stub::WhatIf, request, kHuicheViewerToken));
  EXPECT_EQ(response.baseline().stars_earned(), 3);
  EXPECT_EQ(response.scenario().stars_earned(), 5);
  EXPECT_FALSE(response.scenario().recorded());
  ASSERT_EQ(response.stars_gained_size(), 2);
  EXPECT_EQ(response.stars_gained(0), fivestar::common::v1::INDUSTRY_THRIVING);
  EXPECT_EQ(response.stars_gained(1), fivestar::common::v1::ECO_LIVABLE);
  EXPECT_EQ(response.stars_lost_size(), 0);
  EXPECT_TRUE(FindCriterion(response.scenario(), "industry_collective_income")
                  ->overridden());

  // Nothing recorded: the standing is still the baseline.
  v1::GetEvaluationRequest get;
  get.set_village_id(kMaohe);
  get.set_period(kPeriod);
  ASSERT_OK_AND_ASSIGN(v1::Evaluation recorded,
                       env_->Call(&Stub::GetEvaluation, get, kViewerToken));
  EXPECT_EQ(recorded.stars_earned(), 3);

  v1::WhatIfRequest bad = request;
  bad.mutable_indicator_overrides(0)->set_indicator_key("gdp");
  EXPECT_THAT(env_->Call(&Stub::WhatIf, bad, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "indicator_overrides[0].indicator_key"));
  bad = request;
  bad.mutable_criterion_overrides(0)->set_criterion_id("no_such_criterion");
  EXPECT_THAT(env_->Call(&Stub::WhatIf, bad, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "criterion_overrides[0].criterion_id"));
}

TEST_F(ScoringServiceTest, GapToTheTargetLevel) {
  // South-03 aims at two stars (定星 in the registry) and earns one in
  // September: one more is needed, from the four it lacks.
  v1::GetGapRequest request;
  request.set_village_id("411323-huiche-south-03");
  request.set_period(kPeriod);
  ASSERT_OK_AND_ASSIGN(v1::Gap gap,
                       env_->Call(&Stub::GetGap, request, kHuicheViewerToken));
  EXPECT_EQ(gap.current_level(), 1);
  EXPECT_EQ(gap.target_level(), 2);
  EXPECT_FALSE(gap.reached());
  EXPECT_EQ(gap.stars_needed(), 1);
  EXPECT_EQ(gap.stars_size(), 4);
  EXPECT_EQ(gap.plan_size(), 1);
  for (const v1::StarGap& star : gap.stars()) {
    EXPECT_FALSE(star.criteria_to_fix().empty());
  }
  // Maohe already has 3 stars: target 3 reached; target 4 needs one.
  request.set_village_id(kMaohe);
  request.set_target_level(4);
  ASSERT_OK_AND_ASSIGN(gap, env_->Call(&Stub::GetGap, request, kViewerToken));
  EXPECT_EQ(gap.current_level(), 3);
  EXPECT_EQ(gap.stars_needed(), 1);
  EXPECT_EQ(gap.plan_size(), 1);
  request.set_target_level(3);
  ASSERT_OK_AND_ASSIGN(gap, env_->Call(&Stub::GetGap, request, kViewerToken));
  EXPECT_TRUE(gap.reached());
  EXPECT_EQ(gap.stars_needed(), 0);
  // South-04 has no target in the registry.
  request.set_village_id("411323-huiche-south-04");
  request.set_target_level(0);
  EXPECT_THAT(env_->Call(&Stub::GetGap, request, kAdminToken),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no target"));
  request.set_target_level(6);
  EXPECT_THAT(env_->Call(&Stub::GetGap, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "target_level"));
}

TEST_F(ScoringServiceTest, RegionEvaluationNeedsAnOperatorOverTheRegion) {
  EXPECT_THAT(env_->EvaluateRegion(kHuiche, kPeriod, false, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(
      env_->EvaluateRegion(kHuiche, kPeriod, false, kOtherOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(env_->EvaluateRegion("no-such-region"),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(env_->EvaluateRegion(kHuiche, kPeriod, false, ""),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
  ASSERT_OK_AND_ASSIGN(
      auto messages,
      env_->EvaluateRegion(kNorth, kPeriod, false, kNorthOperatorToken));
  EXPECT_EQ(messages.back().villages_evaluated(), 4);
  // Reads batched: a region of 21 villages costs a handful of peer calls.
  const int64_t registry_before =
      env_->scoring().server().inputs().registry_calls();
  const int64_t projects_before =
      env_->scoring().server().inputs().projects_calls();
  ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
  EXPECT_LE(
      env_->scoring().server().inputs().registry_calls() - registry_before, 8);
  EXPECT_LE(
      env_->scoring().server().inputs().projects_calls() - projects_before, 3);
}

}  // namespace
}  // namespace fivestar::scoring
