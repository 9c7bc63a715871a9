// GetSummary over gRPC: task figures as of the end of a month (start dates,
// reports and cancellations after it do not count), overdue tasks, weekly
// reporting compliance over 7-day windows, per-star completion and indicator
// totals (stock: latest per village; flow: sum), for a village and a region.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>

#include "common/calendar.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::common::v1::BRANCH_STRONG;
using ::fivestar::common::v1::CIVILIZED_HAPPY;
using ::fivestar::common::v1::ECO_LIVABLE;
using ::fivestar::common::v1::INDUSTRY_THRIVING;
using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

// 09:00 China time on a day of 2022.
absl::Time At(int month, int day) {
  return StartOfDay(absl::CivilDay(2022, month, day)) + absl::Hours(9);
}

class SummaryTest : public ::testing::Test {
 protected:
  // The story (today is 2022-10-08):
  //   Dangziling A  BRANCH_STRONG  10, due 09-15: 4 on 09-01, 6 on 09-20
  //              B  ECO_LIVABLE    10, due 09-15: 5 on 09-10 (overdue)
  //              C  INDUSTRY        5, due 12-31: nothing
  //              D  BRANCH_STRONG   5, due 12-31: 5 on 10-05 (after Sept)
  //              E  BRANCH_STRONG   1, starts 10-02 (after Sept)
  //              F  CIVILIZED       1, cancelled on 09-20
  //   Dougou     G  BRANCH_STRONG   1, due 12-31: 1 on 09-28
  void SetUp() override {
    A_ = Make(kDangziling, BRANCH_STRONG, 10, "2022-07-01", "2022-09-15");
    ASSERT_OK(ReportAt(A_, 4, At(9, 1)));
    ASSERT_OK(ReportAt(A_, 6, At(9, 20)));
    const std::string B =
        Make(kDangziling, ECO_LIVABLE, 10, "2022-07-01", "2022-09-15");
    ASSERT_OK(ReportAt(B, 5, At(9, 10)));
    Make(kDangziling, INDUSTRY_THRIVING, 5, "2022-07-01", "2022-12-31");
    const std::string D =
        Make(kDangziling, BRANCH_STRONG, 5, "2022-07-01", "2022-12-31");
    ASSERT_OK(ReportAt(D, 5, At(10, 5)));
    Make(kDangziling, BRANCH_STRONG, 1, "2022-10-02", "2022-12-31");
    const std::string F =
        Make(kDangziling, CIVILIZED_HAPPY, 1, "2022-07-01", "2022-12-31");
    env_.clock().Set(At(9, 20));
    v1::CancelProjectRequest cancel;
    cancel.set_id(F);
    cancel.set_reason("merged into A");
    ASSERT_OK(env_.Call(&Stub::CancelProject, cancel, kAdminToken));
    env_.clock().Set(StartTime());
    const std::string G =
        Make(kDougou, BRANCH_STRONG, 1, "2022-07-01", "2022-12-31");
    ASSERT_OK(ReportAt(G, 1, At(9, 28)));
  }

  std::string Make(const std::string& village, fivestar::common::v1::Star star,
                   double target, const std::string& start,
                   const std::string& due) {
    v1::Project project = RoadProject(village);
    project.set_star(star);
    project.set_target_quantity(target);
    project.set_start_date(start);
    project.set_due_date(due);
    auto created = env_.CreateProject(project);
    EXPECT_OK(created);
    return created.ok() ? created->id() : "";
  }

  absl::Status ReportAt(const std::string& project_id, double quantity,
                        absl::Time time) {
    v1::CreateProgressReportRequest request;
    request.mutable_report()->set_project_id(project_id);
    request.mutable_report()->set_quantity(quantity);
    *request.mutable_report()->mutable_report_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
    return env_.Call(&Stub::CreateProgressReport, request, kAdminToken)
        .status();
  }

  absl::Status SetValues(
      std::vector<std::tuple<std::string, std::string, std::string, double>>
          values) {
    v1::SetIndicatorValuesRequest request;
    for (const auto& [village, key, period, value] : values) {
      v1::IndicatorValue* out = request.add_values();
      out->set_village_id(village);
      out->set_indicator_key(key);
      out->set_period(period);
      out->set_value(value);
    }
    return env_.Call(&Stub::SetIndicatorValues, request, kAdminToken).status();
  }

  static v1::GetSummaryRequest OfVillage(const std::string& village,
                                         const std::string& period) {
    v1::GetSummaryRequest request;
    request.set_village_id(village);
    request.set_period(period);
    return request;
  }

  static v1::GetSummaryRequest OfRegion(const std::string& region,
                                        const std::string& period) {
    v1::GetSummaryRequest request;
    request.set_region_id(region);
    request.set_period(period);
    return request;
  }

  ProjectsTestEnv env_;
  std::string A_;
};

TEST_F(SummaryTest, VillageFiguresAreTakenAtTheEndOfThePeriod) {
  ASSERT_OK_AND_ASSIGN(v1::Summary summary,
                       env_.Summary(OfVillage(kDangziling, "2022-09")));
  EXPECT_EQ(summary.village_id(), kDangziling);
  EXPECT_EQ(summary.region_id(), "");
  EXPECT_EQ(summary.period(), "2022-09");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(summary.as_of_time()),
            absl::ToUnixMicros(StartOfDay(absl::CivilDay(2022, 10, 1))) - 1);
  EXPECT_EQ(summary.villages(), 1);
  EXPECT_EQ(summary.tasks_total(), 5);  // E starts in October.
  EXPECT_EQ(summary.tasks_delivered(), 1);
  EXPECT_EQ(summary.tasks_in_progress(), 1);
  EXPECT_EQ(summary.tasks_planned(), 2);  // D's report is from October.
  EXPECT_EQ(summary.tasks_cancelled(), 1);
  EXPECT_EQ(summary.tasks_overdue(), 1);
  EXPECT_DOUBLE_EQ(summary.completion_rate(), 0.25);

  ASSERT_EQ(summary.completion_by_star_size(), 5);
  const v1::StarCompletion& strong = summary.completion_by_star(0);
  EXPECT_EQ(strong.star(), BRANCH_STRONG);
  EXPECT_EQ(strong.total(), 2);
  EXPECT_EQ(strong.delivered(), 1);
  EXPECT_DOUBLE_EQ(strong.rate(), 0.5);
  EXPECT_EQ(summary.completion_by_star(2).star(), ECO_LIVABLE);
  EXPECT_DOUBLE_EQ(summary.completion_by_star(2).rate(), 0.0);
  // No task of the star, or all cancelled: nothing left to miss.
  EXPECT_DOUBLE_EQ(summary.completion_by_star(3).rate(), 1.0);
  EXPECT_EQ(summary.completion_by_star(4).cancelled(), 1);
  EXPECT_DOUBLE_EQ(summary.completion_by_star(4).rate(), 1.0);

  // Reports on 09-01, 09-10 and 09-20 fall in 3 of the 12 weeks.
  EXPECT_EQ(summary.weeks(), 12);
  EXPECT_DOUBLE_EQ(summary.weekly_reporting_compliance(), 3.0 / 12.0);
}

TEST_F(SummaryTest, CurrentMonthIsTakenNow) {
  ASSERT_OK_AND_ASSIGN(v1::Summary summary,
                       env_.Summary(OfVillage(kDangziling, "2022-10")));
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(summary.as_of_time()),
            absl::ToUnixMicros(StartTime()));
  EXPECT_EQ(summary.tasks_total(), 6);
  EXPECT_EQ(summary.tasks_delivered(), 2);  // A and D.
  EXPECT_EQ(summary.tasks_planned(), 2);    // C and E.
  EXPECT_DOUBLE_EQ(summary.completion_rate(), 2.0 / 5.0);

  v1::GetSummaryRequest request = OfVillage(kDangziling, "2022-10");
  request.set_weeks(2);  // 09-24..09-30 is empty, 10-01..10-08 holds D's.
  ASSERT_OK_AND_ASSIGN(summary, env_.Summary(request));
  EXPECT_EQ(summary.weeks(), 2);
  EXPECT_DOUBLE_EQ(summary.weekly_reporting_compliance(), 0.5);
}

TEST_F(SummaryTest, RegionCoversEveryVillageBelowIt) {
  ASSERT_OK_AND_ASSIGN(v1::Summary west,
                       env_.Summary(OfRegion(kWest, "2022-09")));
  EXPECT_EQ(west.region_id(), kWest);
  EXPECT_EQ(west.villages(), 3);
  EXPECT_EQ(west.tasks_total(), 6);
  EXPECT_EQ(west.tasks_delivered(), 2);
  EXPECT_DOUBLE_EQ(west.completion_rate(), 2.0 / 5.0);
  // Dangziling 3 weeks, Dougou 1, the third village none.
  EXPECT_DOUBLE_EQ(west.weekly_reporting_compliance(), 4.0 / 36.0);

  ASSERT_OK_AND_ASSIGN(v1::Summary township,
                       env_.Summary(OfRegion(kHuiche, "2022-09")));
  EXPECT_EQ(township.villages(), 21);
  EXPECT_EQ(township.tasks_total(), 6);
  ASSERT_OK_AND_ASSIGN(v1::Summary north,
                       env_.Summary(OfRegion(kNorth, "2022-09")));
  EXPECT_EQ(north.villages(), 4);
  EXPECT_EQ(north.tasks_total(), 0);
  EXPECT_DOUBLE_EQ(north.completion_rate(), 1.0);
  EXPECT_DOUBLE_EQ(north.weekly_reporting_compliance(), 0.0);
}

TEST_F(SummaryTest, IndicatorTotalsAggregateStocksAndFlows) {
  ASSERT_OK(SetValues({{kDangziling, "inspection_score", "2022-08", 90},
                       {kDangziling, "inspection_score", "2022-09", 93},
                       {kDangziling, "people_trained", "2022-08", 100},
                       {kDangziling, "people_trained", "2022-09", 161},
                       {kDougou, "inspection_score", "2022-09", 80},
                       {kDougou, "people_trained", "2022-07", 50},
                       {kMaohe, "people_trained", "2022-09", 7}}));
  ASSERT_OK_AND_ASSIGN(v1::Summary month,
                       env_.Summary(OfRegion(kWest, "2022-09")));
  EXPECT_EQ(month.indicator_months(), 1);
  ASSERT_EQ(month.indicator_totals_size(), 2);
  EXPECT_EQ(month.indicator_totals(0).key(), "inspection_score");
  EXPECT_EQ(month.indicator_totals(0).value(), 173);
  EXPECT_EQ(month.indicator_totals(0).aggregation(), v1::STOCK);
  EXPECT_EQ(month.indicator_totals(0).villages_reporting(), 2);
  EXPECT_EQ(month.indicator_totals(1).key(), "people_trained");
  EXPECT_EQ(month.indicator_totals(1).value(), 161);
  EXPECT_EQ(month.indicator_totals(1).villages_reporting(), 1);

  v1::GetSummaryRequest request = OfRegion(kWest, "2022-09");
  request.set_indicator_months(3);
  ASSERT_OK_AND_ASSIGN(v1::Summary quarter, env_.Summary(request));
  ASSERT_EQ(quarter.indicator_totals_size(), 2);
  EXPECT_EQ(quarter.indicator_totals(0).value(), 93 + 80);  // Latest each.
  EXPECT_EQ(quarter.indicator_totals(1).value(), 100 + 161 + 50);
  EXPECT_EQ(quarter.indicator_totals(1).aggregation(), v1::FLOW);
  EXPECT_EQ(quarter.indicator_totals(1).villages_reporting(), 2);
}

TEST_F(SummaryTest, RejectsBadRequests) {
  EXPECT_THAT(env_.Summary(OfVillage("411323-nowhere", "2022-09")),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-nowhere does not exist in the "
                       "registry"));
  EXPECT_THAT(env_.Summary(OfRegion("411323-nowhere", "2022-09")),
              StatusIs(absl::StatusCode::kNotFound,
                       "region 411323-nowhere does not exist"));
  EXPECT_THAT(env_.Summary(OfVillage(kDangziling, "2022-11")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "period: must not be after the current month 2022-10"));
  EXPECT_THAT(
      env_.Summary(OfVillage(kDangziling, "2022-13")),
      StatusIs(absl::StatusCode::kInvalidArgument, "period: must be a month"));
  EXPECT_THAT(env_.Summary(OfVillage(kDangziling, "")),
              StatusIs(absl::StatusCode::kInvalidArgument, "period: required"));
  v1::GetSummaryRequest request = OfVillage(kDangziling, "2022-09");
  request.set_weeks(105);
  EXPECT_THAT(env_.Summary(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "weeks: must be 0..104, got 105"));
  request.set_weeks(0);
  request.set_indicator_months(121);
  EXPECT_THAT(env_.Summary(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "indicator_months: must be 0..120"));
  EXPECT_THAT(env_.Summary(v1::GetSummaryRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "scope: set village_id or region_id"));
}

TEST_F(SummaryTest, ScopedViewersSummariseOnlyTheirSubtree) {
  EXPECT_OK(env_.Summary(OfRegion(kWest, "2022-09"), kWestViewerToken));
  EXPECT_OK(env_.Summary(OfVillage(kDangziling, "2022-09"), kWestViewerToken));
  EXPECT_THAT(env_.Summary(OfRegion(kHuiche, "2022-09"), kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "west-viewer may not read the summary of region "
                       "411323-huiche"));
  EXPECT_THAT(env_.Summary(OfVillage(kMaohe, "2022-09"), kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
}

}  // namespace
}  // namespace fivestar::projects
