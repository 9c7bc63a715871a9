// The award workflow over gRPC against the real stack: every transition,
// legal and illegal, per authority (a principal's authority is the level of
// the region its scope names); etags; the event trail; the rubric's
// prerequisite star, level cap and quotas; and Huiche's incentives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::StatusIs;
using google::protobuf::util::TimeUtil;
using Stub = v1::ScoringService::Stub;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AwardWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;
    env_ = std::make_unique<ScoringTestEnv>(options);
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    // A star Maohe earned in 2022-09, and one it did not.
    ASSERT_OK_AND_ASSIGN(evaluation_, GetEvaluation(kMaohe));
    for (const v1::StarResult& star : evaluation_.stars()) {
      if (star.earned() && earned_ == fivestar::common::v1::STAR_UNSPECIFIED) {
        earned_ = star.star();
      }
      if (!star.earned() && missed_ == fivestar::common::v1::STAR_UNSPECIFIED) {
        missed_ = star.star();
      }
    }
    ASSERT_NE(earned_, fivestar::common::v1::STAR_UNSPECIFIED);
  }

  absl::StatusOr<v1::Evaluation> GetEvaluation(const std::string& village) {
    v1::GetEvaluationRequest request;
    request.set_village_id(village);
    request.set_period(kPeriod);
    return env_->Call(&Stub::GetEvaluation, request, kViewerToken);
  }

  absl::StatusOr<v1::Award> Apply(
      const std::string& token,
      Star star = fivestar::common::v1::STAR_UNSPECIFIED,
      const std::string& village = kMaohe,
      const std::string& period = kPeriod) {
    v1::ApplyForAwardRequest request;
    request.set_village_id(village);
    request.set_star(star == fivestar::common::v1::STAR_UNSPECIFIED ? earned_
                                                                    : star);
    request.set_period(period);
    request.set_note("申报");
    return env_->Call(&Stub::ApplyForAward, request, token);
  }

  absl::StatusOr<v1::Award> Review(const v1::Award& award, bool approve,
                                   const std::string& token,
                                   const std::string& comment = "ok",
                                   const std::string& etag = "") {
    v1::ReviewAwardRequest request;
    request.set_id(award.id());
    request.set_decision(approve ? v1::ReviewAwardRequest::APPROVE
                                 : v1::ReviewAwardRequest::REJECT);
    request.set_comment(comment);
    request.set_etag(etag);
    return env_->Call(&Stub::ReviewAward, request, token);
  }

  absl::StatusOr<v1::Award> Notice(const v1::Award& award,
                                   const std::string& token, int days = 0) {
    v1::StartPublicNoticeRequest request;
    request.set_id(award.id());
    request.set_notice_days(days);
    return env_->Call(&Stub::StartPublicNotice, request, token);
  }

  absl::StatusOr<v1::Award> Confirm(const v1::Award& award,
                                    const std::string& token) {
    v1::ConfirmAwardRequest request;
    request.set_id(award.id());
    return env_->Call(&Stub::ConfirmAward, request, token);
  }

  absl::StatusOr<v1::Award> Withdraw(const v1::Award& award,
                                     const std::string& token,
                                     const std::string& reason = "降星") {
    v1::WithdrawAwardRequest request;
    request.set_id(award.id());
    request.set_reason(reason);
    return env_->Call(&Stub::WithdrawAward, request, token);
  }

  absl::StatusOr<v1::Award> Record(
      const std::string& village, Star star, v1::AuthorityLevel level,
      const std::string& token = kCountyAdminToken,
      absl::Time when = absl::FromCivil(absl::CivilDay(2022, 3, 1),
                                        absl::UTCTimeZone())) {
    v1::RecordAwardRequest request;
    request.set_village_id(village);
    request.set_star(star);
    *request.mutable_award_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(when));
    request.set_recognised_at(level);
    request.set_comment("西峡县命名文件 2022-3");
    return env_->Call(&Stub::RecordAward, request, token);
  }

  // An award of Maohe taken to PUBLIC_NOTICE.
  v1::Award ToNotice() {
    auto applied = Apply(kMaoheOperatorToken);
    EXPECT_OK(applied);
    auto reviewed = Review(*applied, true, kHuicheOperatorToken);
    EXPECT_OK(reviewed);
    auto approved = Review(*reviewed, true, kCountyOperatorToken);
    EXPECT_OK(approved);
    auto notice = Notice(*approved, kCountyOperatorToken);
    EXPECT_OK(notice);
    return notice.ok() ? *notice : v1::Award();
  }

  std::unique_ptr<ScoringTestEnv> env_;
  v1::Evaluation evaluation_;
  Star earned_ = fivestar::common::v1::STAR_UNSPECIFIED;
  Star missed_ = fivestar::common::v1::STAR_UNSPECIFIED;
};

TEST_F(AwardWorkflowTest, TheWholeWayToAwardedWithItsTrail) {
  ASSERT_OK_AND_ASSIGN(v1::Award applied, Apply(kMaoheOperatorToken));
  EXPECT_EQ(applied.state(), v1::APPLIED);
  EXPECT_EQ(applied.village_id(), kMaohe);
  EXPECT_EQ(applied.period(), kPeriod);
  EXPECT_EQ(applied.rubric_version(), 1);
  EXPECT_EQ(applied.applicant(), "maohe-operator");
  EXPECT_FALSE(applied.etag().empty());

  ASSERT_OK_AND_ASSIGN(v1::Award reviewed,
                       Review(applied, true, kHuicheOperatorToken, "初审通过"));
  EXPECT_EQ(reviewed.state(), v1::TOWNSHIP_REVIEWED);
  EXPECT_NE(reviewed.etag(), applied.etag());
  ASSERT_OK_AND_ASSIGN(
      v1::Award approved,
      Review(reviewed, true, kCountyOperatorToken, "审核通过"));
  EXPECT_EQ(approved.state(), v1::COUNTY_APPROVED);
  EXPECT_EQ(approved.recognised_at(), v1::COUNTY);
  ASSERT_OK_AND_ASSIGN(v1::Award notice,
                       Notice(approved, kCountyOperatorToken));
  EXPECT_EQ(notice.state(), v1::PUBLIC_NOTICE);
  EXPECT_EQ(notice.public_notice_days(), 7);  // the rubric's default
  EXPECT_EQ(TimeUtil::TimestampToSeconds(notice.public_notice_end_time()) -
                TimeUtil::TimestampToSeconds(notice.public_notice_start_time()),
            7 * 86400);
  EXPECT_THAT(Confirm(notice, kCountyOperatorToken),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "under public notice until"));
  env_->clock().Advance(absl::Hours(24 * 7));
  ASSERT_OK_AND_ASSIGN(v1::Award awarded,
                       Confirm(notice, kCountyOperatorToken));
  EXPECT_EQ(awarded.state(), v1::AWARDED);
  EXPECT_TRUE(awarded.has_award_time());

  v1::ListAwardEventsRequest request;
  request.set_award_id(applied.id());
  ASSERT_OK_AND_ASSIGN(auto events, env_->Call(&Stub::ListAwardEvents, request,
                                               kHuicheViewerToken));
  std::vector<std::string> trail;
  int64_t last = 0;
  for (const v1::AwardEvent& event : events.events()) {
    trail.push_back(absl::StrCat(v1::AwardState_Name(event.from_state()), ">",
                                 v1::AwardState_Name(event.to_state()), " by ",
                                 event.actor(), "@", event.actor_scope()));
    EXPECT_GT(event.sequence(), last);
    last = event.sequence();
    EXPECT_EQ(event.award_id(), applied.id());
  }
  EXPECT_THAT(
      trail,
      ElementsAre("AWARD_STATE_UNSPECIFIED>APPLIED by maohe-operator@" +
                      std::string(kMaohe),
                  "APPLIED>TOWNSHIP_REVIEWED by huiche-operator@" +
                      std::string(kHuiche),
                  "TOWNSHIP_REVIEWED>COUNTY_APPROVED by xixia-operator@411323",
                  "COUNTY_APPROVED>PUBLIC_NOTICE by xixia-operator@411323",
                  "PUBLIC_NOTICE>AWARDED by xixia-operator@411323"));
  EXPECT_EQ(events.events(1).comment(), "初审通过");
}

TEST_F(AwardWorkflowTest, ApplyingNeedsTheStarEarnedAndTheVillagesScope) {
  EXPECT_THAT(Apply(kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Apply(kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  if (missed_ != fivestar::common::v1::STAR_UNSPECIFIED) {
    EXPECT_THAT(
        Apply(kMaoheOperatorToken, missed_),
        StatusIs(absl::StatusCode::kFailedPrecondition, "did not earn"));
  }
  EXPECT_THAT(Apply(kMaoheOperatorToken, earned_, kMaohe, "2022-08"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "has no recorded evaluation for 2022-08"));
  EXPECT_THAT(Apply(kMaoheOperatorToken, earned_, kMaohe, "2022-9"),
              StatusIs(absl::StatusCode::kInvalidArgument, "period"));
  ASSERT_OK(Apply(kMaoheOperatorToken).status());
  EXPECT_THAT(Apply(kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
}

TEST_F(AwardWorkflowTest, EachStageNeedsItsAuthority) {
  ASSERT_OK_AND_ASSIGN(v1::Award applied, Apply(kMaoheOperatorToken));
  // A district or a village has no review authority; another township's
  // operator has no scope.
  EXPECT_THAT(Review(applied, true, kNorthOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "needs TOWNSHIP authority or above"));
  EXPECT_THAT(Review(applied, true, kMaoheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Review(applied, true, kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Review(applied, true, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  // A stale etag.
  EXPECT_THAT(Review(applied, true, kHuicheOperatorToken, "ok", "1-0"),
              StatusIs(absl::StatusCode::kAborted, ""));
  ASSERT_OK_AND_ASSIGN(
      v1::Award reviewed,
      Review(applied, true, kHuicheOperatorToken, "ok", applied.etag()));
  // County stage: a township may not approve; a city may (recognised at
  // CITY).
  EXPECT_THAT(Review(reviewed, true, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "needs COUNTY authority or above"));
  EXPECT_THAT(
      Review(reviewed, true, kCountyOperatorToken, "ok", applied.etag()),
      StatusIs(absl::StatusCode::kAborted, ""));
  ASSERT_OK_AND_ASSIGN(v1::Award approved,
                       Review(reviewed, true, kCityOperatorToken));
  EXPECT_EQ(approved.recognised_at(), v1::CITY);
  EXPECT_THAT(
      Review(approved, true, kCountyOperatorToken),
      StatusIs(absl::StatusCode::kFailedPrecondition, "is COUNTY_APPROVED"));
  EXPECT_THAT(Notice(approved, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Notice(approved, kCountyOperatorToken, 61),
              StatusIs(absl::StatusCode::kInvalidArgument, "notice_days"));
  ASSERT_OK_AND_ASSIGN(v1::Award notice,
                       Notice(approved, kProvinceOperatorToken, 3));
  EXPECT_EQ(notice.public_notice_days(), 3);
  env_->clock().Advance(absl::Hours(24 * 3));
  EXPECT_THAT(Confirm(notice, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  ASSERT_OK(Confirm(notice, kAdminToken).status());
}

TEST_F(AwardWorkflowTest, AwardListsAboveTheScopeShowTheReadableAwards) {
  for (const std::string& village :
       {std::string(kMaohe), std::string(kOtherVillage)}) {
    v1::RecordAwardRequest record;
    record.set_village_id(village);
    record.set_star(earned_);
    *record.mutable_award_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(
            absl::FromCivil(absl::CivilDay(2022, 3, 1), absl::UTCTimeZone())));
    record.set_recognised_at(v1::COUNTY);
    record.set_comment("西峡县命名文件 2022-3");
    ASSERT_OK(env_->Call(&Stub::RecordAward, record, kAdminToken));
  }
  auto villages = [&](const std::string& region, const std::string& token) {
    v1::ListAwardsRequest request;
    request.set_ancestor_region_id(region);
    std::vector<std::string> out;
    absl::StatusOr<v1::ListAwardsResponse> awards =
        env_->Call(&Stub::ListAwards, request, token);
    EXPECT_OK(awards);
    if (!awards.ok()) return out;
    for (const v1::Award& award : awards->awards()) {
      out.push_back(award.village_id());
    }
    return out;
  };
  EXPECT_EQ(villages(kCounty, kAdminToken),
            (std::vector<std::string>{kMaohe, kOtherVillage}));
  // The county lies above both scopes: each sees its own part.
  EXPECT_EQ(villages(kCounty, kHuicheOperatorToken),
            std::vector<std::string>{kMaohe});
  EXPECT_EQ(villages(kCounty, kMaoheOperatorToken),
            std::vector<std::string>{kMaohe});
  EXPECT_EQ(villages(kCounty, kOtherOperatorToken),
            std::vector<std::string>{kOtherVillage});
  v1::ListAwardEventsRequest events;
  events.set_ancestor_region_id(kCity);
  ASSERT_OK_AND_ASSIGN(
      v1::ListAwardEventsResponse trail,
      env_->Call(&Stub::ListAwardEvents, events, kHuicheOperatorToken));
  ASSERT_EQ(trail.events_size(), 1);
  EXPECT_EQ(trail.events(0).village_id(), kMaohe);
  // A sibling township is outside, not above.
  v1::ListAwardsRequest sibling;
  sibling.set_ancestor_region_id(kOtherTownship);
  EXPECT_THAT(env_->Call(&Stub::ListAwards, sibling, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-operator may not list the awards below "
                       "411323-other: outside its scope 411323-huiche"));
}

TEST_F(AwardWorkflowTest, RejectionsAndWithdrawals) {
  ASSERT_OK_AND_ASSIGN(v1::Award applied, Apply(kMaoheOperatorToken));
  EXPECT_THAT(Review(applied, false, kHuicheOperatorToken, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "comment"));
  ASSERT_OK_AND_ASSIGN(
      v1::Award rejected,
      Review(applied, false, kHuicheOperatorToken, "材料不全"));
  EXPECT_EQ(rejected.state(), v1::REJECTED);
  EXPECT_EQ(rejected.close_reason(), "材料不全");
  EXPECT_TRUE(rejected.has_close_time());
  EXPECT_THAT(Review(rejected, true, kCountyOperatorToken),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is REJECTED"));
  EXPECT_THAT(
      Withdraw(rejected, kCountyOperatorToken),
      StatusIs(absl::StatusCode::kFailedPrecondition, "already REJECTED"));

  // A new application after the rejection; the village withdraws it.
  ASSERT_OK_AND_ASSIGN(v1::Award again, Apply(kMaoheOperatorToken));
  ASSERT_OK_AND_ASSIGN(v1::Award withdrawn,
                       Withdraw(again, kMaoheOperatorToken, "重新准备"));
  EXPECT_EQ(withdrawn.state(), v1::WITHDRAWN);

  // An objection upheld during the notice: county rejects.
  v1::Award notice = ToNotice();
  EXPECT_THAT(Review(notice, false, kHuicheOperatorToken, "异议"),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  ASSERT_OK_AND_ASSIGN(v1::Award objected,
                       Review(notice, false, kCountyOperatorToken, "异议成立"));
  EXPECT_EQ(objected.state(), v1::REJECTED);

  // 降星: only county level or above takes an awarded star away.
  v1::Award held = ToNotice();
  env_->clock().Advance(absl::Hours(24 * 8));
  ASSERT_OK_AND_ASSIGN(held, Confirm(held, kCountyOperatorToken));
  EXPECT_THAT(Withdraw(held, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Withdraw(held, kCountyOperatorToken, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "reason"));
  ASSERT_OK_AND_ASSIGN(v1::Award demoted, Withdraw(held, kCountyOperatorToken));
  EXPECT_EQ(demoted.state(), v1::WITHDRAWN);
  EXPECT_THAT(
      Withdraw(demoted, kCountyOperatorToken),
      StatusIs(absl::StatusCode::kFailedPrecondition, "already WITHDRAWN"));
}

TEST_F(AwardWorkflowTest, RecordAwardNeedsAnAdminAndRefusesDuplicates) {
  EXPECT_THAT(Record(kMaohe, fivestar::common::v1::BRANCH_STRONG, v1::COUNTY,
                     kCountyOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_THAT(Record(kMaohe, fivestar::common::v1::BRANCH_STRONG,
                     v1::AUTHORITY_LEVEL_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument, "recognised_at"));
  EXPECT_THAT(Record(kMaohe, fivestar::common::v1::BRANCH_STRONG, v1::COUNTY,
                     kCountyAdminToken, StartTime() + absl::Hours(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, "award_time"));
  ASSERT_OK_AND_ASSIGN(
      v1::Award recorded,
      Record(kMaohe, fivestar::common::v1::BRANCH_STRONG, v1::COUNTY));
  EXPECT_EQ(recorded.state(), v1::AWARDED);
  EXPECT_EQ(recorded.period(), "");
  EXPECT_EQ(recorded.rubric_version(), 0);
  EXPECT_THAT(Record(kMaohe, fivestar::common::v1::BRANCH_STRONG, v1::COUNTY),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  if (earned_ == fivestar::common::v1::BRANCH_STRONG) {
    EXPECT_THAT(Apply(kMaoheOperatorToken),
                StatusIs(absl::StatusCode::kAlreadyExists, ""));
  }
  v1::ListAwardEventsRequest request;
  request.set_village_id(kMaohe);
  ASSERT_OK_AND_ASSIGN(
      auto events, env_->Call(&Stub::ListAwardEvents, request, kViewerToken));
  ASSERT_EQ(events.events_size(), 1);
  EXPECT_THAT(events.events(0).comment(), HasSubstr("recorded"));
}

TEST_F(AwardWorkflowTest, HuicheIncentivesForTheYear) {
  // Three stars held since March 2022, INDUSTRY_THRIVING recognised by the
  // county: level 3 → 30,000 yuan and +10 %; 100 yuan × 5 members × the
  // months of 2022 ended by now (March–September: 7).
  for (Star star : {fivestar::common::v1::BRANCH_STRONG,
                    fivestar::common::v1::INDUSTRY_THRIVING,
                    fivestar::common::v1::SAFE_LAWFUL}) {
    ASSERT_OK(Record(kMaohe, star, v1::COUNTY).status());
  }
  v1::GetIncentivesRequest request;
  request.set_village_id(kMaohe);
  request.set_year(2022);
  ASSERT_OK_AND_ASSIGN(
      v1::Incentives incentives,
      env_->Call(&Stub::GetIncentives, request, kHuicheViewerToken));
  EXPECT_EQ(incentives.level(), 3);
  EXPECT_TRUE(incentives.provisional());
  EXPECT_EQ(incentives.rubric_version(), 1);
  ASSERT_EQ(incentives.items_size(), 3);
  EXPECT_EQ(incentives.items(0).kind(), v1::WORK_FUNDS);
  EXPECT_EQ(incentives.items(0).amount_yuan(), 30000);
  EXPECT_EQ(incentives.items(1).kind(), v1::BASE_PAY_UPLIFT);
  EXPECT_DOUBLE_EQ(incentives.items(1).percent(), 10);
  EXPECT_EQ(incentives.items(2).kind(), v1::COMMITTEE_MEMBER_BONUS);
  EXPECT_EQ(incentives.items(2).months(), 7);
  EXPECT_EQ(incentives.items(2).members(), 5);
  EXPECT_EQ(incentives.items(2).amount_yuan(), 3500);
  EXPECT_EQ(incentives.total_yuan(), 33500);

  request.set_year(2021);
  ASSERT_OK_AND_ASSIGN(incentives,
                       env_->Call(&Stub::GetIncentives, request, kViewerToken));
  EXPECT_EQ(incentives.level(), 0);
  EXPECT_EQ(incentives.items_size(), 0);
  EXPECT_EQ(incentives.total_yuan(), 0);
  request.set_year(2023);
  EXPECT_THAT(env_->Call(&Stub::GetIncentives, request, kViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "year"));
  request.set_year(2022);
  request.set_village_id("no-such-village");
  EXPECT_THAT(env_->Call(&Stub::GetIncentives, request, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(AwardWorkflowTest, PrerequisiteCapAndQuotaOfTheActiveRubric) {
  using fivestar::common::v1::BRANCH_STRONG;
  using fivestar::common::v1::CIVILIZED_HAPPY;
  using fivestar::common::v1::ECO_LIVABLE;
  using fivestar::common::v1::SAFE_LAWFUL;
  ASSERT_OK_AND_ASSIGN(
      v1::Rubric rubric,
      env_->Call(&Stub::GetRubric, v1::GetRubricRequest(), kViewerToken));
  v1::GlobalRules* rules = rubric.mutable_global_rules();
  rules->set_prerequisite_star(BRANCH_STRONG);
  rules->set_max_level(2);
  // 22 villages in the county: at most floor(0.05 × 22) = 1 at level 2+.
  v1::LevelQuota* quota = rules->add_quotas();
  quota->set_region_level(v1::COUNTY);
  quota->set_min_level(2);
  quota->set_max_share(0.05);
  v1::CreateRubricRequest create;
  *create.mutable_rubric() = rubric;
  create.set_activate(true);
  ASSERT_OK_AND_ASSIGN(v1::Rubric stored,
                       env_->Call(&Stub::CreateRubric, create, kAdminToken));
  EXPECT_EQ(stored.version(), 2);
  EXPECT_TRUE(stored.active());

  // Prerequisite: Maohe earned SAFE_LAWFUL in September but holds no
  // BRANCH_STRONG.
  ASSERT_OK_AND_ASSIGN(v1::Award safe, Apply(kMaoheOperatorToken, SAFE_LAWFUL));
  ASSERT_OK_AND_ASSIGN(safe, Review(safe, true, kHuicheOperatorToken));
  ASSERT_OK_AND_ASSIGN(safe, Review(safe, true, kCountyOperatorToken));
  ASSERT_OK_AND_ASSIGN(safe, Notice(safe, kCountyOperatorToken, 1));
  env_->clock().Advance(absl::Hours(25));
  EXPECT_THAT(Confirm(safe, kCountyOperatorToken),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "prerequisite: village 411323-huiche-north-01 must "
                       "hold BRANCH_STRONG"));

  // Level cap: north-02 holds two stars; a third is refused at
  // confirmation (the quota still allows it: north-02 is the one village
  // at level 2).
  const std::string north02 = "411323-huiche-north-02";
  ASSERT_OK(Record(north02, BRANCH_STRONG, v1::COUNTY).status());
  ASSERT_OK(Record(north02, ECO_LIVABLE, v1::COUNTY).status());
  ASSERT_OK_AND_ASSIGN(v1::Award third,
                       Apply(kHuicheOperatorToken, SAFE_LAWFUL, north02));
  ASSERT_OK_AND_ASSIGN(third, Review(third, true, kHuicheOperatorToken));
  ASSERT_OK_AND_ASSIGN(third, Review(third, true, kCountyOperatorToken));
  ASSERT_OK_AND_ASSIGN(third, Notice(third, kCountyOperatorToken, 1));
  env_->clock().Advance(absl::Hours(25));
  EXPECT_THAT(Confirm(third, kCountyOperatorToken),
              StatusIs(absl::StatusCode::kFailedPrecondition, "level cap"));

  // Quota: Maohe reaching level 2 would make two villages of the county at
  // level 2 or more; the county's approval is refused.
  ASSERT_OK(Record(kMaohe, BRANCH_STRONG, v1::COUNTY).status());
  ASSERT_OK_AND_ASSIGN(v1::Award civil,
                       Apply(kMaoheOperatorToken, CIVILIZED_HAPPY));
  ASSERT_OK_AND_ASSIGN(civil, Review(civil, true, kHuicheOperatorToken));
  EXPECT_THAT(Review(civil, true, kCountyOperatorToken),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "quota: at most 1 of the 22 villages of COUNTY 411323"));
}

// No existence oracle: for the other township's operator, a Huiche record
// and one that exists nowhere answer alike; the global admin still gets
// NOT_FOUND.
class ScoringOracleTest : public AwardWorkflowTest {
 protected:
  static constexpr char kNowhereVillage[] = "411323-nowhere-01";
  static constexpr char kNowhereAward[] = "no-such-award";

  static std::string Denial(const std::string& action) {
    return absl::StrCat("other-operator may not ", action,
                        ": outside its scope 411323-other");
  }

  // Both are the same out-of-scope refusal.
  static void ExpectSameDenial(const absl::Status& existing,
                               const absl::Status& absent,
                               const std::string& message) {
    EXPECT_THAT(existing,
                StatusIs(absl::StatusCode::kPermissionDenied, message));
    EXPECT_EQ(existing.message(), message);
    EXPECT_EQ(absent.code(), existing.code());
    EXPECT_EQ(absent.message(), existing.message());
  }

  absl::StatusOr<v1::Evaluation> GetEvaluationAs(const std::string& village,
                                                 const std::string& token) {
    v1::GetEvaluationRequest request;
    request.set_village_id(village);
    request.set_period(kPeriod);
    return env_->Call(&Stub::GetEvaluation, request, token);
  }

  absl::StatusOr<v1::Award> GetAward(const std::string& id,
                                     const std::string& token) {
    v1::GetAwardRequest request;
    request.set_id(id);
    return env_->Call(&Stub::GetAward, request, token);
  }

  // The awards of `village` as the global admin sees them.
  int AwardCount(const std::string& village) {
    v1::ListAwardsRequest request;
    request.set_village_id(village);
    auto awards = env_->Call(&Stub::ListAwards, request, kAdminToken);
    EXPECT_OK(awards);
    return awards.ok() ? awards->awards_size() : -1;
  }
};

TEST_F(ScoringOracleTest,
       EvaluationsOutsideTheScopeAnswerAlikeWhetherTheVillageExists) {
  // A refused evaluation that recorded anyway would carry this later time.
  env_->clock().Advance(absl::Hours(1));
  ExpectSameDenial(
      GetEvaluationAs(kMaohe, kOtherOperatorToken).status(),
      GetEvaluationAs(kNowhereVillage, kOtherOperatorToken).status(),
      Denial("read the evaluations of village"));
  ExpectSameDenial(
      env_->Evaluate(kMaohe, kPeriod, kOtherOperatorToken).status(),
      env_->Evaluate(kNowhereVillage, kPeriod, kOtherOperatorToken).status(),
      Denial("evaluate village"));
  // The recorded evaluation is untouched.
  ASSERT_OK_AND_ASSIGN(v1::Evaluation after,
                       GetEvaluationAs(kMaohe, kAdminToken));
  EXPECT_EQ(after.evaluate_time().seconds(),
            evaluation_.evaluate_time().seconds());
  // The global admin still learns that the village does not exist.
  EXPECT_THAT(env_->Evaluate(kNowhereVillage),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-nowhere-01 does not exist"));
}

TEST_F(ScoringOracleTest, VillageRankOutsideTheScopeAnswersAlike) {
  auto rank = [&](const std::string& village) {
    v1::GetVillageRankRequest request;
    request.set_village_id(village);
    request.set_period(kPeriod);
    return env_->Call(&Stub::GetVillageRank, request, kOtherOperatorToken)
        .status();
  };
  ExpectSameDenial(rank(kMaohe), rank(kNowhereVillage),
                   Denial("read the rank of"));
}

TEST_F(ScoringOracleTest, AwardsOutsideTheScopeAnswerAlikeWhetherTheyExist) {
  ASSERT_OK_AND_ASSIGN(v1::Award applied, Apply(kMaoheOperatorToken));
  ExpectSameDenial(GetAward(applied.id(), kOtherOperatorToken).status(),
                   GetAward(kNowhereAward, kOtherOperatorToken).status(),
                   Denial("read award"));
  v1::Award absent;
  absent.set_id(kNowhereAward);
  ExpectSameDenial(Review(applied, true, kOtherOperatorToken).status(),
                   Review(absent, true, kOtherOperatorToken).status(),
                   Denial("review award"));
  ExpectSameDenial(Withdraw(applied, kOtherOperatorToken).status(),
                   Withdraw(absent, kOtherOperatorToken).status(),
                   Denial("withdraw award"));
  ASSERT_OK_AND_ASSIGN(v1::Award stored, GetAward(applied.id(), kAdminToken));
  EXPECT_EQ(stored.state(), v1::APPLIED);
  EXPECT_EQ(stored.etag(), applied.etag());
  EXPECT_THAT(GetAward(kNowhereAward, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound,
                       "award no-such-award does not exist"));
}

TEST_F(ScoringOracleTest, IncentivesOutsideTheScopeAnswerAlike) {
  auto incentives = [&](const std::string& village) {
    v1::GetIncentivesRequest request;
    request.set_village_id(village);
    request.set_year(2022);
    return env_->Call(&Stub::GetIncentives, request, kOtherOperatorToken)
        .status();
  };
  ExpectSameDenial(incentives(kMaohe), incentives(kNowhereVillage),
                   Denial("read the incentives of village"));
}

TEST_F(ScoringOracleTest, RequestIdUsedInAnotherTownshipIsDeniedNamingNothing) {
  // The county records an award for the other township's village with a
  // request id; the Huiche operator then picks the same id for Maohe.
  v1::RecordAwardRequest record;
  record.set_village_id(kOtherVillage);
  record.set_star(earned_);
  *record.mutable_award_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(
          absl::FromCivil(absl::CivilDay(2022, 3, 1), absl::UTCTimeZone())));
  record.set_recognised_at(v1::COUNTY);
  record.set_comment("西峡县命名文件 2022-3");
  record.set_request_id("star-req-1");
  ASSERT_OK_AND_ASSIGN(v1::Award other,
                       env_->Call(&Stub::RecordAward, record, kAdminToken));

  v1::ApplyForAwardRequest apply;
  apply.set_village_id(kMaohe);
  apply.set_star(earned_);
  apply.set_period(kPeriod);
  apply.set_request_id("star-req-1");
  const absl::Status reused =
      env_->Call(&Stub::ApplyForAward, apply, kHuicheOperatorToken).status();
  EXPECT_THAT(reused, StatusIs(absl::StatusCode::kPermissionDenied,
                               "huiche-operator may not use request_id "
                               "star-req-1: outside its scope 411323-huiche"));
  EXPECT_THAT(std::string(reused.message()),
              ::testing::Not(HasSubstr(other.id())));
  EXPECT_EQ(AwardCount(kMaohe), 0);
  // The global admin is told of the collision as before.
  EXPECT_THAT(
      env_->Call(&Stub::ApplyForAward, apply, kAdminToken),
      StatusIs(absl::StatusCode::kAlreadyExists,
               absl::StrCat("was already used for award ", other.id())));
}

}  // namespace
}  // namespace fivestar::scoring
