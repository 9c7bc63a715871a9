// GetSummary's closed-month fast path (village figures kept and added up,
// dropped on writes the change feed names; kept in the database too, and
// deleted there by each write's own transaction) against the straightforward
// computation from the rows, on a seeded random data set: every region and
// some villages, many months, weeks and indicator months, before and after
// writes of every kind that changes a summary. A stale figure would make a
// summary after the writes differ.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
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
using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::MessageDifferencer;

class SummaryCacheTest : public ::testing::Test {
 protected:
  SummaryCacheTest()
      : clock_(Day(2023, 3, 15) + absl::Hours(10)),
        jurisdiction_(&directory_) {}

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_,
                         OpenTestStore(databases_.Get("projects"), &clock_));
    // Keeping every region's figures in the database, however few.
    fast_ = std::make_unique<ProgressSummaries>(
        store_.get(), &jurisdiction_, &clock_,
        ProgressSummaries::kDefaultMaxCachedVillages,
        /*min_villages_kept_in_database=*/1);
    slow_ = std::make_unique<ProgressSummaries>(store_.get(), &jurisdiction_,
                                                &clock_,
                                                /*max_cached_villages=*/0);
    ASSERT_OK(DefineIndicators(
        store_.get(),
        {{"flow_b", v1::FLOW}, {"flow_c", v1::FLOW}, {"stock_a", v1::STOCK}}));
    for (const std::string& village : directory_.villages()) {
      const int projects = Uniform(0, 8);
      for (int i = 0; i < projects; ++i) AddProject(village);
      std::vector<IndicatorWrite> writes;
      for (absl::CivilMonth month(2022, 1); month <= absl::CivilMonth(2023, 3);
           ++month) {
        for (const char* key : {"flow_b", "flow_c", "stock_a"}) {
          if (Uniform(0, 3) == 0) continue;  // Gaps, as real data has.
          writes.push_back(Value(village, key, FormatMonth(month)));
        }
      }
      ASSERT_OK(store_->SetIndicatorValues(writes, RequestKey{}, false));
    }
  }

  int Uniform(int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random_);
  }
  // A quantity with a binary fraction that does not terminate (0.1, 0.3…),
  // so that a sum in another order would differ in the last bits.
  double Quantity(int high) { return Uniform(1, high * 10) / 10.0; }

  IndicatorWrite Value(const std::string& village, const std::string& key,
                       const std::string& period) {
    IndicatorWrite write;
    write.value.set_village_id(village);
    write.value.set_indicator_key(key);
    write.value.set_period(period);
    write.value.set_value(Uniform(1, 100000) / 100.0);
    write.value.set_reporter("fixture");
    write.village_path = directory_.PathOf(village);
    return write;
  }

  // A project starting between 2022-01-01 and 2023-02-28 with up to six
  // reports, some of them cancelled.
  void AddProject(const std::string& village) {
    Project project;
    project.set_village_id(village);
    project.set_title("任务");
    project.set_star(static_cast<Star>(Uniform(1, 5)));
    project.set_target_quantity(Quantity(20));
    project.set_unit("件");
    const absl::CivilDay start = absl::CivilDay(2022, 1, 1) + Uniform(0, 423);
    project.set_start_date(FormatDate(start));
    project.set_due_date(FormatDate(start + Uniform(0, 300)));
    project.set_status(v1::PLANNED);
    ASSERT_OK_AND_ASSIGN(Project stored,
                         store_->CreateProject(project, RequestKey{},
                                               directory_.PathOf(village)));
    const int reports = Uniform(0, 6);
    for (int i = 0; i < reports; ++i) {
      ASSERT_OK_AND_ASSIGN(
          stored, Report(stored, StartOfDay(start) +
                                     absl::Hours(Uniform(0, 24 * 400))));
    }
    if (Uniform(0, 7) == 0 && stored.status() != v1::DELIVERED) {
      ASSERT_OK_AND_ASSIGN(
          stored, Cancel(stored, StartOfDay(start) +
                                     absl::Hours(Uniform(0, 24 * 400))));
    }
  }

  absl::StatusOr<Project> Report(const Project& project, absl::Time time) {
    return StoreReport(store_.get(), project, time, Quantity(8),
                       directory_.PathOf(project.village_id()));
  }
  absl::StatusOr<Project> Cancel(const Project& project, absl::Time time) {
    return StoreCancel(store_.get(), project, time,
                       directory_.PathOf(project.village_id()));
  }

  // Every region and two villages, for every month from 2022-07 to the
  // current one and a spread of weeks and indicator months: the fast path
  // equals the computation from the rows (asked twice, the second time
  // from what was kept). Returns the summaries, keyed by request.
  std::map<std::string, v1::Summary> ExpectSameEverywhere() {
    std::vector<v1::GetSummaryRequest> requests;
    for (absl::CivilMonth month(2022, 7); month <= absl::CivilMonth(2023, 3);
         ++month) {
      for (int weeks : {1, 13}) {
        for (int months : {0, 3, 13}) {
          v1::GetSummaryRequest request;
          request.set_period(FormatMonth(month));
          request.set_weeks(weeks);
          request.set_indicator_months(months);
          for (const std::string& region : directory_.regions()) {
            request.set_region_id(region);
            requests.push_back(request);
          }
          for (const char* village : {"41-c0-t0-v0", "41-c2-t1-v3"}) {
            request.set_village_id(village);
            requests.push_back(request);
          }
        }
      }
    }
    std::map<std::string, v1::Summary> out;
    for (int pass = 0; pass < 2; ++pass) {
      for (const v1::GetSummaryRequest& request : requests) {
        SCOPED_TRACE(request.ShortDebugString());
        absl::StatusOr<v1::Summary> expected =
            slow_->GetSummary(auditor_, request);
        absl::StatusOr<v1::Summary> fast = fast_->GetSummary(auditor_, request);
        // As a process started now would answer: from the figures kept in
        // the database (by fast_, and by the fresh ones before it) and the
        // rows of the villages without.
        ProgressSummaries fresh(store_.get(), &jurisdiction_, &clock_);
        absl::StatusOr<v1::Summary> from_database =
            fresh.GetSummary(auditor_, request);
        EXPECT_OK(expected);
        EXPECT_OK(fast);
        EXPECT_OK(from_database);
        if (!expected.ok() || !fast.ok() || !from_database.ok()) continue;
        EXPECT_TRUE(MessageDifferencer::Equals(*fast, *expected))
            << "fast: " << fast->ShortDebugString()
            << "\nrows: " << expected->ShortDebugString();
        EXPECT_TRUE(MessageDifferencer::Equals(*from_database, *expected))
            << "from the database: " << from_database->ShortDebugString()
            << "\nrows: " << expected->ShortDebugString();
        out[request.ShortDebugString()] = *fast;
      }
    }
    return out;
  }

  ::fivestar::testing::TestDatabases databases_;
  FakeClock clock_;
  MemoryRegionTree directory_;
  Jurisdiction jurisdiction_;
  std::unique_ptr<ProjectsStore> store_;
  std::unique_ptr<ProgressSummaries> fast_;
  std::unique_ptr<ProgressSummaries> slow_;
  std::mt19937 random_{20221008};
  const Principal auditor_{"auditor", Role::kViewer, "*"};
};

TEST_F(SummaryCacheTest, KeptFiguresAddUpToTheRowsBeforeAndAfterWrites) {
  const std::map<std::string, v1::Summary> before = ExpectSameEverywhere();

  // Writes of every kind into closed months, on a few villages.
  ProjectQuery query;
  query.village_ids = std::vector<std::string>{"41-c1-t0-v2"};
  ASSERT_OK_AND_ASSIGN(std::vector<Project> projects,
                       store_->ListProjects(query));
  ASSERT_FALSE(projects.empty());
  // A backdated report, a cancellation, a new project, a deletion.
  ASSERT_OK(Report(projects.front(), Day(2022, 8, 20)).status());
  AddProject("41-c0-t1-v1");
  for (const Project& other : projects) {
    if (other.id() != projects.front().id() &&
        other.status() != v1::CANCELLED && other.status() != v1::DELIVERED) {
      ASSERT_OK(Cancel(other, Day(2022, 7, 2)).status());
      break;
    }
  }
  Project empty;
  empty.set_village_id("41-c2-t0-v0");
  empty.set_title("删");
  empty.set_star(fivestar::common::v1::ECO_LIVABLE);
  empty.set_target_quantity(3);
  empty.set_unit("件");
  empty.set_start_date("2022-06-01");
  empty.set_due_date("2022-06-02");
  empty.set_status(v1::PLANNED);
  ASSERT_OK_AND_ASSIGN(Project doomed,
                       store_->CreateProject(empty, RequestKey{},
                                             directory_.PathOf("41-c2-t0-v0")));
  const std::map<std::string, v1::Summary> with_doomed = ExpectSameEverywhere();
  ASSERT_OK(
      store_->DeleteProject(doomed.id(), "", directory_.PathOf("41-c2-t0-v0")));
  // New and changed indicator values in past months.
  ASSERT_OK(
      store_->SetIndicatorValues({Value("41-c0-t0-v0", "flow_b", "2022-09"),
                                  Value("41-c2-t1-v3", "stock_a", "2022-12"),
                                  Value("41-c1-t1-v0", "flow_c", "2023-01")},
                                 RequestKey{}, false));
  const std::map<std::string, v1::Summary> after = ExpectSameEverywhere();
  // The writes did change summaries the fast path had kept: a stale figure
  // would have failed the comparison above.
  int changed = 0;
  for (const auto& [request, summary] : after) {
    if (!MessageDifferencer::Equals(summary, before.at(request))) ++changed;
  }
  EXPECT_GT(changed, 100);

  // A definition's kind changes (no change-feed entry): kinds are read on
  // every call.
  ASSERT_OK_AND_ASSIGN(IndicatorDefinition stock,
                       store_->GetIndicatorDefinition("stock_a"));
  stock.set_kind(v1::FLOW);
  ASSERT_OK(store_->UpdateIndicatorDefinition(stock, stock.etag()));
  ExpectSameEverywhere();
}

TEST_F(SummaryCacheTest, AFreshServiceOnAnOlderDatabaseSeesLaterWrites) {
  // Figures kept, then a write through another store on the same database (as
  // another process, or an import, would write): the next summary sees it.
  v1::GetSummaryRequest request;
  request.set_region_id("41-c1");
  request.set_period("2022-10");
  ASSERT_OK_AND_ASSIGN(v1::Summary first, fast_->GetSummary(auditor_, request));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ProjectsStore> other,
                       OpenTestStore(databases_.Get("projects"), &clock_));
  ASSERT_OK(other->SetIndicatorValues(
      {Value("41-c1-t1-v3", "flow_b", "2022-10")}, RequestKey{}, false));
  ASSERT_OK_AND_ASSIGN(v1::Summary second,
                       fast_->GetSummary(auditor_, request));
  ASSERT_OK_AND_ASSIGN(v1::Summary expected,
                       slow_->GetSummary(auditor_, request));
  EXPECT_TRUE(MessageDifferencer::Equals(second, expected));
  EXPECT_FALSE(MessageDifferencer::Equals(first, second));
}

TEST_F(SummaryCacheTest, KeptFiguresThatDoNotParseAreDataLossNamingTheVillage) {
  // Bytes in the database that are not figures (a damaged file, a bug):
  // the summary fails by name rather than add up garbage.
  ASSERT_OK_AND_ASSIGN(const uint64_t seen, store_->NewestSequence());
  absl::Notification written;
  store_->KeepFiguresAsync("2022-10|12|1", seen, {{"41-c1-t0-v2", "\xff\xff"}},
                           [&](absl::Status status) {
                             EXPECT_OK(status);
                             written.Notify();
                           });
  written.WaitForNotification();
  ProgressSummaries fresh(store_.get(), &jurisdiction_, &clock_);
  v1::GetSummaryRequest request;
  request.set_village_id("41-c1-t0-v2");
  request.set_period("2022-10");
  EXPECT_THAT(fresh.GetSummary(auditor_, request),
              StatusIs(absl::StatusCode::kDataLoss,
                       "the kept summary figures of village 41-c1-t0-v2 do "
                       "not parse"));
  // Another window of the village is not touched.
  request.set_weeks(4);
  EXPECT_OK(fresh.GetSummary(auditor_, request));
}

}  // namespace
}  // namespace fivestar::projects
