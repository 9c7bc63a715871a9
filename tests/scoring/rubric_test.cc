// Rubric rules (every rule of the contract's comments, by its exact error),
// the default rubric file, text parsing and InputNeeds.
#include "services/scoring/rubric.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/projects/indicator_catalogue.h"
#include "tests/scoring/default_rubric_fixture.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::scoring::testing::DefaultRubric;

using ::fivestar::common::v1::BRANCH_STRONG;
using ::fivestar::common::v1::CIVILIZED_HAPPY;
using ::fivestar::common::v1::ECO_LIVABLE;
using ::fivestar::common::v1::INDUSTRY_THRIVING;
using ::fivestar::common::v1::SAFE_LAWFUL;
using ::fivestar::testing::SourcePath;
using ::testing::UnorderedElementsAre;

// Project tracking's default catalogue, as the service reads it.
IndicatorCatalogue DefaultCatalogue() {
  IndicatorCatalogue catalogue;
  for (const auto& definition : projects::IndicatorCatalogue::Defaults()) {
    catalogue[definition.key()] = {
        definition.min_value(), definition.max_value(), definition.integral()};
  }
  return catalogue;
}

TEST(DefaultRubricTest, LoadsAndValidatesAgainstProjectTrackingsCatalogue) {
  const IndicatorCatalogue catalogue = DefaultCatalogue();
  const v1::Rubric rubric = DefaultRubric();
  EXPECT_TRUE(ValidateRubric(rubric, &catalogue).ok())
      << ValidateRubric(rubric, &catalogue);
  EXPECT_EQ(rubric.name(), "默认评星方案 2022");
  EXPECT_EQ(rubric.public_notice_days(), 7);
  EXPECT_EQ(rubric.global_rules().ByteSizeLong(), 0u);
}

TEST(DefaultRubricTest, HoldsDesignTable) {
  const v1::Rubric rubric = NormalizeRubric(DefaultRubric());
  ASSERT_EQ(rubric.stars_size(), 5);
  // star, criterion, points, mandatory, comparator, threshold
  struct Row {
    int star;
    const char* id;
    int points;
    bool mandatory;
    v1::Comparator comparator;
    double threshold;
  };
  const Row rows[] = {
      {0, "branch_task_completion", 40, true, v1::GE, 0.75},
      {0, "branch_committee_members", 20, false, v1::GE, 5},
      {0, "branch_weekly_reporting", 40, false, v1::GE, 0.9},
      {1, "industry_collective_income", 50, true, v1::GE, 100000},
      {1, "industry_signature_industries", 20, false, v1::GE, 1},
      {1, "industry_people_trained", 30, false, v1::GE, 100},
      {2, "eco_inspection_score", 60, true, v1::GE, 85},
      {2, "eco_task_completion", 40, false, v1::GE, 0.8},
      {3, "safe_zero_petitions", 20, true, v1::EQ, 0},
      {3, "safe_zero_accidents", 20, true, v1::EQ, 0},
      {3, "safe_zero_criminal_cases", 20, true, v1::EQ, 0},
      {3, "safe_hd_cameras", 20, false, v1::GE, 10},
      {3, "safe_disputes_mediated", 20, false, v1::GE, 0.95},
      {4, "civilized_families", 30, false, v1::GE, 1},
      {4, "civilized_moral_models", 30, false, v1::GE, 1},
      {4, "civilized_civic_activities", 40, false, v1::GE, 12},
  };
  int index[5] = {0, 0, 0, 0, 0};
  for (const Row& row : rows) {
    const v1::StarRule& rule = rubric.stars(row.star);
    EXPECT_EQ(rule.star(), kStars[row.star]);
    EXPECT_EQ(rule.pass_mark(), 60);
    const v1::Criterion& c = rule.criteria(index[row.star]++);
    EXPECT_EQ(c.id(), row.id);
    EXPECT_EQ(c.points(), row.points) << row.id;
    EXPECT_EQ(c.mandatory(), row.mandatory) << row.id;
    EXPECT_EQ(c.comparator(), row.comparator) << row.id;
    EXPECT_EQ(c.threshold(), row.threshold) << row.id;
  }
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(rubric.stars(s).criteria_size(), index[s]);
  }
  ASSERT_EQ(rubric.incentive_rules_size(), 2);
  EXPECT_EQ(rubric.incentive_rules(0).id(), "three_star_work_funds");
  EXPECT_EQ(rubric.incentive_rules(0).level().min_level(), 3);
  EXPECT_EQ(rubric.incentive_rules(0).level().work_funds_yuan(), 30000);
  EXPECT_EQ(rubric.incentive_rules(0).level().base_pay_uplift_percent(), 10);
  EXPECT_EQ(rubric.incentive_rules(1).id(), "industry_thriving_member_bonus");
  EXPECT_EQ(rubric.incentive_rules(1).star_recognition().star(),
            INDUSTRY_THRIVING);
  EXPECT_EQ(rubric.incentive_rules(1).star_recognition().min_authority(),
            v1::COUNTY);
  EXPECT_EQ(rubric.incentive_rules(1)
                .star_recognition()
                .monthly_bonus_yuan_per_member(),
            100);
}

// --- Every rule broken, by its exact error --------------------------------

struct BrokenRule {
  const char* name;
  std::function<void(v1::Rubric&)> mutate;
  std::string error;
};

std::string Repeat(const char* text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

v1::Criterion& C(v1::Rubric& r, int star, int criterion) {
  return *r.mutable_stars(star)->mutable_criteria(criterion);
}

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

const BrokenRule kBrokenRules[] = {
    {"NameRequired", [](v1::Rubric& r) { r.clear_name(); },
     "rubric.name: required"},
    {"NameTooLong", [](v1::Rubric& r) { r.set_name(Repeat("星", 101)); },
     "rubric.name: must be 1..100 characters, got 101"},
    {"NameControl", [](v1::Rubric& r) { r.set_name("a\tb"); },
     "rubric.name: must not contain control characters"},
    {"DescriptionTooLong",
     [](v1::Rubric& r) { r.set_description(Repeat("方", 2001)); },
     "rubric.description: must be 0..2000 characters, got 2001"},
    {"FourStars", [](v1::Rubric& r) { r.mutable_stars()->RemoveLast(); },
     "rubric.stars: must hold exactly 5 star rules (one per star), got 4"},
    {"SixStars", [](v1::Rubric& r) { *r.add_stars() = r.stars(0); },
     "rubric.stars: must hold exactly 5 star rules (one per star), got 6"},
    {"StarRequired",
     [](v1::Rubric& r) {
       r.mutable_stars(2)->set_star(fivestar::common::v1::STAR_UNSPECIFIED);
     },
     "rubric.stars[2].star: required: one of the five stars"},
    {"StarUnknown",
     [](v1::Rubric& r) {
       r.mutable_stars(2)->set_star(static_cast<fivestar::common::v1::Star>(9));
     },
     "rubric.stars[2].star: unknown value 9"},
    {"StarDuplicate",
     [](v1::Rubric& r) { r.mutable_stars(3)->set_star(BRANCH_STRONG); },
     "rubric.stars[3].star: duplicate star BRANCH_STRONG (also stars[0])"},
    {"NoCriteria", [](v1::Rubric& r) { r.mutable_stars(4)->clear_criteria(); },
     "rubric.stars[4].criteria: must hold 1..50 criteria, got 0"},
    {"TooManyCriteria",
     [](v1::Rubric& r) {
       for (int i = 0; i < 49; ++i) {
         *r.mutable_stars(2)->add_criteria() = C(r, 2, 0);
       }
     },
     "rubric.stars[2].criteria: must hold 1..50 criteria, got 51"},
    {"PassMarkAboveSum",
     [](v1::Rubric& r) { r.mutable_stars(0)->set_pass_mark(101); },
     "rubric.stars[0].pass_mark: must be 0..100, got 101"},
    {"PassMarkNegative",
     [](v1::Rubric& r) { r.mutable_stars(0)->set_pass_mark(-1); },
     "rubric.stars[0].pass_mark: must be 0..100, got -1"},
    {"CriterionIdRequired", [](v1::Rubric& r) { C(r, 0, 1).clear_id(); },
     "rubric.stars[0].criteria[1].id: required"},
    {"CriterionIdUppercase", [](v1::Rubric& r) { C(r, 0, 1).set_id("Bad"); },
     "rubric.stars[0].criteria[1].id: must be 1..64 characters from "
     "[a-z0-9_] starting with a letter, got \"Bad\""},
    {"CriterionIdDigitFirst", [](v1::Rubric& r) { C(r, 0, 1).set_id("1a"); },
     "rubric.stars[0].criteria[1].id: must be 1..64 characters from "
     "[a-z0-9_] starting with a letter, got \"1a\""},
    {"CriterionIdTooLong",
     [](v1::Rubric& r) { C(r, 0, 1).set_id(Repeat("a", 65)); },
     "rubric.stars[0].criteria[1].id: must be 1..64 characters from "
     "[a-z0-9_] starting with a letter, got \"" +
         std::string(65, 'a') + "\""},
    {"CriterionIdDuplicateAcrossStars",
     [](v1::Rubric& r) { C(r, 1, 0).set_id("branch_task_completion"); },
     "rubric.stars[1].criteria[0].id: duplicate criterion id "
     "\"branch_task_completion\" (also rubric.stars[0].criteria[0])"},
    {"DescriptionRequired",
     [](v1::Rubric& r) { C(r, 0, 0).clear_description(); },
     "rubric.stars[0].criteria[0].description: required"},
    {"DescriptionTooLongCriterion",
     [](v1::Rubric& r) { C(r, 0, 0).set_description(Repeat("率", 201)); },
     "rubric.stars[0].criteria[0].description: must be 1..200 characters, "
     "got 201"},
    {"DescriptionEnTooLong",
     [](v1::Rubric& r) { C(r, 0, 0).set_description_en(Repeat("x", 201)); },
     "rubric.stars[0].criteria[0].description_en: must be 0..200 "
     "characters, got 201"},
    {"InputRequired", [](v1::Rubric& r) { C(r, 0, 0).clear_input(); },
     "rubric.stars[0].criteria[0].input: required: one of indicator, "
     "task_completion, reporting_compliance, registry_field, ratio"},
    {"IndicatorKeyRequired",
     [](v1::Rubric& r) { C(r, 1, 0).mutable_indicator()->clear_key(); },
     "rubric.stars[1].criteria[0].indicator.key: required"},
    {"IndicatorKeyUnknown",
     [](v1::Rubric& r) { C(r, 1, 2).mutable_indicator()->set_key("foo"); },
     "rubric.stars[1].criteria[2].indicator.key: unknown indicator \"foo\" "
     "(not in project tracking's catalogue)"},
    {"IndicatorKeyMalformed",
     [](v1::Rubric& r) { C(r, 1, 2).mutable_indicator()->set_key("Foo"); },
     "rubric.stars[1].criteria[2].indicator.key: must be 1..64 characters "
     "from [a-z0-9_] starting with a letter, got \"Foo\""},
    {"AggregationRequired",
     [](v1::Rubric& r) {
       C(r, 1, 0).mutable_indicator()->set_aggregation(
           v1::AGGREGATION_UNSPECIFIED);
     },
     "rubric.stars[1].criteria[0].indicator.aggregation: required: LATEST "
     "or SUM_LAST_N_MONTHS"},
    {"AggregationUnknown",
     [](v1::Rubric& r) {
       C(r, 1, 0).mutable_indicator()->set_aggregation(
           static_cast<v1::Aggregation>(7));
     },
     "rubric.stars[1].criteria[0].indicator.aggregation: unknown value 7"},
    {"MonthsTooMany",
     [](v1::Rubric& r) { C(r, 1, 0).mutable_indicator()->set_months(121); },
     "rubric.stars[1].criteria[0].indicator.months: must be 0..120, got 121"},
    {"MonthsNegative",
     [](v1::Rubric& r) { C(r, 1, 0).mutable_indicator()->set_months(-1); },
     "rubric.stars[1].criteria[0].indicator.months: must be 0..120, got -1"},
    {"TaskCompletionStarUnknown",
     [](v1::Rubric& r) {
       C(r, 0, 0).mutable_task_completion()->set_star(
           static_cast<fivestar::common::v1::Star>(6));
     },
     "rubric.stars[0].criteria[0].task_completion.star: unknown value 6"},
    {"WeeksTooMany",
     [](v1::Rubric& r) {
       C(r, 0, 2).mutable_reporting_compliance()->set_weeks(105);
     },
     "rubric.stars[0].criteria[2].reporting_compliance.weeks: must be "
     "0..104, got 105"},
    {"WeeksNegative",
     [](v1::Rubric& r) {
       C(r, 0, 2).mutable_reporting_compliance()->set_weeks(-1);
     },
     "rubric.stars[0].criteria[2].reporting_compliance.weeks: must be "
     "0..104, got -1"},
    {"RegistryFieldUnspecified",
     [](v1::Rubric& r) {
       C(r, 0, 1).set_registry_field(v1::REGISTRY_FIELD_UNSPECIFIED);
     },
     "rubric.stars[0].criteria[1].registry_field: required: "
     "COMMITTEE_MEMBERS or SIGNATURE_INDUSTRIES"},
    {"RegistryFieldUnknown",
     [](v1::Rubric& r) {
       C(r, 0, 1).set_registry_field(static_cast<v1::RegistryField>(3));
     },
     "rubric.stars[0].criteria[1].registry_field: unknown value 3"},
    {"RatioNumeratorRequired",
     [](v1::Rubric& r) { C(r, 3, 4).mutable_ratio()->clear_numerator(); },
     "rubric.stars[3].criteria[4].ratio.numerator: required"},
    {"RatioDenominatorRequired",
     [](v1::Rubric& r) { C(r, 3, 4).mutable_ratio()->clear_denominator(); },
     "rubric.stars[3].criteria[4].ratio.denominator: required"},
    {"RatioDenominatorUnknownKey",
     [](v1::Rubric& r) {
       C(r, 3, 4).mutable_ratio()->mutable_denominator()->set_key("disputes");
     },
     "rubric.stars[3].criteria[4].ratio.denominator.key: unknown indicator "
     "\"disputes\" (not in project tracking's catalogue)"},
    {"RatioNumeratorMonths",
     [](v1::Rubric& r) {
       C(r, 3, 4).mutable_ratio()->mutable_numerator()->set_months(200);
     },
     "rubric.stars[3].criteria[4].ratio.numerator.months: must be 0..120, "
     "got 200"},
    {"ComparatorRequired",
     [](v1::Rubric& r) {
       C(r, 2, 1).set_comparator(v1::COMPARATOR_UNSPECIFIED);
     },
     "rubric.stars[2].criteria[1].comparator: required: GE, GT, LE, LT or "
     "EQ"},
    {"ComparatorUnknown",
     [](v1::Rubric& r) {
       C(r, 2, 1).set_comparator(static_cast<v1::Comparator>(6));
     },
     "rubric.stars[2].criteria[1].comparator: unknown value 6"},
    {"ThresholdInfinite", [](v1::Rubric& r) { C(r, 2, 0).set_threshold(kInf); },
     "rubric.stars[2].criteria[0].threshold: must be finite, got inf"},
    {"ThresholdNaN", [](v1::Rubric& r) { C(r, 2, 0).set_threshold(kNaN); },
     "rubric.stars[2].criteria[0].threshold: must be finite, got nan"},
    {"PointsTooMany", [](v1::Rubric& r) { C(r, 4, 2).set_points(1001); },
     "rubric.stars[4].criteria[2].points: must be 0..1000, got 1001"},
    {"PointsNegative", [](v1::Rubric& r) { C(r, 4, 2).set_points(-1); },
     "rubric.stars[4].criteria[2].points: must be 0..1000, got -1"},
    {"PrerequisiteUnknown",
     [](v1::Rubric& r) {
       r.mutable_global_rules()->set_prerequisite_star(
           static_cast<fivestar::common::v1::Star>(8));
     },
     "rubric.global_rules.prerequisite_star: unknown value 8"},
    {"MaxLevelTooHigh",
     [](v1::Rubric& r) { r.mutable_global_rules()->set_max_level(6); },
     "rubric.global_rules.max_level: must be 0..5, got 6"},
    {"MaxLevelNegative",
     [](v1::Rubric& r) { r.mutable_global_rules()->set_max_level(-1); },
     "rubric.global_rules.max_level: must be 0..5, got -1"},
    {"TooManyQuotas",
     [](v1::Rubric& r) {
       for (int i = 0; i < 21; ++i) {
         v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
         q->set_region_level(v1::COUNTY);
         q->set_min_level(5);
         q->set_max_share(0.1);
       }
     },
     "rubric.global_rules.quotas: must hold at most 20 quotas, got 21"},
    {"QuotaRegionLevelRequired",
     [](v1::Rubric& r) {
       v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
       q->set_min_level(5);
       q->set_max_share(0.1);
     },
     "rubric.global_rules.quotas[0].region_level: required: TOWNSHIP, "
     "COUNTY, CITY or PROVINCE"},
    {"QuotaMinLevelZero",
     [](v1::Rubric& r) {
       v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
       q->set_region_level(v1::COUNTY);
       q->set_max_share(0.1);
     },
     "rubric.global_rules.quotas[0].min_level: must be 1..5, got 0"},
    {"QuotaShareZero",
     [](v1::Rubric& r) {
       v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
       q->set_region_level(v1::COUNTY);
       q->set_min_level(5);
     },
     "rubric.global_rules.quotas[0].max_share: must be in (0, 1], got 0"},
    {"QuotaShareAboveOne",
     [](v1::Rubric& r) {
       v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
       q->set_region_level(v1::COUNTY);
       q->set_min_level(5);
       q->set_max_share(1.5);
     },
     "rubric.global_rules.quotas[0].max_share: must be in (0, 1], got 1.5"},
    {"QuotaShareNaN",
     [](v1::Rubric& r) {
       v1::LevelQuota* q = r.mutable_global_rules()->add_quotas();
       q->set_region_level(v1::COUNTY);
       q->set_min_level(5);
       q->set_max_share(kNaN);
     },
     "rubric.global_rules.quotas[0].max_share: must be in (0, 1], got nan"},
    {"TooManyIncentiveRules",
     [](v1::Rubric& r) {
       for (int i = 0; i < 49; ++i) {
         v1::IncentiveRule* rule = r.add_incentive_rules();
         *rule = r.incentive_rules(0);
         rule->set_id("rule_" + std::to_string(i));
       }
     },
     "rubric.incentive_rules: must hold at most 50 rules, got 51"},
    {"IncentiveIdRequired",
     [](v1::Rubric& r) { r.mutable_incentive_rules(1)->clear_id(); },
     "rubric.incentive_rules[1].id: required"},
    {"IncentiveIdMalformed",
     [](v1::Rubric& r) { r.mutable_incentive_rules(1)->set_id("a-b"); },
     "rubric.incentive_rules[1].id: must be 1..64 characters from [a-z0-9_] "
     "starting with a letter, got \"a-b\""},
    {"IncentiveIdDuplicate",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(1)->set_id("three_star_work_funds");
     },
     "rubric.incentive_rules[1].id: duplicate incentive rule id "
     "\"three_star_work_funds\" (also incentive_rules[0])"},
    {"IncentiveDescriptionTooLong",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)->set_description(Repeat("元", 201));
     },
     "rubric.incentive_rules[0].description: must be 0..200 characters, got "
     "201"},
    {"IncentiveRuleRequired",
     [](v1::Rubric& r) { r.mutable_incentive_rules(0)->clear_rule(); },
     "rubric.incentive_rules[0].rule: required: one of level, "
     "star_recognition"},
    {"LevelMinLevelZero",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)->mutable_level()->set_min_level(0);
     },
     "rubric.incentive_rules[0].level.min_level: must be 1..5, got 0"},
    {"LevelMinLevelSix",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)->mutable_level()->set_min_level(6);
     },
     "rubric.incentive_rules[0].level.min_level: must be 1..5, got 6"},
    {"WorkFundsTooMuch",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)->mutable_level()->set_work_funds_yuan(
           100'000'001);
     },
     "rubric.incentive_rules[0].level.work_funds_yuan: must be "
     "0..100000000, got 100000001"},
    {"WorkFundsNegative",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)->mutable_level()->set_work_funds_yuan(-1);
     },
     "rubric.incentive_rules[0].level.work_funds_yuan: must be "
     "0..100000000, got -1"},
    {"UpliftTooMuch",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)
           ->mutable_level()
           ->set_base_pay_uplift_percent(100.5);
     },
     "rubric.incentive_rules[0].level.base_pay_uplift_percent: must be "
     "0..100, got 100.5"},
    {"UpliftNaN",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(0)
           ->mutable_level()
           ->set_base_pay_uplift_percent(kNaN);
     },
     "rubric.incentive_rules[0].level.base_pay_uplift_percent: must be a "
     "finite number"},
    {"RecognitionStarRequired",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(1)->mutable_star_recognition()->clear_star();
     },
     "rubric.incentive_rules[1].star_recognition.star: required: one of the "
     "five stars"},
    {"RecognitionAuthorityRequired",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(1)
           ->mutable_star_recognition()
           ->clear_min_authority();
     },
     "rubric.incentive_rules[1].star_recognition.min_authority: required: "
     "TOWNSHIP, COUNTY, CITY or PROVINCE"},
    {"RecognitionAuthorityUnknown",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(1)
           ->mutable_star_recognition()
           ->set_min_authority(static_cast<v1::AuthorityLevel>(5));
     },
     "rubric.incentive_rules[1].star_recognition.min_authority: unknown "
     "value 5"},
    {"RecognitionBonusTooMuch",
     [](v1::Rubric& r) {
       r.mutable_incentive_rules(1)
           ->mutable_star_recognition()
           ->set_monthly_bonus_yuan_per_member(100'001);
     },
     "rubric.incentive_rules[1].star_recognition."
     "monthly_bonus_yuan_per_member: must be 0..100000, got 100001"},
    {"PublicNoticeDaysTooMany",
     [](v1::Rubric& r) { r.set_public_notice_days(61); },
     "rubric.public_notice_days: must be 0..60, got 61"},
    {"PublicNoticeDaysNegative",
     [](v1::Rubric& r) { r.set_public_notice_days(-1); },
     "rubric.public_notice_days: must be 0..60, got -1"},
};

class BrokenRuleTest : public ::testing::TestWithParam<BrokenRule> {};

TEST_P(BrokenRuleTest, GivesItsNamedError) {
  const IndicatorCatalogue catalogue = DefaultCatalogue();
  v1::Rubric rubric = DefaultRubric();
  GetParam().mutate(rubric);
  const absl::Status status = ValidateRubric(rubric, &catalogue);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(Rules, BrokenRuleTest,
                         ::testing::ValuesIn(kBrokenRules),
                         [](const ::testing::TestParamInfo<BrokenRule>& info) {
                           return std::string(info.param.name);
                         });

// --- What is allowed --------------------------------------------------------

TEST(ValidateRubricTest, WithoutCatalogueSkipsTheKeyCheckOnly) {
  v1::Rubric rubric = DefaultRubric();
  C(rubric, 1, 2).mutable_indicator()->set_key("foo");
  EXPECT_TRUE(ValidateRubric(rubric, nullptr).ok());
  C(rubric, 1, 2).mutable_indicator()->set_key("Foo");
  EXPECT_EQ(ValidateRubric(rubric, nullptr).message(),
            "rubric.stars[1].criteria[2].indicator.key: must be 1..64 "
            "characters from [a-z0-9_] starting with a letter, got \"Foo\"");
}

TEST(ValidateRubricTest, NamesPathsBelowTheGivenField) {
  v1::Rubric rubric = DefaultRubric();
  rubric.mutable_stars(0)->set_pass_mark(101);
  EXPECT_EQ(ValidateRubric(rubric, nullptr, "rubric_x").message(),
            "rubric_x.stars[0].pass_mark: must be 0..100, got 101");
}

TEST(ValidateRubricTest, AllowsUnreachableThresholdsStarsInAnyOrderAndEdges) {
  const IndicatorCatalogue catalogue = DefaultCatalogue();
  v1::Rubric rubric = DefaultRubric();
  // inspection_score is 0..100; a threshold of 150 can never be met.
  C(rubric, 2, 0).set_threshold(150);
  rubric.mutable_stars()->SwapElements(0, 4);
  rubric.mutable_stars(0)->set_pass_mark(0);
  rubric.mutable_stars(1)->set_pass_mark(100);
  C(rubric, 0, 0).set_points(0);
  C(rubric, 1, 0).mutable_indicator()->set_months(120);
  C(rubric, 4, 2).mutable_reporting_compliance()->set_weeks(104);
  rubric.mutable_global_rules()->set_prerequisite_star(BRANCH_STRONG);
  rubric.mutable_global_rules()->set_max_level(5);
  v1::LevelQuota* quota = rubric.mutable_global_rules()->add_quotas();
  quota->set_region_level(v1::COUNTY);
  quota->set_min_level(5);
  quota->set_max_share(1);
  rubric.set_public_notice_days(60);
  rubric.set_name(Repeat("星", 100));
  // Output-only fields are ignored.
  rubric.set_version(-3);
  rubric.set_active(true);
  rubric.set_creator("\x01");
  EXPECT_TRUE(ValidateRubric(rubric, &catalogue).ok())
      << ValidateRubric(rubric, &catalogue);
}

TEST(NormalizeRubricTest, SortsStarsAndClearsOutputOnlyFields) {
  v1::Rubric rubric = DefaultRubric();
  rubric.mutable_stars()->SwapElements(0, 4);
  rubric.mutable_stars()->SwapElements(1, 3);
  rubric.set_version(4);
  rubric.set_active(true);
  rubric.set_creator("admin");
  rubric.mutable_create_time()->set_seconds(100);
  const v1::Rubric normal = NormalizeRubric(rubric);
  ASSERT_EQ(normal.stars_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(normal.stars(i).star(), kStars[i]);
  EXPECT_EQ(normal.version(), 0);
  EXPECT_FALSE(normal.active());
  EXPECT_EQ(normal.creator(), "");
  EXPECT_FALSE(normal.has_create_time());
  EXPECT_EQ(normal.stars(0).criteria(0).DebugString(),
            DefaultRubric().stars(0).criteria(0).DebugString());
  // Normalizing a normal rubric (no output-only fields) changes nothing.
  EXPECT_EQ(NormalizeRubric(DefaultRubric(0)).SerializeAsString(),
            DefaultRubric(0).SerializeAsString());
}

// --- Text and files ---------------------------------------------------------

TEST(ParseRubricTextTest, SyntaxErrorNamesSourceLineAndColumn) {
  const absl::StatusOr<v1::Rubric> rubric = ParseRubricText(
      "name: \"x\"\nstars {\n  star: BRANCH_STRONG\n  "
      "pass_mark: sixty\n}\n",
      "inline.textproto");
  EXPECT_EQ(rubric.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rubric.status().message(),
            "inline.textproto:4:14: Expected integer, got: sixty");
}

TEST(LoadRubricFileTest, BadFilesNameFileLineAndColumn) {
  const std::string dir = SourcePath("tests/scoring/testdata/rubrics/");
  absl::StatusOr<v1::Rubric> rubric =
      LoadRubricFile(dir + "bad_value.textproto");
  EXPECT_EQ(rubric.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rubric.status().message(),
            dir + "bad_value.textproto:4:14: Expected integer, got: sixty");
  rubric = LoadRubricFile(dir + "unknown_field.textproto");
  EXPECT_EQ(rubric.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(rubric.status().message()),
            dir +
                "unknown_field.textproto:4:11: Message type "
                "\"fivestar.scoring.v1.StarRule\" has no field named "
                "\"critera\".");
}

TEST(LoadRubricFileTest, ParsesWithoutValidating) {
  const absl::StatusOr<v1::Rubric> rubric = LoadRubricFile(
      SourcePath("tests/scoring/testdata/rubrics/one_star.textproto"));
  ASSERT_TRUE(rubric.ok()) << rubric.status();
  EXPECT_EQ(ValidateRubric(*rubric, nullptr).message(),
            "rubric.stars: must hold exactly 5 star rules (one per star), "
            "got 1");
}

TEST(LoadRubricFileTest, MissingFileIsNotFound) {
  const std::string path = SourcePath("tests/scoring/testdata/none.textproto");
  const absl::StatusOr<v1::Rubric> rubric = LoadRubricFile(path);
  EXPECT_EQ(rubric.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rubric.status().message(),
            "rubric file " + path + ": does not exist");
}

TEST(LoadRubricFileTest, DirectoryIsFailedPrecondition) {
  const std::string path = SourcePath("tests/scoring/testdata");
  const absl::StatusOr<v1::Rubric> rubric = LoadRubricFile(path);
  EXPECT_EQ(rubric.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(rubric.status().message(),
            "rubric file " + path + ": cannot be read (Is a directory)");
}

std::string ReadSource(const std::string& relative) {
  std::ifstream in(SourcePath(relative));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "<line>:<column>" (1-based) of the first `needle` in `text`.
std::string PositionOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  const size_t line_start = text.rfind('\n', at) + 1;  // npos + 1 == 0
  const int line = std::count(text.begin(), text.begin() + at, '\n') + 1;
  return absl::StrCat(line, ":", at - line_start + 1);
}

TEST(PlaceRubricErrorTest, PutsAValidationErrorAtItsField) {
  std::string text = ReadSource("data/rubrics/default.textproto");
  text.replace(text.find("key: \"people_trained\""), 22, "key: \"foo\"");
  const absl::StatusOr<v1::Rubric> rubric = ParseRubricText(text, "r.txt");
  ASSERT_TRUE(rubric.ok()) << rubric.status();
  const IndicatorCatalogue catalogue = DefaultCatalogue();
  const absl::Status status =
      PlaceRubricError(ValidateRubric(*rubric, &catalogue), text, "r.txt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()),
            "r.txt:" + PositionOf(text, "key: \"foo\"") +
                ": rubric.stars[1].criteria[2].indicator.key: unknown "
                "indicator \"foo\" (not in project tracking's catalogue)");
}

TEST(PlaceRubricErrorTest, AMissingFieldIsPlacedAtItsEnclosingMessage) {
  std::string text = ReadSource("data/rubrics/default.textproto");
  const std::string description = "description: \"至少有一名道德模范\"";
  const size_t at = text.find(description);
  text.erase(at, description.size());
  const absl::StatusOr<v1::Rubric> rubric = ParseRubricText(text, "r.txt");
  ASSERT_TRUE(rubric.ok()) << rubric.status();
  const absl::Status status =
      PlaceRubricError(ValidateRubric(*rubric, nullptr), text, "r.txt");
  // The criteria { line of civilized_moral_models.
  const size_t criterion = text.rfind("criteria {", at);
  const std::string before = text.substr(0, criterion);
  EXPECT_EQ(
      std::string(status.message()),
      absl::StrCat("r.txt:", std::count(before.begin(), before.end(), '\n') + 1,
                   ":3: rubric.stars[4].criteria[1].description: "
                   "required"));
}

TEST(PlaceRubricErrorTest, FileErrorsAndOtherStatusesAreUnchanged) {
  const std::string path =
      SourcePath("tests/scoring/testdata/rubrics/one_star.textproto");
  const absl::StatusOr<v1::Rubric> rubric = LoadRubricFile(path);
  ASSERT_TRUE(rubric.ok()) << rubric.status();
  EXPECT_EQ(
      std::string(PlaceRubricFileError(ValidateRubric(*rubric, nullptr), path)
                      .message()),
      path +
          ":3:1: rubric.stars: must hold exactly 5 star rules (one "
          "per star), got 1");
  EXPECT_TRUE(PlaceRubricFileError(absl::OkStatus(), path).ok());
  const absl::Status other = absl::InvalidArgumentError("period: bad");
  EXPECT_EQ(PlaceRubricError(other, "name: \"x\"", "r.txt"), other);
  const absl::Status unparsable = absl::InvalidArgumentError("rubric.name: x");
  EXPECT_EQ(PlaceRubricError(unparsable, "name: ", "r.txt"), unparsable);
}

// --- InputNeeds -------------------------------------------------------------

TEST(NeedsOfTest, DefaultRubricReadsTwelveIndicatorsOverTwelveMonths) {
  const InputNeeds needs = NeedsOf(DefaultRubric());
  EXPECT_THAT(needs.indicator_keys,
              UnorderedElementsAre("collective_income_yuan_ytd",
                                   "people_trained", "inspection_score",
                                   "petitions", "accidents", "criminal_cases",
                                   "hd_cameras_installed", "disputes_mediated",
                                   "disputes_received", "civilized_families",
                                   "moral_models", "civic_activities"));
  EXPECT_EQ(needs.indicator_months, 12);
  EXPECT_THAT(needs.compliance_weeks, UnorderedElementsAre(12));
}

TEST(NeedsOfTest, ZeroMeansTwelveAndTheWidestWindowWins) {
  v1::Rubric rubric = DefaultRubric();
  for (int s = 0; s < 5; ++s) {
    for (auto& c : *rubric.mutable_stars(s)->mutable_criteria()) {
      if (c.has_indicator()) c.mutable_indicator()->set_months(3);
      if (c.has_ratio()) {
        c.mutable_ratio()->mutable_numerator()->set_months(1);
        c.mutable_ratio()->mutable_denominator()->set_months(24);
      }
    }
  }
  C(rubric, 0, 2).mutable_reporting_compliance()->set_weeks(0);
  *rubric.mutable_stars(0)->add_criteria() = C(rubric, 0, 2);
  C(rubric, 0, 3).mutable_reporting_compliance()->set_weeks(4);
  InputNeeds needs = NeedsOf(rubric);
  EXPECT_EQ(needs.indicator_months, 24);
  EXPECT_THAT(needs.compliance_weeks, UnorderedElementsAre(12, 4));

  C(rubric, 3, 4).mutable_ratio()->mutable_denominator()->set_months(0);
  needs = NeedsOf(rubric);
  EXPECT_EQ(needs.indicator_months, 12);
}

TEST(NeedsOfTest, NoIndicatorsNeedsOneMonth) {
  v1::Rubric rubric;
  v1::Criterion* c = rubric.add_stars()->add_criteria();
  c->mutable_task_completion();
  const InputNeeds needs = NeedsOf(rubric);
  EXPECT_TRUE(needs.indicator_keys.empty());
  EXPECT_EQ(needs.indicator_months, 1);
  EXPECT_TRUE(needs.compliance_weeks.empty());
}

}  // namespace
}  // namespace fivestar::scoring
