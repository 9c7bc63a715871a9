// The gap to a target level: which stars, which criteria, by how much, in
// which order, and the plan.
#include "services/scoring/gap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/scoring/evaluator.h"
#include "services/scoring/rubric.h"
#include "tests/scoring/default_rubric_fixture.h"
#include "tests/testing/ndjson.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::scoring::testing::DefaultRubric;

using ::fivestar::common::v1::BRANCH_STRONG;
using ::fivestar::common::v1::CIVILIZED_HAPPY;
using ::fivestar::common::v1::ECO_LIVABLE;
using ::fivestar::common::v1::INDUSTRY_THRIVING;
using ::fivestar::common::v1::SAFE_LAWFUL;
using ::fivestar::testing::SourcePath;
using ::testing::ElementsAre;

// Huiche east-03 in 2022-09 (see the expectations file): BRANCH_STRONG,
// INDUSTRY_THRIVING, ECO_LIVABLE and CIVILIZED_HAPPY not earned.
VillageInputs East03() {
  VillageInputs inputs;
  inputs.village.set_id("411323-huiche-east-03");
  inputs.village.set_committee_members(5);
  inputs.village.add_signature_industries("edible fungi");
  inputs.village.add_signature_industries("soilless cultivation");
  inputs.village.set_target_level(2);
  inputs.period = "2022-09";
  inputs.all_tasks = {9, 5, 0};
  inputs.tasks_by_star[StarIndex(ECO_LIVABLE)] = {2, 1, 0};
  inputs.compliance[12] = {12, 9};
  for (const auto& [key, value] :
       std::map<std::string, double>{{"accidents", 0},
                                     {"civic_activities", 9},
                                     {"civilized_families", 0},
                                     {"collective_income_yuan_ytd", 29000},
                                     {"criminal_cases", 0},
                                     {"disputes_mediated", 1},
                                     {"disputes_received", 1},
                                     {"hd_cameras_installed", 16},
                                     {"inspection_score", 70},
                                     {"moral_models", 1},
                                     {"people_trained", 161},
                                     {"petitions", 0}}) {
    inputs.indicators[key]["2022-09"] = value;
  }
  return inputs;
}

TEST(GapTest, StarsEasiestFirstWithTheCriteriaToFix) {
  const v1::Rubric rubric = DefaultRubric();
  const v1::Evaluation evaluation = Evaluate(rubric, East03());
  ASSERT_EQ(evaluation.level(), 1);
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, evaluation, 3);
  ASSERT_TRUE(gap.ok()) << gap.status();
  EXPECT_EQ(gap->village_id(), "411323-huiche-east-03");
  EXPECT_EQ(gap->period(), "2022-09");
  EXPECT_EQ(gap->rubric_version(), 1);
  EXPECT_EQ(gap->current_level(), 1);
  EXPECT_EQ(gap->target_level(), 3);
  EXPECT_FALSE(gap->reached());
  EXPECT_EQ(gap->stars_needed(), 2);
  // BRANCH_STRONG: 20 points, task completion (40, mandatory) fixes it
  // → 60. INDUSTRY_THRIVING: 50 points, income (50) → 100. ECO_LIVABLE: 0
  // points, inspection score (60) → 60. CIVILIZED_HAPPY: 30 points, civic
  // activities (40) → 70. All one criterion: by points short (10, 30, 40,
  // 60), then star order.
  ASSERT_EQ(gap->stars_size(), 4);
  EXPECT_EQ(gap->stars(0).star(), INDUSTRY_THRIVING);
  EXPECT_EQ(gap->stars(1).star(), CIVILIZED_HAPPY);
  EXPECT_EQ(gap->stars(2).star(), BRANCH_STRONG);
  EXPECT_EQ(gap->stars(3).star(), ECO_LIVABLE);
  EXPECT_THAT(gap->plan(), ElementsAre(INDUSTRY_THRIVING, CIVILIZED_HAPPY));
  EXPECT_TRUE(gap->stars(0).in_plan());
  EXPECT_TRUE(gap->stars(1).in_plan());
  EXPECT_FALSE(gap->stars(2).in_plan());

  const v1::StarGap& branch = gap->stars(2);
  EXPECT_EQ(branch.points(), 20);
  EXPECT_EQ(branch.pass_mark(), 60);
  ASSERT_EQ(branch.criteria_to_fix_size(), 1);
  const v1::CriterionGap& tasks = branch.criteria_to_fix(0);
  EXPECT_EQ(tasks.criterion_id(), "branch_task_completion");
  EXPECT_TRUE(tasks.mandatory());
  EXPECT_EQ(tasks.comparator(), v1::GE);
  EXPECT_EQ(tasks.threshold(), 0.75);
  EXPECT_DOUBLE_EQ(tasks.actual(), 5.0 / 9);
  EXPECT_DOUBLE_EQ(tasks.change_needed(), 0.75 - 5.0 / 9);
  EXPECT_EQ(tasks.points(), 40);
  // (5 + 2) / 9 = 0.78 >= 0.75; (5 + 1) / 9 = 0.67 is not.
  EXPECT_EQ(tasks.tasks_to_deliver(), 2);
  EXPECT_FALSE(tasks.value_missing());

  const v1::StarGap& civilized = gap->stars(1);
  ASSERT_EQ(civilized.criteria_to_fix_size(), 1);
  EXPECT_EQ(civilized.criteria_to_fix(0).criterion_id(),
            "civilized_civic_activities");
  EXPECT_EQ(civilized.criteria_to_fix(0).change_needed(), 3);
  EXPECT_EQ(civilized.criteria_to_fix(0).tasks_to_deliver(), 0);
}

TEST(GapTest, MandatoryFirstThenOptionalByPointsUntilThePassMark) {
  VillageInputs inputs = East03();
  // SAFE_LAWFUL: a petition (mandatory), no cameras (20) and disputes 0 of 4
  // (20): 40 points now; fixing the petition gives 60 — enough.
  inputs.indicators["petitions"]["2022-09"] = 1;
  inputs.indicators["hd_cameras_installed"]["2022-09"] = 0;
  inputs.indicators["disputes_received"]["2022-09"] = 4;
  inputs.indicators["disputes_mediated"]["2022-09"] = 0;
  // ECO_LIVABLE: 0 points; the inspection score (60, mandatory) reaches 60.
  // CIVILIZED_HAPPY: families (30), civic activities (40) unmet, moral
  // models (30) met → 30; civic activities alone reaches 70.
  const v1::Rubric rubric = DefaultRubric();
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, Evaluate(rubric, inputs), 5);
  ASSERT_TRUE(gap.ok()) << gap.status();
  for (const v1::StarGap& star : gap->stars()) {
    if (star.star() == SAFE_LAWFUL) {
      EXPECT_EQ(star.points(), 40);
      ASSERT_EQ(star.criteria_to_fix_size(), 1);
      EXPECT_EQ(star.criteria_to_fix(0).criterion_id(), "safe_zero_petitions");
      EXPECT_EQ(star.criteria_to_fix(0).change_needed(), -1);
    }
    if (star.star() == CIVILIZED_HAPPY) {
      ASSERT_EQ(star.criteria_to_fix_size(), 1);
      EXPECT_EQ(star.criteria_to_fix(0).criterion_id(),
                "civilized_civic_activities");
    }
  }
  // Nothing earned: a target of five plans every star.
  EXPECT_EQ(gap->stars_needed(), 5);
  EXPECT_EQ(gap->plan_size(), 5);
}

TEST(GapTest, OptionalCriteriaByPointsThenRubricOrder) {
  VillageInputs inputs = East03();
  // CIVILIZED_HAPPY with nothing: 0 points; needs 60: civic activities (40)
  // then families (30, before moral models by rubric order).
  inputs.indicators["moral_models"]["2022-09"] = 0;
  const v1::Rubric rubric = DefaultRubric();
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, Evaluate(rubric, inputs), 2);
  ASSERT_TRUE(gap.ok()) << gap.status();
  const v1::StarGap* civilized = nullptr;
  for (const v1::StarGap& star : gap->stars()) {
    if (star.star() == CIVILIZED_HAPPY) civilized = &star;
  }
  ASSERT_NE(civilized, nullptr);
  ASSERT_EQ(civilized->criteria_to_fix_size(), 2);
  EXPECT_EQ(civilized->criteria_to_fix(0).criterion_id(),
            "civilized_civic_activities");
  EXPECT_EQ(civilized->criteria_to_fix(1).criterion_id(), "civilized_families");
  // Two criteria: last.
  EXPECT_EQ(gap->stars(gap->stars_size() - 1).star(), CIVILIZED_HAPPY);
}

TEST(GapTest, ReachedNeedsNothing) {
  const v1::Rubric rubric = DefaultRubric();
  absl::StatusOr<v1::Gap> gap =
      ComputeGap(rubric, Evaluate(rubric, East03()), 1);
  ASSERT_TRUE(gap.ok()) << gap.status();
  EXPECT_TRUE(gap->reached());
  EXPECT_EQ(gap->stars_needed(), 0);
  EXPECT_TRUE(gap->plan().empty());
  EXPECT_EQ(gap->stars_size(), 4);
}

TEST(GapTest, PrerequisiteStarComesFirstInThePlan) {
  v1::Rubric rubric = DefaultRubric();
  rubric.mutable_global_rules()->set_prerequisite_star(BRANCH_STRONG);
  const v1::Evaluation evaluation = Evaluate(rubric, East03());
  ASSERT_EQ(evaluation.level(), 0);
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, evaluation, 2);
  ASSERT_TRUE(gap.ok()) << gap.status();
  EXPECT_EQ(gap->stars_needed(), 2);
  // SAFE_LAWFUL passed and lacks only the prerequisite: nothing to fix, so
  // easiest; BRANCH_STRONG is planned first all the same.
  EXPECT_EQ(gap->stars(0).star(), SAFE_LAWFUL);
  EXPECT_EQ(gap->stars(0).criteria_to_fix_size(), 0);
  EXPECT_THAT(gap->plan(), ElementsAre(BRANCH_STRONG, SAFE_LAWFUL));
}

TEST(GapTest, TasksToDeliverForOtherComparatorsAndMissingValues) {
  v1::Rubric rubric = DefaultRubric();
  // ECO tasks must be strictly above 0.5: 1 of 2 delivered → 1 more.
  v1::Criterion* eco = rubric.mutable_stars(2)->mutable_criteria(1);
  eco->set_comparator(v1::GT);
  eco->set_threshold(0.5);
  eco->set_mandatory(true);
  VillageInputs inputs = East03();
  inputs.indicators.erase("inspection_score");
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, Evaluate(rubric, inputs), 5);
  ASSERT_TRUE(gap.ok()) << gap.status();
  for (const v1::StarGap& star : gap->stars()) {
    if (star.star() != ECO_LIVABLE) continue;
    ASSERT_EQ(star.criteria_to_fix_size(), 2);
    EXPECT_EQ(star.criteria_to_fix(0).criterion_id(), "eco_inspection_score");
    EXPECT_TRUE(star.criteria_to_fix(0).value_missing());
    EXPECT_EQ(star.criteria_to_fix(0).actual(), 0);
    EXPECT_EQ(star.criteria_to_fix(1).criterion_id(), "eco_task_completion");
    EXPECT_EQ(star.criteria_to_fix(1).tasks_to_deliver(), 1);
  }
}

TEST(GapTest, TargetAboveTheCapOrOutOfRange) {
  v1::Rubric rubric = DefaultRubric();
  rubric.mutable_global_rules()->set_max_level(3);
  const v1::Evaluation evaluation = Evaluate(rubric, East03());
  absl::StatusOr<v1::Gap> gap = ComputeGap(rubric, evaluation, 4);
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gap.status().message(),
            "target_level 4 is above the rubric's level cap of 3");
  EXPECT_TRUE(ComputeGap(rubric, evaluation, 3).ok());
  gap = ComputeGap(rubric, evaluation, 0);
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gap.status().message(), "target_level: must be 1..5, got 0");
}

}  // namespace
}  // namespace fivestar::scoring
