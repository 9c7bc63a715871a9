// The evaluator on hand-made inputs: comparators, windows, aggregations,
// rates, prerequisite and cap, overrides, exact reasons, three Huiche
// villages against the independently computed expectations, and WhatIf
// validation.
#include "services/scoring/evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/calendar.h"
#include "google/protobuf/text_format.h"
#include "services/scoring/rubric.h"
#include "tests/scoring/default_rubric_fixture.h"
#include "tests/scoring/huiche_expected.h"
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

v1::Criterion Indicator(const std::string& id, const std::string& key,
                        v1::Aggregation aggregation, int months,
                        v1::Comparator comparator, double threshold, int points,
                        bool mandatory = false, bool require_data = false) {
  v1::Criterion c;
  c.set_id(id);
  c.set_description(id);
  c.mutable_indicator()->set_key(key);
  c.mutable_indicator()->set_aggregation(aggregation);
  c.mutable_indicator()->set_months(months);
  c.mutable_indicator()->set_require_data(require_data);
  c.set_comparator(comparator);
  c.set_threshold(threshold);
  c.set_points(points);
  c.set_mandatory(mandatory);
  return c;
}

v1::Criterion TaskCompletion(const std::string& id, Star star, double threshold,
                             int points, bool mandatory = false) {
  v1::Criterion c;
  c.set_id(id);
  c.set_description(id);
  c.mutable_task_completion()->set_star(star);
  c.set_comparator(v1::GE);
  c.set_threshold(threshold);
  c.set_points(points);
  c.set_mandatory(mandatory);
  return c;
}

// BRANCH_STRONG holds `criteria` with `pass_mark`; the other stars hold one
// criterion that always passes (committee members >= 0, 0 points, pass 0).
v1::Rubric BranchRubric(const std::vector<v1::Criterion>& criteria,
                        int pass_mark) {
  v1::Rubric rubric;
  rubric.set_name("test");
  rubric.set_version(7);
  // Deliberately out of star order: the evaluation is in star order.
  for (int i = 4; i >= 0; --i) {
    v1::StarRule* rule = rubric.add_stars();
    rule->set_star(kStars[i]);
    if (i == 0) {
      rule->set_pass_mark(pass_mark);
      for (const v1::Criterion& c : criteria) *rule->add_criteria() = c;
      continue;
    }
    v1::Criterion* c = rule->add_criteria();
    c->set_id("always_" + std::to_string(i));
    c->set_description("always");
    c->set_registry_field(v1::COMMITTEE_MEMBERS);
    c->set_comparator(v1::GE);
  }
  EXPECT_TRUE(ValidateRubric(rubric, nullptr).ok())
      << ValidateRubric(rubric, nullptr);
  return rubric;
}

VillageInputs Inputs() {
  VillageInputs inputs;
  inputs.village.set_id("v1");
  inputs.village.set_committee_members(5);
  inputs.village.add_signature_industries("kiwifruit");
  inputs.village.set_target_level(3);
  inputs.lineage = {"v1", "township", "county"};
  inputs.period = "2022-09";
  return inputs;
}

const v1::StarResult& Branch(const v1::Evaluation& evaluation) {
  return evaluation.stars(0);
}

const v1::CriterionResult& First(const v1::Evaluation& evaluation) {
  return evaluation.stars(0).criteria(0);
}

// --- Comparators
// --------------------------------------------------------------

struct ComparatorCase {
  v1::Comparator comparator;
  double threshold;
  double actual;
  bool met;
};

class ComparatorTest : public ::testing::TestWithParam<ComparatorCase> {};

TEST_P(ComparatorTest, ComparesActualWithThreshold) {
  const ComparatorCase& c = GetParam();
  VillageInputs inputs = Inputs();
  inputs.indicators["x"]["2022-09"] = c.actual;
  const v1::Evaluation e = Evaluate(
      BranchRubric(
          {Indicator("c", "x", v1::LATEST, 1, c.comparator, c.threshold, 10)},
          0),
      inputs);
  EXPECT_EQ(First(e).met(), c.met);
  EXPECT_EQ(First(e).actual(), c.actual);
  EXPECT_EQ(First(e).points(), c.met ? 10 : 0);
  EXPECT_EQ(First(e).max_points(), 10);
}

INSTANTIATE_TEST_SUITE_P(
    Each, ComparatorTest,
    ::testing::Values(ComparatorCase{v1::GE, 5, 5, true},
                      ComparatorCase{v1::GE, 5, 4.999, false},
                      ComparatorCase{v1::GT, 5, 5, false},
                      ComparatorCase{v1::GT, 5, 5.001, true},
                      ComparatorCase{v1::LE, 5, 5, true},
                      ComparatorCase{v1::LE, 5, 5.001, false},
                      ComparatorCase{v1::LT, 5, 5, false},
                      ComparatorCase{v1::LT, 5, 4.999, true},
                      ComparatorCase{v1::EQ, 0, 0, true},
                      ComparatorCase{v1::EQ, 0, 1, false},
                      // Tolerance 1e-9 × max(1, |threshold|).
                      ComparatorCase{v1::EQ, 0, 1e-9, true},
                      ComparatorCase{v1::EQ, 0, 2e-9, false},
                      ComparatorCase{v1::EQ, 1e6, 1e6 + 5e-4, true},
                      ComparatorCase{v1::EQ, 1e6, 1e6 + 2e-3, false},
                      ComparatorCase{v1::EQ, -1e6, -1e6 - 5e-4, true}));

// --- Indicator windows and aggregations ------------------------------------

TEST(EvaluateTest, LatestPicksTheMostRecentMonthInsideTheWindow) {
  VillageInputs inputs = Inputs();
  inputs.indicators["x"] = {{"2021-09", 1},
                            {"2022-06", 5},
                            {"2022-08", 7},
                            {"2022-10", 100}};  // after the period
  auto eval = [&](int months) {
    return First(Evaluate(
        BranchRubric({Indicator("c", "x", v1::LATEST, months, v1::GE, 6, 10)},
                     0),
        inputs));
  };
  EXPECT_EQ(eval(3).actual(), 7);
  EXPECT_TRUE(eval(3).met());
  EXPECT_EQ(eval(2).actual(), 7);
  // The window 2022-09 alone has no value.
  EXPECT_TRUE(eval(1).value_missing());
  EXPECT_EQ(eval(1).actual(), 0);
  EXPECT_FALSE(eval(1).met());
  // 0 means 12: 2021-10..2022-09.
  inputs.indicators["x"].erase("2022-06");
  inputs.indicators["x"].erase("2022-08");
  EXPECT_TRUE(eval(0).value_missing());
  EXPECT_EQ(eval(13).actual(), 1);
}

TEST(EvaluateTest, LatestWithoutAnyValueIsMissingAndUnmetWhateverTheRule) {
  const v1::Evaluation e = Evaluate(
      BranchRubric({Indicator("c", "x", v1::LATEST, 12, v1::LE, 10, 10)}, 0),
      Inputs());
  EXPECT_TRUE(First(e).value_missing());
  EXPECT_FALSE(First(e).met());
  EXPECT_EQ(First(e).actual(), 0);
}

TEST(EvaluateTest, SumAddsTheWindowAndTreatsAnEmptyOneAsZero) {
  VillageInputs inputs = Inputs();
  inputs.indicators["x"] = {
      {"2021-09", 50}, {"2022-01", 1}, {"2022-09", 2}, {"2022-10", 9}};
  const v1::Rubric rubric = BranchRubric(
      {Indicator("c", "x", v1::SUM_LAST_N_MONTHS, 0, v1::EQ, 3, 10),
       Indicator("empty", "y", v1::SUM_LAST_N_MONTHS, 12, v1::EQ, 0, 10)},
      0);
  const v1::Evaluation e = Evaluate(rubric, inputs);
  EXPECT_EQ(Branch(e).criteria(0).actual(), 3);
  EXPECT_TRUE(Branch(e).criteria(0).met());
  EXPECT_EQ(Branch(e).criteria(1).actual(), 0);
  EXPECT_FALSE(Branch(e).criteria(1).value_missing());
  EXPECT_TRUE(Branch(e).criteria(1).met());
}

TEST(EvaluateTest, SumWithRequireDataLeavesAnEmptyWindowUnmet) {
  VillageInputs inputs = Inputs();
  inputs.indicators["y"] = {{"2021-09", 0}};  // outside the window
  const v1::Evaluation e = Evaluate(
      BranchRubric({Indicator("c", "y", v1::SUM_LAST_N_MONTHS, 12, v1::EQ, 0,
                              10, true, /*require_data=*/true)},
                   0),
      inputs);
  EXPECT_TRUE(First(e).value_missing());
  EXPECT_FALSE(First(e).met());
  EXPECT_EQ(Branch(e).reason(),
            "mandatory criterion c not met (no value); 0 points, pass mark 0");
}

// --- Rates, registry fields and ratios --------------------------------------

TEST(EvaluateTest, TaskCompletionExcludesCancelledAndGivesItsFraction) {
  VillageInputs inputs = Inputs();
  inputs.all_tasks = {12, 6, 2};  // 6 of 10
  inputs.tasks_by_star[StarIndex(ECO_LIVABLE)] = {4, 3, 0};
  const v1::Evaluation e = Evaluate(
      BranchRubric({TaskCompletion(
                        "all", fivestar::common::v1::STAR_UNSPECIFIED, 0.6, 10),
                    TaskCompletion("eco", ECO_LIVABLE, 0.8, 10)},
                   0),
      inputs);
  const v1::CriterionResult& all = Branch(e).criteria(0);
  EXPECT_EQ(all.actual(), 0.6);
  EXPECT_TRUE(all.met());
  EXPECT_EQ(all.numerator(), 6);
  EXPECT_EQ(all.denominator(), 10);
  EXPECT_FALSE(all.vacuous());
  const v1::CriterionResult& eco = Branch(e).criteria(1);
  EXPECT_EQ(eco.actual(), 0.75);
  EXPECT_FALSE(eco.met());
  EXPECT_EQ(eco.numerator(), 3);
  EXPECT_EQ(eco.denominator(), 4);
}

TEST(EvaluateTest, RateWithoutTasksToDeliverIsVacuouslyMet) {
  VillageInputs inputs = Inputs();
  inputs.tasks_by_star[StarIndex(ECO_LIVABLE)] = {2, 0, 2};  // all cancelled
  const v1::Evaluation e = Evaluate(
      BranchRubric({TaskCompletion("eco", ECO_LIVABLE, 0.8, 10, true),
                    TaskCompletion("none", SAFE_LAWFUL, 0.8, 10, true)},
                   20),
      inputs);
  for (const v1::CriterionResult& c : Branch(e).criteria()) {
    EXPECT_TRUE(c.vacuous()) << c.criterion_id();
    EXPECT_TRUE(c.met()) << c.criterion_id();
    EXPECT_EQ(c.actual(), 1);
    EXPECT_EQ(c.denominator(), 0);
    EXPECT_EQ(c.points(), 10);
  }
  EXPECT_TRUE(Branch(e).earned());
}

TEST(EvaluateTest, ReportingComplianceAndRegistryFields) {
  VillageInputs inputs = Inputs();
  inputs.compliance[12] = {12, 11};
  v1::Criterion weekly;
  weekly.set_id("weekly");
  weekly.set_description("w");
  weekly.mutable_reporting_compliance();  // 0 means 12
  weekly.set_comparator(v1::GE);
  weekly.set_threshold(0.9);
  weekly.set_points(40);
  v1::Criterion four_weeks = weekly;
  four_weeks.set_id("four_weeks");
  four_weeks.mutable_reporting_compliance()->set_weeks(4);
  v1::Criterion members;
  members.set_id("members");
  members.set_description("m");
  members.set_registry_field(v1::COMMITTEE_MEMBERS);
  members.set_comparator(v1::GE);
  members.set_threshold(5);
  members.set_points(20);
  v1::Criterion industries = members;
  industries.set_id("industries");
  industries.set_registry_field(v1::SIGNATURE_INDUSTRIES);
  industries.set_threshold(2);
  const v1::Evaluation e = Evaluate(
      BranchRubric({weekly, four_weeks, members, industries}, 60), inputs);
  const auto& c = Branch(e).criteria();
  EXPECT_DOUBLE_EQ(c[0].actual(), 11.0 / 12);
  EXPECT_EQ(c[0].numerator(), 11);
  EXPECT_EQ(c[0].denominator(), 12);
  EXPECT_TRUE(c[0].met());
  EXPECT_TRUE(c[1].value_missing());  // the inputs lack a 4-week window
  EXPECT_FALSE(c[1].met());
  EXPECT_EQ(c[2].actual(), 5);
  EXPECT_TRUE(c[2].met());
  EXPECT_EQ(c[3].actual(), 1);
  EXPECT_FALSE(c[3].met());
  EXPECT_EQ(Branch(e).points(), 60);
  EXPECT_TRUE(Branch(e).earned());
}

v1::Criterion Ratio(bool numerator_latest = false) {
  v1::Criterion c;
  c.set_id("ratio");
  c.set_description("r");
  v1::IndicatorInput* num = c.mutable_ratio()->mutable_numerator();
  num->set_key("mediated");
  num->set_aggregation(numerator_latest ? v1::LATEST : v1::SUM_LAST_N_MONTHS);
  v1::IndicatorInput* den = c.mutable_ratio()->mutable_denominator();
  den->set_key("received");
  den->set_aggregation(v1::SUM_LAST_N_MONTHS);
  c.set_comparator(v1::GE);
  c.set_threshold(0.95);
  c.set_points(20);
  return c;
}

TEST(EvaluateTest, RatioOfTwoAggregates) {
  VillageInputs inputs = Inputs();
  inputs.indicators["mediated"] = {{"2022-08", 9}, {"2022-09", 10}};
  inputs.indicators["received"] = {{"2022-08", 10}, {"2022-09", 10}};
  const v1::Evaluation e = Evaluate(BranchRubric({Ratio()}, 0), inputs);
  EXPECT_EQ(First(e).actual(), 0.95);
  EXPECT_EQ(First(e).numerator(), 19);
  EXPECT_EQ(First(e).denominator(), 20);
  EXPECT_TRUE(First(e).met());
}

TEST(EvaluateTest, RatioWithNothingReceivedIsVacuouslyMet) {
  const v1::Evaluation e = Evaluate(BranchRubric({Ratio()}, 0), Inputs());
  EXPECT_TRUE(First(e).vacuous());
  EXPECT_TRUE(First(e).met());
  EXPECT_EQ(First(e).actual(), 1);
  EXPECT_EQ(First(e).points(), 20);
}

TEST(EvaluateTest, RatioWithAMissingSideIsMissing) {
  VillageInputs inputs = Inputs();
  inputs.indicators["received"] = {{"2022-09", 3}};
  const v1::Evaluation e = Evaluate(BranchRubric({Ratio(true)}, 0), inputs);
  EXPECT_TRUE(First(e).value_missing());
  EXPECT_FALSE(First(e).met());
  EXPECT_FALSE(First(e).vacuous());
}

// --- Stars, prerequisite, cap and reasons ------------------------------------

TEST(EvaluateTest, ReasonsListEveryCauseInOrder) {
  VillageInputs inputs = Inputs();
  inputs.all_tasks = {10, 7, 0};
  inputs.indicators["income"] = {{"2022-09", 98000}};
  inputs.indicators["accidents"] = {{"2022-09", 1}};
  inputs.indicators["score"] = {{"2022-09", 90}};
  inputs.indicators["petitions"] = {{"2022-09", 3}};
  const v1::Rubric rubric = BranchRubric(
      {TaskCompletion("branch_task_completion",
                      fivestar::common::v1::STAR_UNSPECIFIED, 0.75, 40, true),
       Indicator("income", "income", v1::LATEST, 12, v1::GT, 100000, 20),
       Indicator("zero_accidents", "accidents", v1::SUM_LAST_N_MONTHS, 12,
                 v1::EQ, 0, 20, true),
       Indicator("score_cap", "score", v1::LATEST, 12, v1::LE, 85, 10, true),
       Indicator("few_petitions", "petitions", v1::LATEST, 12, v1::LT, 3, 10,
                 true),
       Indicator("missing", "nothing", v1::LATEST, 12, v1::GE, 1, 10, true),
       Indicator("free", "nothing", v1::SUM_LAST_N_MONTHS, 12, v1::GE, 0, 60)},
      60);
  const v1::Evaluation e = Evaluate(rubric, inputs);
  EXPECT_FALSE(Branch(e).passed());
  EXPECT_FALSE(Branch(e).earned());
  EXPECT_EQ(Branch(e).points(), 60);
  EXPECT_EQ(Branch(e).max_points(), 170);
  EXPECT_EQ(Branch(e).reason(),
            "mandatory criterion branch_task_completion not met (0.7 < 0.75); "
            "mandatory criterion zero_accidents not met (1 != 0); "
            "mandatory criterion score_cap not met (90 > 85); "
            "mandatory criterion few_petitions not met (3 >= 3); "
            "mandatory criterion missing not met (no value); "
            "60 points, pass mark 60");
  // GT fails as "<=".
  inputs.indicators["income"] = {{"2022-09", 100000}};
  const v1::Rubric gt = BranchRubric(
      {Indicator("income", "income", v1::LATEST, 12, v1::GT, 100000, 20, true)},
      0);
  EXPECT_EQ(Branch(Evaluate(gt, inputs)).reason(),
            "mandatory criterion income not met (100000 <= 100000); 0 points, "
            "pass mark 0");
}

TEST(EvaluateTest, PointsShortOfThePassMark) {
  VillageInputs inputs = Inputs();
  inputs.indicators["x"] = {{"2022-09", 1}};
  const v1::Evaluation e =
      Evaluate(BranchRubric({Indicator("a", "x", v1::LATEST, 1, v1::GE, 1, 30),
                             Indicator("b", "x", v1::LATEST, 1, v1::GE, 2, 70)},
                            60),
               inputs);
  EXPECT_TRUE(Branch(e).criteria(0).met());
  EXPECT_FALSE(Branch(e).passed());
  EXPECT_EQ(Branch(e).reason(), "30 points, below pass mark 60");
  EXPECT_EQ(e.stars_earned(), 4);
  EXPECT_EQ(e.level(), 4);
}

TEST(EvaluateTest, FillsTheEvaluationInStarOrder) {
  VillageInputs inputs = Inputs();
  inputs.indicators["x"] = {{"2022-09", 1}};
  const v1::Evaluation e =
      Evaluate(BranchRubric({Indicator("a", "x", v1::LATEST, 1, v1::GE, 1, 30),
                             Indicator("b", "x", v1::LATEST, 1, v1::GE, 2, 70)},
                            30),
               inputs);
  EXPECT_EQ(e.village_id(), "v1");
  EXPECT_EQ(e.period(), "2022-09");
  EXPECT_EQ(e.rubric_version(), 7);
  EXPECT_EQ(e.target_level(), 3);
  EXPECT_EQ(e.stars_earned(), 5);
  EXPECT_EQ(e.level(), 5);
  EXPECT_EQ(e.total_points(), 30);
  EXPECT_FALSE(e.recorded());
  EXPECT_FALSE(e.has_evaluate_time());
  ASSERT_EQ(e.stars_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(e.stars(i).star(), kStars[i]);
    EXPECT_TRUE(e.stars(i).earned());
    EXPECT_EQ(e.stars(i).reason(), "");
  }
  const v1::CriterionResult& b = Branch(e).criteria(1);
  EXPECT_EQ(b.criterion_id(), "b");
  EXPECT_EQ(b.description(), "b");
  EXPECT_EQ(b.comparator(), v1::GE);
  EXPECT_EQ(b.threshold(), 2);
  EXPECT_EQ(b.actual(), 1);
  EXPECT_FALSE(b.met());
  EXPECT_EQ(b.points(), 0);
  EXPECT_EQ(b.max_points(), 70);
  EXPECT_EQ(Branch(e).pass_mark(), 30);
  EXPECT_EQ(Branch(e).max_points(), 100);
}

TEST(EvaluateTest, PrerequisiteStarNotPassedEarnsNothing) {
  VillageInputs inputs = Inputs();
  inputs.all_tasks = {10, 5, 0};
  v1::Rubric rubric = BranchRubric(
      {TaskCompletion("tasks", fivestar::common::v1::STAR_UNSPECIFIED, 0.75,
                      100, true)},
      60);
  rubric.mutable_global_rules()->set_prerequisite_star(BRANCH_STRONG);
  v1::Evaluation e = Evaluate(rubric, inputs);
  EXPECT_EQ(e.stars_earned(), 0);
  EXPECT_EQ(e.level(), 0);
  EXPECT_EQ(e.stars(1).reason(),
            "prerequisite star BRANCH_STRONG not passed; 0 points, pass mark "
            "0");
  EXPECT_TRUE(e.stars(1).passed());
  EXPECT_FALSE(e.stars(1).earned());
  EXPECT_EQ(Branch(e).reason(),
            "mandatory criterion tasks not met (0.5 < 0.75); 0 points, below "
            "pass mark 60");

  inputs.all_tasks = {10, 8, 0};
  e = Evaluate(rubric, inputs);
  EXPECT_EQ(e.stars_earned(), 5);
  EXPECT_EQ(e.level(), 5);
}

TEST(EvaluateTest, LevelIsCappedButStarsEarnedAreNot) {
  v1::Rubric rubric = BranchRubric(
      {Indicator("free", "x", v1::SUM_LAST_N_MONTHS, 1, v1::GE, 0, 10)}, 0);
  rubric.mutable_global_rules()->set_max_level(2);
  const v1::Evaluation e = Evaluate(rubric, Inputs());
  EXPECT_EQ(e.stars_earned(), 5);
  EXPECT_EQ(e.level(), 2);
}

// --- Overrides ---------------------------------------------------------------

TEST(EvaluateTest, IndicatorOverrideReplacesAMonthInsideTheWindow) {
  VillageInputs inputs = Inputs();
  inputs.indicators["income"] = {{"2022-08", 50000}, {"2022-09", 60000}};
  const v1::Rubric rubric = BranchRubric(
      {Indicator("latest", "income", v1::LATEST, 12, v1::GE, 100000, 50, true),
       Indicator("sum", "income", v1::SUM_LAST_N_MONTHS, 2, v1::GE, 150000, 50),
       Indicator("other", "other", v1::SUM_LAST_N_MONTHS, 1, v1::GE, 0, 0)},
      60);
  Overrides overrides;
  overrides.indicators[{"income", "2022-09"}] = 100000;
  overrides.indicators[{"other", "2022-07"}] = 5;  // outside its window
  const v1::Evaluation e = Evaluate(rubric, inputs, &overrides);
  const auto& c = Branch(e).criteria();
  EXPECT_EQ(c[0].actual(), 100000);
  EXPECT_TRUE(c[0].met());
  EXPECT_TRUE(c[0].overridden());
  EXPECT_EQ(c[1].actual(), 150000);
  EXPECT_TRUE(c[1].overridden());
  EXPECT_EQ(c[2].actual(), 0);
  EXPECT_FALSE(c[2].overridden());
  EXPECT_TRUE(Branch(e).earned());
  // The inputs themselves are untouched.
  EXPECT_EQ(Branch(Evaluate(rubric, inputs)).criteria(0).actual(), 60000);
  EXPECT_FALSE(Branch(Evaluate(rubric, inputs)).criteria(0).overridden());
}

TEST(EvaluateTest, IndicatorOverrideCanFillAnEmptyMonth) {
  Overrides overrides;
  overrides.indicators[{"x", "2022-07"}] = 4;
  const v1::Evaluation e = Evaluate(
      BranchRubric({Indicator("c", "x", v1::LATEST, 3, v1::GE, 4, 10, true)},
                   0),
      Inputs(), &overrides);
  EXPECT_FALSE(First(e).value_missing());
  EXPECT_EQ(First(e).actual(), 4);
  EXPECT_TRUE(First(e).met());
}

TEST(EvaluateTest, CriterionOverrideWinsOverIndicatorOverride) {
  VillageInputs inputs = Inputs();
  inputs.all_tasks = {10, 5, 0};
  const v1::Rubric rubric = BranchRubric(
      {Indicator("income", "income", v1::LATEST, 12, v1::GE, 100000, 50),
       TaskCompletion("tasks", fivestar::common::v1::STAR_UNSPECIFIED, 0.75,
                      50)},
      100);
  Overrides overrides;
  overrides.indicators[{"income", "2022-09"}] = 200000;
  overrides.criteria["income"] = 90000;
  overrides.criteria["tasks"] = 0.8;
  const v1::Evaluation e = Evaluate(rubric, inputs, &overrides);
  const auto& c = Branch(e).criteria();
  EXPECT_EQ(c[0].actual(), 90000);
  EXPECT_FALSE(c[0].met());
  EXPECT_TRUE(c[0].overridden());
  EXPECT_EQ(c[1].actual(), 0.8);
  EXPECT_TRUE(c[1].met());
  EXPECT_TRUE(c[1].overridden());
  EXPECT_EQ(c[1].numerator(), 0);
  EXPECT_EQ(c[1].denominator(), 0);
  EXPECT_EQ(Branch(e).points(), 50);
}

// --- Huiche villages, against the independent expectations ------------------

// Figures of data/huiche for 2022-09 (tasks started 2022-03-01, reports up
// to the month's end; indicator values of 2022-09 only).
VillageInputs Huiche(const std::string& id, int committee, int industries,
                     std::array<TaskCounts, 5> by_star, int weeks_reported,
                     std::map<std::string, double> september) {
  VillageInputs inputs;
  inputs.village.set_id(id);
  inputs.village.set_committee_members(committee);
  for (int i = 0; i < industries; ++i) {
    inputs.village.add_signature_industries("industry " + std::to_string(i));
  }
  inputs.period = "2022-09";
  inputs.tasks_by_star = by_star;
  for (const TaskCounts& counts : by_star) {
    inputs.all_tasks.total += counts.total;
    inputs.all_tasks.delivered += counts.delivered;
  }
  inputs.compliance[12] = {12, static_cast<double>(weeks_reported)};
  for (const auto& [key, value] : september) {
    inputs.indicators[key]["2022-09"] = value;
  }
  return inputs;
}

void ExpectAsInFile(const v1::Evaluation& e) {
  absl::StatusOr<std::vector<testing::ExpectedVillage>> expected =
      testing::LoadHuicheExpected();
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->size(), 21u);
  for (const testing::ExpectedVillage& village : *expected) {
    if (village.village_id != e.village_id()) continue;
    EXPECT_EQ(e.stars_earned(), village.stars);
    EXPECT_EQ(e.total_points(), village.points);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(e.stars(i).earned(), village.per_star[i].earned) << i;
      EXPECT_EQ(e.stars(i).points(), village.per_star[i].points) << i;
      EXPECT_EQ(e.stars(i).reason(), village.per_star[i].reason) << i;
    }
    return;
  }
  ADD_FAILURE() << e.village_id() << " is not in the expectations";
}

TEST(HuicheTest, North01EarnsThreeStars) {
  const v1::Evaluation e = Evaluate(
      DefaultRubric(),
      Huiche("411323-huiche-north-01", 5, 2,
             {TaskCounts{2, 2, 0}, {2, 2, 0}, {2, 2, 0}, {2, 1, 0}, {2, 1, 0}},
             11,
             {{"accidents", 0},
              {"civic_activities", 10},
              {"civilized_families", 2},
              {"collective_income_yuan_ytd", 98000},
              {"criminal_cases", 0},
              {"disputes_mediated", 1},
              {"disputes_received", 1},
              {"hd_cameras_installed", 17},
              {"inspection_score", 81},
              {"moral_models", 1},
              {"people_trained", 162},
              {"petitions", 0}}));
  EXPECT_EQ(e.stars_earned(), 3);
  EXPECT_EQ(e.total_points(), 350);
  EXPECT_EQ(e.stars(1).reason(),
            "mandatory criterion industry_collective_income not met (98000 < "
            "100000); 50 points, below pass mark 60");
  ExpectAsInFile(e);
}

TEST(HuicheTest, East02FailsTaskCompletionAndDisputes) {
  const v1::Evaluation e = Evaluate(
      DefaultRubric(),
      Huiche("411323-huiche-east-02", 5, 2,
             {TaskCounts{2, 1, 0}, {2, 1, 0}, {2, 1, 0}, {2, 1, 0}, {1, 1, 0}},
             9,
             {{"accidents", 0},
              {"civic_activities", 10},
              {"civilized_families", 1},
              {"collective_income_yuan_ytd", 33000},
              {"criminal_cases", 0},
              {"disputes_mediated", 1},
              {"disputes_received", 2},
              {"hd_cameras_installed", 16},
              {"inspection_score", 71},
              {"moral_models", 1},
              {"people_trained", 161},
              {"petitions", 0}}));
  EXPECT_EQ(e.stars_earned(), 2);
  EXPECT_EQ(e.total_points(), 210);
  EXPECT_EQ(e.stars(0).reason(),
            "mandatory criterion branch_task_completion not met "
            "(0.555555555555556 < 0.75); 20 points, below pass mark 60");
  EXPECT_EQ(e.stars(3).points(), 80);  // disputes 1 of 2 mediated
  ExpectAsInFile(e);
}

TEST(HuicheTest, Middle02LosesSafeLawfulToOneAccident) {
  const v1::Evaluation e = Evaluate(
      DefaultRubric(),
      Huiche("411323-huiche-middle-02", 5, 1,
             {TaskCounts{2, 2, 0}, {2, 2, 0}, {2, 2, 0}, {2, 1, 0}, {2, 1, 0}},
             11,
             {{"accidents", 1},
              {"civic_activities", 10},
              {"civilized_families", 2},
              {"collective_income_yuan_ytd", 110000},
              {"criminal_cases", 0},
              {"disputes_mediated", 1},
              {"disputes_received", 1},
              {"hd_cameras_installed", 16},
              {"inspection_score", 79},
              {"moral_models", 1},
              {"people_trained", 161},
              {"petitions", 0}}));
  EXPECT_EQ(e.stars_earned(), 3);
  EXPECT_EQ(e.total_points(), 380);
  EXPECT_EQ(e.stars(3).reason(),
            "mandatory criterion safe_zero_accidents not met (1 != 0); 80 "
            "points, pass mark 60");
  ExpectAsInFile(e);
}

TEST(HuicheExpectedTest, ParsesLinesAndRejectsMalformedOnes) {
  absl::StatusOr<std::vector<testing::ExpectedVillage>> parsed =
      testing::ParseHuicheExpected(
          "# comment\n\nv1 stars=1 points=150 BRANCH_STRONG=1:100 "
          "INDUSTRY_THRIVING=0:50 ECO_LIVABLE=0:0 SAFE_LAWFUL=0:0 "
          "CIVILIZED_HAPPY=0:0 | INDUSTRY_THRIVING: 50 points, below pass "
          "mark 60; x | ECO_LIVABLE: 0 points\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  const testing::ExpectedVillage& v = (*parsed)[0];
  EXPECT_EQ(v.village_id, "v1");
  EXPECT_EQ(v.stars, 1);
  EXPECT_EQ(v.points, 150);
  EXPECT_TRUE(v.per_star[0].earned);
  EXPECT_EQ(v.per_star[1].points, 50);
  EXPECT_EQ(v.per_star[1].reason, "50 points, below pass mark 60; x");
  EXPECT_EQ(v.per_star[2].reason, "0 points");
  EXPECT_EQ(v.per_star[3].reason, "");
  EXPECT_EQ(
      testing::ParseHuicheExpected("v1 stars=1 points=2\n").status().message(),
      "tests/scoring/testdata/huiche_2022-09_expected.txt:1: expected 8 "
      "fields");
}

// --- WhatIf
// -------------------------------------------------------------------

IndicatorCatalogue Catalogue() {
  return {{"accidents", {0, 10000, true}},
          {"inspection_score", {0, 100, false}},
          {"income", {-1e10, 1e10, false}}};
}

v1::Rubric WhatIfRubric() {
  v1::Rubric rubric = BranchRubric(
      {Indicator("score", "inspection_score", v1::LATEST, 12, v1::GE, 85, 60)},
      0);
  rubric.set_version(3);
  return rubric;
}

struct WhatIfCase {
  const char* name;
  const char* request;  // text format
  const char* error;
};

class WhatIfValidationTest : public ::testing::TestWithParam<WhatIfCase> {};

TEST_P(WhatIfValidationTest, GivesItsNamedError) {
  v1::WhatIfRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(GetParam().request,
                                                            &request));
  const absl::Status status =
      ValidateWhatIf(request, WhatIfRubric(), Catalogue());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, WhatIfValidationTest,
    ::testing::Values(
        WhatIfCase{"Period", "period: '2022-9'",
                   "period: must be a month \"YYYY-MM\", got \"2022-9\""},
        WhatIfCase{"KeyRequired",
                   "period: '2022-09' indicator_overrides { value: 1 }",
                   "indicator_overrides[0].indicator_key: required"},
        WhatIfCase{"KeyUnknown",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'accidents' } indicator_overrides { indicator_key: 'foo' "
                   "}",
                   "indicator_overrides[1].indicator_key: unknown indicator "
                   "\"foo\" (not in project tracking's catalogue)"},
        WhatIfCase{"OverridePeriod",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'accidents' period: '2022-13' }",
                   "indicator_overrides[0].period: must be a month "
                   "\"YYYY-MM\", got \"2022-13\""},
        WhatIfCase{"ValueBelowRange",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'accidents' value: -1 }",
                   "indicator_overrides[0].value: must be 0..10000 for "
                   "accidents, got -1"},
        WhatIfCase{"ValueAboveRange",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'inspection_score' value: 100.5 }",
                   "indicator_overrides[0].value: must be 0..100 for "
                   "inspection_score, got 100.5"},
        WhatIfCase{"ValueNotWhole",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'accidents' value: 1.5 }",
                   "indicator_overrides[0].value: must be a whole number for "
                   "accidents, got 1.5"},
        WhatIfCase{"ValueInfinite",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'income' value: inf }",
                   "indicator_overrides[0].value: must be a finite number"},
        WhatIfCase{"DuplicateWithEmptyPeriod",
                   "period: '2022-09' indicator_overrides { indicator_key: "
                   "'accidents' period: '2022-09' } indicator_overrides { "
                   "indicator_key: 'accidents' }",
                   "indicator_overrides[1]: duplicate override of accidents "
                   "for 2022-09 (also indicator_overrides[0])"},
        WhatIfCase{"CriterionRequired",
                   "period: '2022-09' criterion_overrides { actual: 1 }",
                   "criterion_overrides[0].criterion_id: required"},
        WhatIfCase{"CriterionUnknown",
                   "period: '2022-09' criterion_overrides { criterion_id: "
                   "'nope' }",
                   "criterion_overrides[0].criterion_id: unknown criterion "
                   "\"nope\" (not in rubric version 3)"},
        WhatIfCase{"CriterionValueNaN",
                   "period: '2022-09' criterion_overrides { criterion_id: "
                   "'score' actual: nan }",
                   "criterion_overrides[0].actual: must be a finite number"},
        WhatIfCase{"CriterionDuplicate",
                   "period: '2022-09' criterion_overrides { criterion_id: "
                   "'score' } criterion_overrides { criterion_id: 'score' }",
                   "criterion_overrides[1]: duplicate override of criterion "
                   "score (also criterion_overrides[0])"}),
    [](const ::testing::TestParamInfo<WhatIfCase>& info) {
      return std::string(info.param.name);
    });

TEST(WhatIfTest, AtMostAThousandOverridesOfEachKind) {
  v1::WhatIfRequest request;
  request.set_period("2022-09");
  for (int i = 0; i < 1000; ++i) {
    v1::IndicatorOverride* o = request.add_indicator_overrides();
    o->set_indicator_key("accidents");
    o->set_period(FormatMonth(absl::CivilMonth(2000, 1) + i));
  }
  EXPECT_TRUE(ValidateWhatIf(request, WhatIfRubric(), Catalogue()).ok());
  request.add_indicator_overrides()->set_indicator_key("accidents");
  EXPECT_EQ(ValidateWhatIf(request, WhatIfRubric(), Catalogue()).message(),
            "indicator_overrides: must hold at most 1000 entries, got 1001");
  request.clear_indicator_overrides();
  for (int i = 0; i < 1001; ++i) {
    request.add_criterion_overrides()->set_criterion_id("score");
  }
  EXPECT_EQ(ValidateWhatIf(request, WhatIfRubric(), Catalogue()).message(),
            "criterion_overrides: must hold at most 1000 entries, got 1001");
}

TEST(WhatIfTest, OverridesOfUsesTheRequestPeriodWhenEmpty) {
  v1::WhatIfRequest request;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "period: '2022-09' indicator_overrides { indicator_key: 'accidents' "
      "value: 2 } indicator_overrides { indicator_key: 'accidents' period: "
      "'2022-08' value: 3 } criterion_overrides { criterion_id: 'score' "
      "actual: 90 }",
      &request));
  ASSERT_TRUE(ValidateWhatIf(request, WhatIfRubric(), Catalogue()).ok());
  const Overrides overrides = OverridesOf(request);
  EXPECT_EQ(overrides.indicators.size(), 2u);
  EXPECT_EQ(overrides.indicators.at({"accidents", "2022-09"}), 2);
  EXPECT_EQ(overrides.indicators.at({"accidents", "2022-08"}), 3);
  EXPECT_EQ(overrides.criteria.size(), 1u);
  EXPECT_EQ(overrides.criteria.at("score"), 90);
}

TEST(WhatIfTest, CompareListsStarsGainedAndLost) {
  VillageInputs inputs = Inputs();
  inputs.indicators["inspection_score"]["2022-09"] = 80;
  const v1::Rubric rubric = BranchRubric(
      {Indicator("score", "inspection_score", v1::LATEST, 12, v1::GE, 85, 60)},
      60);
  v1::Evaluation baseline = Evaluate(rubric, inputs);
  Overrides overrides;
  overrides.criteria["score"] = 90;
  v1::Evaluation scenario = Evaluate(rubric, inputs, &overrides);
  const v1::WhatIfResponse response = CompareWhatIf(baseline, scenario);
  EXPECT_THAT(response.stars_gained(), ElementsAre(BRANCH_STRONG));
  EXPECT_TRUE(response.stars_lost().empty());
  EXPECT_EQ(response.baseline().stars_earned(), 4);
  EXPECT_EQ(response.scenario().stars_earned(), 5);

  const v1::WhatIfResponse reverse = CompareWhatIf(scenario, baseline);
  EXPECT_THAT(reverse.stars_lost(), ElementsAre(BRANCH_STRONG));
  EXPECT_TRUE(reverse.stars_gained().empty());
}

}  // namespace
}  // namespace fivestar::scoring
