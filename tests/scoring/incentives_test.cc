// Incentives from awarded stars under the default rubric's Huiche rules:
// level 3 → 30,000 yuan and +10 %, the INDUSTRY_THRIVING member bonus,
// withdrawals, recognition level, prerequisite and cap, the current year.
#include "services/scoring/incentives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
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

// An instant in China time.
absl::Time China(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm),
                         ChinaStandardTime());
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::Award Awarded(Star star, absl::Time when,
                  v1::AuthorityLevel at = v1::COUNTY,
                  const std::string& village = "v1") {
  v1::Award award;
  award.set_id(absl::StrCat(village, "-", star));
  award.set_village_id(village);
  award.set_star(star);
  award.set_state(v1::AWARDED);
  award.set_recognised_at(at);
  *award.mutable_award_time() = Ts(when);
  return award;
}

v1::Award Withdrawn(v1::Award award, absl::Time when) {
  award.set_state(v1::WITHDRAWN);
  *award.mutable_close_time() = Ts(when);
  return award;
}

const absl::Time kNow = China(2023, 6, 15, 10);

TEST(IncentivesTest, ThreeStarsGiveWorkFundsUpliftAndTheMemberBonus) {
  // INDUSTRY_THRIVING recognised by the county on 2022-03-10: held at the
  // end of March .. December, 10 months.
  const std::vector<v1::Award> awards = {
      Awarded(BRANCH_STRONG, China(2021, 12, 1)),
      Awarded(INDUSTRY_THRIVING, China(2022, 3, 10)),
      Awarded(SAFE_LAWFUL, China(2022, 11, 1), v1::TOWNSHIP),
      Awarded(CIVILIZED_HAPPY, China(2022, 1, 1), v1::COUNTY, "other"),
  };
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2022, kNow, awards, 5);
  EXPECT_EQ(incentives.village_id(), "v1");
  EXPECT_EQ(incentives.year(), 2022);
  EXPECT_EQ(incentives.rubric_version(), 2);
  EXPECT_FALSE(incentives.provisional());
  EXPECT_EQ(incentives.level(), 3);
  EXPECT_THAT(incentives.awarded_stars(),
              ElementsAre(BRANCH_STRONG, INDUSTRY_THRIVING, SAFE_LAWFUL));
  ASSERT_EQ(incentives.items_size(), 3);
  EXPECT_EQ(incentives.items(0).rule_id(), "three_star_work_funds");
  EXPECT_EQ(incentives.items(0).kind(), v1::WORK_FUNDS);
  EXPECT_EQ(incentives.items(0).amount_yuan(), 30000);
  EXPECT_EQ(incentives.items(0).description(),
            DefaultRubric(2).incentive_rules(0).description());
  EXPECT_EQ(incentives.items(1).rule_id(), "three_star_work_funds");
  EXPECT_EQ(incentives.items(1).kind(), v1::BASE_PAY_UPLIFT);
  EXPECT_EQ(incentives.items(1).percent(), 10);
  EXPECT_EQ(incentives.items(1).amount_yuan(), 0);
  const v1::IncentiveItem& bonus = incentives.items(2);
  EXPECT_EQ(bonus.rule_id(), "industry_thriving_member_bonus");
  EXPECT_EQ(bonus.kind(), v1::COMMITTEE_MEMBER_BONUS);
  EXPECT_EQ(bonus.star(), INDUSTRY_THRIVING);
  EXPECT_EQ(bonus.months(), 10);
  EXPECT_EQ(bonus.members(), 5);
  EXPECT_EQ(bonus.amount_yuan(), 100 * 5 * 10);
  EXPECT_EQ(incentives.total_yuan(), 30000 + 5000);
}

TEST(IncentivesTest, TwoStarsGetNoLevelIncentive) {
  const std::vector<v1::Award> awards = {
      Awarded(BRANCH_STRONG, China(2021, 12, 1)),
      Awarded(ECO_LIVABLE, China(2021, 12, 1)),
  };
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2022, kNow, awards, 5);
  EXPECT_EQ(incentives.level(), 2);
  EXPECT_TRUE(incentives.items().empty());
  EXPECT_EQ(incentives.total_yuan(), 0);
}

TEST(IncentivesTest, WithdrawnMidYearCountsMonthsHeldAndNotTheLevel) {
  // INDUSTRY_THRIVING held from before the year, withdrawn (降星) on
  // 2022-07-01: held at the ends of January..June.
  const std::vector<v1::Award> awards = {
      Awarded(BRANCH_STRONG, China(2021, 12, 1)),
      Awarded(SAFE_LAWFUL, China(2021, 12, 1)),
      Withdrawn(Awarded(INDUSTRY_THRIVING, China(2021, 5, 1), v1::CITY),
                China(2022, 7, 1)),
  };
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2022, kNow, awards, 7);
  EXPECT_EQ(incentives.level(), 2);
  EXPECT_THAT(incentives.awarded_stars(),
              ElementsAre(BRANCH_STRONG, SAFE_LAWFUL));
  ASSERT_EQ(incentives.items_size(), 1);
  EXPECT_EQ(incentives.items(0).months(), 6);
  EXPECT_EQ(incentives.items(0).amount_yuan(), 100 * 7 * 6);
  EXPECT_EQ(incentives.total_yuan(), 4200);
}

TEST(IncentivesTest, WithdrawnAtTheLastInstantOfAMonthDoesNotCountIt) {
  const absl::Time end_of_june = EndOfMonth(absl::CivilMonth(2022, 6));
  const std::vector<v1::Award> awards = {Withdrawn(
      Awarded(INDUSTRY_THRIVING, China(2022, 1, 31, 12)), end_of_june)};
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2022, kNow, awards, 1);
  ASSERT_EQ(incentives.items_size(), 1);
  EXPECT_EQ(incentives.items(0).months(), 5);  // January .. May
}

TEST(IncentivesTest, OnlyAwardsThatReachedAwardedCount) {
  v1::Award applied = Awarded(INDUSTRY_THRIVING, China(2022, 1, 1));
  applied.set_state(v1::PUBLIC_NOTICE);
  applied.clear_award_time();
  v1::Award rejected = applied;
  rejected.set_state(v1::REJECTED);
  v1::Award withdrawn_application = applied;
  withdrawn_application.set_state(v1::WITHDRAWN);
  *withdrawn_application.mutable_close_time() = Ts(China(2022, 2, 1));
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2022, kNow,
                        {applied, rejected, withdrawn_application}, 5);
  EXPECT_EQ(incentives.level(), 0);
  EXPECT_TRUE(incentives.awarded_stars().empty());
  EXPECT_TRUE(incentives.items().empty());
}

TEST(IncentivesTest, TownshipRecognitionGetsNoMemberBonus) {
  const v1::Incentives incentives = ComputeIncentives(
      DefaultRubric(2), "v1", 2022, kNow,
      {Awarded(INDUSTRY_THRIVING, China(2021, 1, 1), v1::TOWNSHIP)}, 5);
  EXPECT_EQ(incentives.level(), 1);
  EXPECT_TRUE(incentives.items().empty());
}

TEST(IncentivesTest, CurrentYearIsProvisionalAndCountsEndedMonthsOnly) {
  // Now is 2023-06-15: January..May have ended.
  const std::vector<v1::Award> awards = {
      Awarded(BRANCH_STRONG, China(2022, 1, 1)),
      Awarded(INDUSTRY_THRIVING, China(2022, 1, 1), v1::PROVINCE),
      Awarded(ECO_LIVABLE, China(2023, 6, 1)),
      Awarded(SAFE_LAWFUL, China(2023, 6, 20)),  // after now
  };
  const v1::Incentives incentives =
      ComputeIncentives(DefaultRubric(2), "v1", 2023, kNow, awards, 5);
  EXPECT_TRUE(incentives.provisional());
  EXPECT_EQ(incentives.level(), 3);
  EXPECT_THAT(incentives.awarded_stars(),
              ElementsAre(BRANCH_STRONG, INDUSTRY_THRIVING, ECO_LIVABLE));
  ASSERT_EQ(incentives.items_size(), 3);
  EXPECT_EQ(incentives.items(2).months(), 5);
  EXPECT_EQ(incentives.total_yuan(), 30000 + 100 * 5 * 5);
}

TEST(IncentivesTest, HighestLevelRuleAppliesAlone) {
  v1::Rubric rubric = DefaultRubric(2);
  v1::IncentiveRule* five = rubric.add_incentive_rules();
  five->set_id("five_star_funds");
  five->mutable_level()->set_min_level(5);
  five->mutable_level()->set_work_funds_yuan(100000);
  v1::IncentiveRule* four = rubric.add_incentive_rules();
  four->set_id("four_star_uplift");
  four->mutable_level()->set_min_level(4);
  four->mutable_level()->set_base_pay_uplift_percent(15);
  std::vector<v1::Award> awards;
  for (Star star : {BRANCH_STRONG, ECO_LIVABLE, SAFE_LAWFUL, CIVILIZED_HAPPY}) {
    awards.push_back(Awarded(star, China(2021, 1, 1)));
  }
  const v1::Incentives incentives =
      ComputeIncentives(rubric, "v1", 2022, kNow, awards, 5);
  EXPECT_EQ(incentives.level(), 4);
  ASSERT_EQ(incentives.items_size(), 1);
  EXPECT_EQ(incentives.items(0).rule_id(), "four_star_uplift");
  EXPECT_EQ(incentives.items(0).kind(), v1::BASE_PAY_UPLIFT);
  EXPECT_EQ(incentives.items(0).percent(), 15);
  EXPECT_EQ(incentives.total_yuan(), 0);
}

TEST(IncentivesTest, PrerequisiteAndCapLimitTheLevel) {
  v1::Rubric rubric = DefaultRubric(2);
  rubric.mutable_global_rules()->set_prerequisite_star(BRANCH_STRONG);
  std::vector<v1::Award> awards;
  for (Star star : {INDUSTRY_THRIVING, ECO_LIVABLE, SAFE_LAWFUL}) {
    awards.push_back(Awarded(star, China(2021, 1, 1)));
  }
  v1::Incentives incentives =
      ComputeIncentives(rubric, "v1", 2022, kNow, awards, 5);
  EXPECT_EQ(incentives.level(), 0);
  EXPECT_EQ(incentives.awarded_stars_size(), 3);
  // The member bonus does not depend on the level.
  ASSERT_EQ(incentives.items_size(), 1);
  EXPECT_EQ(incentives.items(0).months(), 12);

  rubric.mutable_global_rules()->clear_prerequisite_star();
  rubric.mutable_global_rules()->set_max_level(2);
  incentives = ComputeIncentives(rubric, "v1", 2022, kNow, awards, 5);
  EXPECT_EQ(incentives.level(), 2);
  EXPECT_EQ(incentives.items_size(), 1);
}

TEST(HeldAtTest, FromAwardTimeUntilCloseTime) {
  const v1::Award award =
      Withdrawn(Awarded(ECO_LIVABLE, China(2022, 3, 1)), China(2022, 5, 1));
  EXPECT_FALSE(HeldAt(award, China(2022, 3, 1) - absl::Seconds(1)));
  EXPECT_TRUE(HeldAt(award, China(2022, 3, 1)));
  EXPECT_TRUE(HeldAt(award, China(2022, 5, 1) - absl::Seconds(1)));
  EXPECT_FALSE(HeldAt(award, China(2022, 5, 1)));
}

}  // namespace
}  // namespace fivestar::scoring
