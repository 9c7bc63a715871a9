// GetSummary's kept region sums (a region's closed-month summary reused
// while its villages, the indicator kinds and the feed are unchanged) and
// the village figures ListVillageSummaries keeps, against the computation
// from the rows: on a seeded random data set through rounds of random
// writes of every kind and moves of regions in the directory, and, for a
// few writes, the exact change they make to the very next summary.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/calendar.h"
#include "common/change_feed.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "common/registry_client/village_directory.h"
#include "services/projects/progress_summaries.h"
#include "services/projects/project_tracker.h"
#include "tests/projects/memory_region_tree.h"
#include "tests/projects/test_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace fivestar::projects {
namespace {

using ::fivestar::projects::testing::Day;
using ::fivestar::projects::testing::DefineIndicators;
using ::fivestar::projects::testing::MemoryRegionTree;
using ::fivestar::projects::testing::OpenTestStore;
using ::fivestar::projects::testing::StoreCancel;
using ::fivestar::projects::testing::StoreReport;
using ::google::protobuf::util::MessageDifferencer;

class RegionSumTest : public ::testing::Test {
 protected:
  RegionSumTest()
      : clock_(Day(2023, 3, 15) + absl::Hours(10)), jurisdiction_(&tree_) {}

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_,
                         OpenTestStore(databases_.Get("projects"), &clock_));
    kept_ = std::make_unique<ProgressSummaries>(store_.get(), &jurisdiction_,
                                                &clock_);
    rows_ = std::make_unique<ProgressSummaries>(store_.get(), &jurisdiction_,
                                                &clock_,
                                                /*max_cached_villages=*/0);
    ASSERT_OK(DefineIndicators(store_.get(),
                               {{"flow_b", v1::FLOW}, {"stock_a", v1::STOCK}}));
    for (const std::string& village : tree_.villages()) {
      for (int i = Uniform(0, 6); i > 0; --i) ASSERT_OK(AddProject(village));
      for (int i = 0; i < 6; ++i) ASSERT_OK(SetRandomValue(village));
    }
  }

  int Uniform(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random_);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& from) {
    return from[Uniform(0, static_cast<int>(from.size()) - 1)];
  }
  // Quantities like 0.1 and 0.3, whose sums depend on their order.
  double Quantity(int high) { return Uniform(1, high * 10) / 10.0; }
  // An instant between 2022-05-01 and 2023-03-14.
  absl::Time PastTime() {
    return Day(2022, 5, 1) + absl::Hours(Uniform(0, 24 * 317));
  }

  // A project of `village` nothing has reported on yet.
  absl::StatusOr<Project> NewProject(const std::string& village,
                                     absl::CivilDay start, absl::CivilDay due,
                                     double target) {
    Project project;
    project.set_village_id(village);
    project.set_title("任务");
    project.set_star(static_cast<Star>(Uniform(1, 5)));
    project.set_target_quantity(target);
    project.set_unit("件");
    project.set_start_date(FormatDate(start));
    project.set_due_date(FormatDate(due));
    project.set_status(v1::PLANNED);
    return store_->CreateProject(project, RequestKey{}, tree_.PathOf(village));
  }

  // A project starting between 2022-05-01 and 2023-02-25 with up to four
  // reports.
  absl::StatusOr<Project> AddProject(const std::string& village) {
    const absl::CivilDay start = absl::CivilDay(2022, 5, 1) + Uniform(0, 300);
    ASSIGN_OR_RETURN(
        Project stored,
        NewProject(village, start, start + Uniform(0, 200), Quantity(12)));
    for (int i = Uniform(0, 4); i > 0; --i) {
      ASSIGN_OR_RETURN(stored, Report(stored, PastTime(), Quantity(5)));
    }
    return stored;
  }

  absl::StatusOr<Project> Report(const Project& project, absl::Time time,
                                 double quantity) {
    return StoreReport(store_.get(), project, time, quantity,
                       tree_.PathOf(project.village_id()));
  }
  absl::StatusOr<Project> Cancel(const Project& project, absl::Time time) {
    return StoreCancel(store_.get(), project, time,
                       tree_.PathOf(project.village_id()));
  }

  absl::Status SetRandomValue(const std::string& village) {
    IndicatorWrite write;
    write.value.set_village_id(village);
    write.value.set_indicator_key(Uniform(0, 1) == 0 ? "flow_b" : "stock_a");
    write.value.set_period(
        FormatMonth(absl::CivilMonth(2022, 5) + Uniform(0, 10)));
    write.value.set_value(Uniform(1, 100000) / 100.0);
    write.value.set_reporter("fixture");
    write.village_path = tree_.PathOf(village);
    return store_->SetIndicatorValues({write}, RequestKey{}, false).status();
  }

  std::vector<Project> ProjectsOf(const std::string& village) {
    ProjectQuery query;
    query.village_ids = std::vector<std::string>{village};
    absl::StatusOr<std::vector<Project>> projects = store_->ListProjects(query);
    EXPECT_OK(projects);
    return projects.ok() ? *projects : std::vector<Project>{};
  }

  // One write of a random kind into a random village, mostly into closed
  // months; or a township moved to another county.
  void RandomWrite() {
    const std::string village = Pick(tree_.villages());
    std::vector<Project> projects = ProjectsOf(village);
    switch (Uniform(0, 7)) {
      case 0:
        ASSERT_OK(AddProject(village).status());
        return;
      case 1:
        if (!projects.empty()) {
          ASSERT_OK(Report(Pick(projects), PastTime(), Quantity(6)).status());
        }
        return;
      case 2:
        if (!projects.empty()) {
          const Project& project = Pick(projects);
          if (project.status() != v1::CANCELLED &&
              project.status() != v1::DELIVERED) {
            ASSERT_OK(Cancel(project, PastTime()).status());
          }
        }
        return;
      case 3:
        if (!projects.empty()) {
          Project changed = Pick(projects);
          changed.set_due_date(
              FormatDate(absl::CivilDay(2022, 6, 1) + Uniform(0, 250)));
          changed.set_target_quantity(Quantity(12));
          ASSERT_OK(store_
                        ->UpdateProject(changed, changed.etag(),
                                        tree_.PathOf(village))
                        .status());
        }
        return;
      case 4:
        // A project with reports cannot be deleted.
        for (const Project& project : projects) {
          if (project.report_count() == 0) {
            ASSERT_OK(
                store_->DeleteProject(project.id(), "", tree_.PathOf(village)));
            break;
          }
        }
        return;
      case 5: {
        const std::string township =
            absl::StrFormat("41-c%d-t%d", Uniform(0, 2), Uniform(0, 1));
        tree_.Move(township, absl::StrFormat("41-c%d", Uniform(0, 2)));
        return;
      }
      case 6: {
        ASSERT_OK_AND_ASSIGN(IndicatorDefinition stock,
                             store_->GetIndicatorDefinition("stock_a"));
        stock.set_kind(stock.kind() == v1::STOCK ? v1::FLOW : v1::STOCK);
        ASSERT_OK(store_->UpdateIndicatorDefinition(stock, stock.etag()));
        return;
      }
      default:
        ASSERT_OK(SetRandomValue(village));
        return;
    }
  }

  v1::GetSummaryRequest RegionRequest(const std::string& region,
                                      const std::string& period, int weeks = 0,
                                      int indicator_months = 0) {
    v1::GetSummaryRequest request;
    request.set_region_id(region);
    request.set_period(period);
    request.set_weeks(weeks);
    request.set_indicator_months(indicator_months);
    return request;
  }

  // The summary from what `kept_` keeps equals the one from the rows.
  v1::Summary ExpectSame(const v1::GetSummaryRequest& request) {
    SCOPED_TRACE(request.ShortDebugString());
    absl::StatusOr<v1::Summary> expected = rows_->GetSummary(auditor_, request);
    absl::StatusOr<v1::Summary> kept = kept_->GetSummary(auditor_, request);
    EXPECT_OK(expected);
    EXPECT_OK(kept);
    if (!expected.ok() || !kept.ok()) return v1::Summary();
    EXPECT_TRUE(MessageDifferencer::Equals(*kept, *expected))
        << "kept: " << kept->ShortDebugString()
        << "\nrows: " << expected->ShortDebugString();
    return *kept;
  }

  // Every village summary of `region` listed by `kept_` (which keeps their
  // figures) equals that village's summary from the rows.
  void ExpectListedSame(const std::string& region, const std::string& period,
                        int weeks) {
    v1::ListVillageSummariesRequest request;
    request.set_region_id(region);
    request.set_period(period);
    request.set_weeks(weeks);
    request.set_page_size(3);
    do {
      ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse page,
                           kept_->ListVillageSummaries(auditor_, request));
      for (const v1::Summary& listed : page.summaries()) {
        v1::GetSummaryRequest single;
        single.set_village_id(listed.village_id());
        single.set_period(period);
        single.set_weeks(weeks);
        ASSERT_OK_AND_ASSIGN(v1::Summary expected,
                             rows_->GetSummary(auditor_, single));
        EXPECT_TRUE(MessageDifferencer::Equals(listed, expected))
            << listed.ShortDebugString();
      }
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
  }

  ::fivestar::testing::TestDatabases databases_;
  FakeClock clock_;
  MemoryRegionTree tree_;
  Jurisdiction jurisdiction_;
  std::unique_ptr<ProjectsStore> store_;
  std::unique_ptr<ProgressSummaries> kept_;
  std::unique_ptr<ProgressSummaries> rows_;
  std::mt19937 random_{20221009};
  const Principal auditor_{"auditor", Role::kViewer, "*"};
};

TEST_F(RegionSumTest, KeptSumsEqualTheRowsThroughRandomWritesAndMoves) {
  const std::vector<std::string> periods = {"2022-08", "2022-11", "2023-02"};
  int changed = 0;
  std::map<std::string, v1::Summary> last;
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // Some rounds list a region's village summaries first, which keeps
    // their figures for the region sums below.
    if (round % 3 == 0) {
      ExpectListedSame(Pick(tree_.regions()), Pick(periods), 12);
    }
    for (const std::string& period : periods) {
      for (const std::string& region : tree_.regions()) {
        // Asked twice: the second answer is the kept sum.
        for (int again = 0; again < 2; ++again) {
          const v1::GetSummaryRequest request =
              RegionRequest(region, period, again == 0 ? 0 : 12);
          const v1::Summary summary = ExpectSame(request);
          const std::string key = request.ShortDebugString();
          if (last.count(key) > 0 &&
              !MessageDifferencer::Equals(last[key], summary)) {
            ++changed;
          }
          last[key] = summary;
        }
      }
      ExpectSame(RegionRequest("41", period, 5, 4));
    }
    for (int writes = Uniform(1, 3); writes > 0; --writes) RandomWrite();
  }
  // The writes did change sums that had been kept: a stale sum would have
  // failed a comparison above.
  EXPECT_GT(changed, 100);
}

TEST_F(RegionSumTest, AReportIntoAKeptMonthShowsInTheNextSummary) {
  const std::string village = "41-c1-t0-v2";
  // A project due after 2022-10 that nothing has reported on.
  ASSERT_OK_AND_ASSIGN(Project stored,
                       NewProject(village, absl::CivilDay(2022, 10, 3),
                                  absl::CivilDay(2022, 12, 31), 2));
  const v1::GetSummaryRequest request = RegionRequest("41-c1", "2022-10");
  ExpectSame(request);
  const v1::Summary before = ExpectSame(request);  // The kept sum.

  ASSERT_OK_AND_ASSIGN(stored, Report(stored, Day(2022, 10, 20), 2));
  const v1::Summary after = ExpectSame(request);
  EXPECT_EQ(after.tasks_total(), before.tasks_total());
  EXPECT_EQ(after.tasks_delivered(), before.tasks_delivered() + 1);
  EXPECT_EQ(after.tasks_planned(), before.tasks_planned() - 1);

  ASSERT_OK(Cancel(stored, Day(2022, 10, 25)).status());
  const v1::Summary cancelled = ExpectSame(request);
  EXPECT_EQ(cancelled.tasks_cancelled(), after.tasks_cancelled() + 1);
  EXPECT_EQ(cancelled.tasks_delivered(), after.tasks_delivered() - 1);

  // The province's kept sum moves with it too.
  const v1::GetSummaryRequest province = RegionRequest("41", "2022-10");
  ExpectSame(province);
  const v1::Summary province_before = ExpectSame(province);
  ASSERT_OK(NewProject("41-c2-t0-v1", absl::CivilDay(2022, 10, 5),
                       absl::CivilDay(2022, 10, 9), 1)
                .status());
  const v1::Summary province_after = ExpectSame(province);
  EXPECT_EQ(province_after.tasks_total(), province_before.tasks_total() + 1);
  EXPECT_EQ(province_after.tasks_planned(),
            province_before.tasks_planned() + 1);
  EXPECT_EQ(province_after.tasks_overdue(),
            province_before.tasks_overdue() + 1);
}

TEST_F(RegionSumTest, ATownshipMovedToAnotherCountyLeavesItsOldSum) {
  const v1::GetSummaryRequest from = RegionRequest("41-c0", "2022-12");
  const v1::GetSummaryRequest to = RegionRequest("41-c2", "2022-12");
  ExpectSame(from);
  ExpectSame(to);
  const v1::Summary from_before = ExpectSame(from);
  const v1::Summary to_before = ExpectSame(to);
  EXPECT_EQ(from_before.villages(), 8);
  EXPECT_EQ(to_before.villages(), 8);

  tree_.Move("41-c0-t1", "41-c2");
  const v1::Summary from_after = ExpectSame(from);
  const v1::Summary to_after = ExpectSame(to);
  EXPECT_EQ(from_after.villages(), 4);
  EXPECT_EQ(to_after.villages(), 12);
  // The tasks went with the township.
  EXPECT_EQ(from_after.tasks_total() + to_after.tasks_total(),
            from_before.tasks_total() + to_before.tasks_total());
}

TEST_F(RegionSumTest, FiguresKeptByAListAreDroppedByALaterWrite) {
  // The list keeps every village's figures of the window; a write after it
  // must still show in the region's summary.
  ExpectListedSame("41", "2022-09", 12);
  const v1::GetSummaryRequest request = RegionRequest("41", "2022-09", 12);
  const v1::Summary before = ExpectSame(request);
  ASSERT_OK(NewProject("41-c2-t1-v3", absl::CivilDay(2022, 9, 1),
                       absl::CivilDay(2022, 11, 1), 5)
                .status());
  IndicatorWrite write;
  write.value.set_village_id("41-c0-t0-v0");
  write.value.set_indicator_key("flow_b");
  write.value.set_period("2022-09");
  write.value.set_value(1234.5);
  write.value.set_reporter("fixture");
  write.village_path = tree_.PathOf("41-c0-t0-v0");
  ASSERT_OK(store_->SetIndicatorValues({write}, RequestKey{}, false));
  const v1::Summary after = ExpectSame(request);
  EXPECT_EQ(after.tasks_total(), before.tasks_total() + 1);
  EXPECT_EQ(after.tasks_planned(), before.tasks_planned() + 1);
  EXPECT_FALSE(MessageDifferencer::Equals(before, after));
}

}  // namespace
}  // namespace fivestar::projects
