// The Huiche demo end to end, across both services: the registry holds the
// township (data/huiche/registry.ndjson), project tracking imports its
// practical tasks with their weekly reports (data/huiche/projects.ndjson)
// and its 2022-09 indicator values (data/huiche/indicators.ndjson), and the
// summaries show the source article's figures: 193 tasks, 145 delivered
// (75.1 %), 341 HD cameras, 3,382 people trained, ...
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

class HuicheDemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = ReadNdjson<v1::ProjectRecord>(
        SourcePath("data/huiche/projects.ndjson"));
    for (auto& value : ReadNdjson<v1::IndicatorValue>(
             SourcePath("data/huiche/indicators.ndjson"))) {
      *values_.add_values() = std::move(value);
    }
    values_.set_request_id("huiche-2022-09");
    ASSERT_OK_AND_ASSIGN(v1::ImportProjectsResponse imported,
                         env_.Import(records_));
    EXPECT_EQ(imported.phase(), v1::ImportProjectsResponse::DONE);
    EXPECT_EQ(imported.records_received(), 193);
    EXPECT_EQ(imported.projects_created(), 193);
    EXPECT_EQ(imported.reports_created(), 315);
    ASSERT_OK_AND_ASSIGN(
        auto set, env_.Call(&Stub::SetIndicatorValues, values_, kAdminToken));
    EXPECT_EQ(set.created(), 336);
  }

  v1::Summary SummaryOf(const std::string& region) {
    v1::GetSummaryRequest request;
    request.set_region_id(region);
    request.set_period("2022-09");
    auto summary = env_.Summary(request, kHuicheViewerToken);
    EXPECT_OK(summary);
    return summary.ok() ? *summary : v1::Summary();
  }

  ProjectsTestEnv env_;
  std::vector<v1::ProjectRecord> records_;
  v1::SetIndicatorValuesRequest values_;
};

TEST_F(HuicheDemoTest, TownshipSummaryShowsTheArticlesFigures) {
  v1::Summary township = SummaryOf(kHuiche);
  EXPECT_EQ(township.villages(), 21);
  EXPECT_EQ(township.tasks_total(), 193);
  EXPECT_EQ(township.tasks_delivered(), 145);
  EXPECT_EQ(township.tasks_cancelled(), 0);
  EXPECT_EQ(township.tasks_overdue(), 0);
  EXPECT_NEAR(township.completion_rate(), 0.7513, 0.00005);
  EXPECT_EQ(std::round(township.completion_rate() * 1000) / 10, 75.1);
  // Each village reports in weeks_with_report_last_12 of the 12 weeks; those
  // add up to 210 village-weeks.
  EXPECT_DOUBLE_EQ(township.weekly_reporting_compliance(), 210.0 / (12 * 21));

  std::map<std::string, double> totals;
  for (const auto& total : township.indicator_totals()) {
    totals[total.key()] = total.value();
    EXPECT_EQ(total.villages_reporting(), 21) << total.key();
  }
  EXPECT_EQ(totals["hd_cameras_installed"], 341);
  EXPECT_EQ(totals["grids"], 243);
  EXPECT_EQ(totals["risks_removed"], 20);
  EXPECT_EQ(totals["disputes_mediated"], 13);
  EXPECT_EQ(totals["civilized_families"], 26);
  EXPECT_EQ(totals["star_civilized_households"], 25);
  EXPECT_EQ(totals["moral_models"], 21);
  EXPECT_EQ(totals["civic_activities"], 200);
  EXPECT_EQ(totals["people_trained"], 3382);
  EXPECT_EQ(totals["new_skilled_workers"], 3399);
}

TEST_F(HuicheDemoTest, DistrictAndVillageSummaries) {
  v1::Summary west = SummaryOf(kWest);
  EXPECT_EQ(west.villages(), 3);
  EXPECT_EQ(west.tasks_total(), 30);
  EXPECT_EQ(west.tasks_delivered(), 25);
  EXPECT_DOUBLE_EQ(west.weekly_reporting_compliance(), (12.0 + 11 + 11) / 36);

  v1::GetSummaryRequest request;
  request.set_village_id("411323-huiche-south-05");
  request.set_period("2022-09");
  ASSERT_OK_AND_ASSIGN(v1::Summary village, env_.Summary(request));
  EXPECT_EQ(village.tasks_total(), 6);
  EXPECT_EQ(village.tasks_delivered(), 2);
  EXPECT_DOUBLE_EQ(village.weekly_reporting_compliance(), 6.0 / 12);
}

TEST_F(HuicheDemoTest, TheFiveNamedProjectsOfDangziling) {
  v1::ListProjectsRequest request;
  request.set_village_id(kDangziling);
  ASSERT_OK_AND_ASSIGN(auto projects,
                       env_.ListAllProjects(request, kDangzilingViewerToken));
  ASSERT_EQ(projects.size(), 10u);
  std::map<std::string, v1::Project> by_title;
  for (const auto& project : projects) by_title[project.title_en()] = project;
  struct Named {
    const char* title_en;
    double target;
    const char* unit;
    v1::ProjectStatus status;
  };
  const Named named[] = {
      {"Guanhe east phase 1: riverside south roadbed widening", 780, "m",
       v1::DELIVERED},
      {"Guanhe east phase 1: idle houses revitalised", 11, "houses",
       v1::DELIVERED},
      {"Guanhe east phase 1: study camp boundary survey", 110, "mu",
       v1::DELIVERED},
      {"Badie river subsurface dam: irrigation", 300, "mu", v1::DELIVERED},
      {"Laojundian-Dangziling riverside road", 4000, "m", v1::IN_PROGRESS},
  };
  for (const Named& expected : named) {
    SCOPED_TRACE(expected.title_en);
    auto it = by_title.find(expected.title_en);
    ASSERT_NE(it, by_title.end());
    const v1::Project& project = it->second;
    EXPECT_EQ(project.target_quantity(), expected.target);
    EXPECT_EQ(project.unit(), expected.unit);
    EXPECT_EQ(project.status(), expected.status);
    EXPECT_EQ(project.owner(), "王世平");
    if (expected.status == v1::DELIVERED) {
      EXPECT_EQ(project.delivered_quantity(), expected.target);
    } else {
      EXPECT_EQ(project.delivered_quantity(), 0);  // Surveyed only.
      EXPECT_EQ(project.report_count(), 1);
    }
  }
}

TEST_F(HuicheDemoTest, LoadingAgainChangesNothing) {
  ASSERT_OK_AND_ASSIGN(v1::ImportProjectsResponse again, env_.Import(records_));
  EXPECT_EQ(again.projects_created(), 0);
  EXPECT_EQ(again.projects_updated(), 0);
  EXPECT_EQ(again.projects_unchanged(), 193);
  EXPECT_EQ(again.reports_created(), 0);
  EXPECT_EQ(again.reports_unchanged(), 315);
  // The same values: with the request_id, the original answer; without it,
  // every value is found unchanged.
  ASSERT_OK_AND_ASSIGN(
      auto retried, env_.Call(&Stub::SetIndicatorValues, values_, kAdminToken));
  EXPECT_EQ(retried.created(), 336);
  values_.clear_request_id();
  ASSERT_OK_AND_ASSIGN(
      auto resent, env_.Call(&Stub::SetIndicatorValues, values_, kAdminToken));
  EXPECT_EQ(resent.unchanged(), 336);

  // The change feed holds the first load only: 193 projects, 315 reports,
  // 336 values.
  v1::WatchChangesRequest watch;
  watch.set_after_sequence(193 + 315 + 336);
  auto context = fivestar::testing::NewContext(kViewerToken);
  auto reader = env_.stub().WatchChanges(context.get(), watch);
  reader->WaitForInitialMetadata();
  watch.set_after_sequence(193 + 315 + 336 + 1);
  auto beyond_context = fivestar::testing::NewContext(kViewerToken);
  auto beyond = env_.stub().WatchChanges(beyond_context.get(), watch);
  v1::Change change;
  EXPECT_FALSE(beyond->Read(&change));
  EXPECT_EQ(beyond->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  context->TryCancel();
  reader->Finish();
}

}  // namespace
}  // namespace fivestar::projects
