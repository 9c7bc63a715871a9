// ListVillageSummaries over gRPC on the Huiche data (its 193 practical
// tasks with their weekly reports, and indicator values for 2022-08 and
// 2022-09): each village's summary equals GetSummary of that village,
// paging walks the villages in id order with tokens bound to the request,
// bad input names its field, scoped viewers see only their subtree, and a
// page is read from the store in a fixed number of queries whatever its
// size.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/check.h"
#include "common/peer_client.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::MessageDifferencer;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

constexpr char kCounty[] = "411323";  // Huiche's 21 villages and one other.

// The 21 villages of Huiche in id order, as the registry holds them.
std::vector<std::string> HuicheVillages() {
  std::vector<std::string> ids;
  for (const auto& [district, count] :
       std::vector<std::pair<std::string, int>>{{"east", 4},
                                                {"middle", 5},
                                                {"north", 4},
                                                {"south", 5},
                                                {"west", 3}}) {
    for (int i = 1; i <= count; ++i) {
      ids.push_back(absl::StrCat(kHuiche, "-", district, "-0", i));
    }
  }
  return ids;
}

v1::ListVillageSummariesRequest Request(const std::string& region,
                                        const std::string& period,
                                        int page_size = 0) {
  v1::ListVillageSummariesRequest request;
  request.set_region_id(region);
  request.set_period(period);
  request.set_page_size(page_size);
  return request;
}

// A store that counts the calls made to it and hands them on.
class CountingStore final : public ProjectsStore {
 public:
  explicit CountingStore(ProjectsStore* inner) : inner_(inner) {}

  // Calls per method since the last Reset().
  const std::map<std::string, int>& calls() const { return calls_; }
  int total() const {
    int sum = 0;
    for (const auto& [method, count] : calls_) sum += count;
    return sum;
  }
  void Reset() { calls_.clear(); }

  void SetCommitObserver(std::function<void(uint64_t)> observer) override {
    inner_->SetCommitObserver(std::move(observer));
  }
  absl::StatusOr<Project> GetProject(const std::string& id) override {
    return Count("GetProject")->GetProject(id);
  }
  absl::StatusOr<std::pair<Project, std::string>> FindProjectByRequest(
      const std::string& request_id) override {
    return Count("FindProjectByRequest")->FindProjectByRequest(request_id);
  }
  absl::StatusOr<std::vector<Project>> ListProjects(
      const ProjectQuery& query) override {
    return Count("ListProjects")->ListProjects(query);
  }
  absl::StatusOr<Project> CreateProject(
      const Project& project, const RequestKey& key,
      const std::string& village_path) override {
    return Count("CreateProject")->CreateProject(project, key, village_path);
  }
  absl::StatusOr<Project> UpdateProject(
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) override {
    return Count("UpdateProject")
        ->UpdateProject(project, expected_etag, village_path);
  }
  absl::Status DeleteProject(const std::string& id,
                             const std::string& expected_etag,
                             const std::string& village_path) override {
    return Count("DeleteProject")
        ->DeleteProject(id, expected_etag, village_path);
  }
  absl::StatusOr<AppendedReport> AppendReport(
      const ProgressReport& report, const RequestKey& key,
      const Project& project, const std::string& expected_etag,
      const std::string& village_path) override {
    return Count("AppendReport")
        ->AppendReport(report, key, project, expected_etag, village_path);
  }
  absl::StatusOr<std::pair<ProgressReport, std::string>> FindReportByRequest(
      const std::string& request_id) override {
    return Count("FindReportByRequest")->FindReportByRequest(request_id);
  }
  absl::StatusOr<std::vector<RecordedReport>> ListReports(
      const std::string& project_id, int64_t after_position,
      int limit) override {
    return Count("ListReports")->ListReports(project_id, after_position, limit);
  }
  absl::StatusOr<std::optional<absl::Time>> EarliestReportTime(
      const std::string& project_id) override {
    return Count("EarliestReportTime")->EarliestReportTime(project_id);
  }
  absl::StatusOr<IndicatorDefinition> GetIndicatorDefinition(
      const std::string& key) override {
    return Count("GetIndicatorDefinition")->GetIndicatorDefinition(key);
  }
  absl::StatusOr<std::vector<IndicatorDefinition>> ListIndicatorDefinitions(
      const std::string& after_key, int limit) override {
    return Count("ListIndicatorDefinitions")
        ->ListIndicatorDefinitions(after_key, limit);
  }
  absl::StatusOr<IndicatorDefinition> CreateIndicatorDefinition(
      const IndicatorDefinition& definition) override {
    return Count("CreateIndicatorDefinition")
        ->CreateIndicatorDefinition(definition);
  }
  absl::StatusOr<IndicatorDefinition> UpdateIndicatorDefinition(
      const IndicatorDefinition& definition,
      const std::string& expected_etag) override {
    return Count("UpdateIndicatorDefinition")
        ->UpdateIndicatorDefinition(definition, expected_etag);
  }
  absl::StatusOr<int> InsertIndicatorDefinitionsIfAbsent(
      const std::vector<IndicatorDefinition>& definitions) override {
    return Count("InsertIndicatorDefinitionsIfAbsent")
        ->InsertIndicatorDefinitionsIfAbsent(definitions);
  }
  absl::StatusOr<v1::SetIndicatorValuesResponse> SetIndicatorValues(
      const std::vector<IndicatorWrite>& writes, const RequestKey& key,
      bool dry_run) override {
    return Count("SetIndicatorValues")
        ->SetIndicatorValues(writes, key, dry_run);
  }
  absl::StatusOr<std::pair<v1::SetIndicatorValuesResponse, std::string>>
  FindValueRequest(const std::string& request_id) override {
    return Count("FindValueRequest")->FindValueRequest(request_id);
  }
  absl::StatusOr<std::vector<IndicatorValue>> ListIndicatorValues(
      const IndicatorValueQuery& query) override {
    return Count("ListIndicatorValues")->ListIndicatorValues(query);
  }
  absl::StatusOr<std::vector<TaskSnapshot>> SnapshotTasks(
      const std::optional<std::vector<std::string>>& village_ids,
      absl::Time as_of, const std::string& as_of_day) override {
    return Count("SnapshotTasks")->SnapshotTasks(village_ids, as_of, as_of_day);
  }
  absl::StatusOr<std::vector<std::pair<std::string, int>>> CountReportingWeeks(
      const std::vector<std::string>& village_ids, absl::Time as_of,
      int weeks) override {
    return Count("CountReportingWeeks")
        ->CountReportingWeeks(village_ids, as_of, weeks);
  }
  absl::StatusOr<std::vector<KeptFigures>> ReadKeptFigures(
      const std::string& window,
      const std::vector<std::string>& village_ids) override {
    return Count("ReadKeptFigures")->ReadKeptFigures(window, village_ids);
  }
  void KeepFiguresAsync(const std::string& window, uint64_t seen,
                        std::vector<KeptFigures> figures,
                        std::function<void(absl::Status)> done) override {
    {
      absl::MutexLock lock(&mu_);
      ++keeps_pending_;
    }
    Count("KeepFiguresAsync")
        ->KeepFiguresAsync(window, seen, std::move(figures),
                           [this, done = std::move(done)](absl::Status status) {
                             EXPECT_OK(status);
                             done(std::move(status));
                             absl::MutexLock lock(&mu_);
                             --keeps_pending_;
                           });
  }
  // Waits until every KeepFiguresAsync call has finished its write.
  void AwaitKeeps() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &keeps_pending_));
  }
  absl::Status ApplyImport(
      const std::vector<ImportedProject>& projects) override {
    return Count("ApplyImport")->ApplyImport(projects);
  }
  absl::StatusOr<std::string> FeedId() override {
    return Count("FeedId")->FeedId();
  }
  absl::StatusOr<uint64_t> NewestSequence() override {
    return Count("NewestSequence")->NewestSequence();
  }
  absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) override {
    return Count("ReadChanges")
        ->ReadChanges(after_sequence, path_components, limit);
  }

 private:
  ProjectsStore* Count(const std::string& method) {
    ++calls_[method];
    return inner_;
  }

  ProjectsStore* inner_;
  std::map<std::string, int> calls_;
  absl::Mutex mu_;
  int keeps_pending_ ABSL_GUARDED_BY(mu_) = 0;
};

class VillageSummariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(v1::ImportProjectsResponse imported,
                         env_.Import(ReadNdjson<v1::ProjectRecord>(
                             SourcePath("data/huiche/projects.ndjson"))));
    ASSERT_EQ(imported.projects_created(), 193);
    // September as the article has it, and an August with half of each
    // value for two villages in three, so that several months aggregate.
    v1::SetIndicatorValuesRequest values;
    int line = 0;
    for (v1::IndicatorValue& value : ReadNdjson<v1::IndicatorValue>(
             SourcePath("data/huiche/indicators.ndjson"))) {
      if (++line % 3 != 0) {
        v1::IndicatorValue* august = values.add_values();
        *august = value;
        august->set_period("2022-08");
        august->set_value(std::floor(value.value() / 2));
      }
      *values.add_values() = std::move(value);
    }
    ASSERT_OK(env_.Call(&Stub::SetIndicatorValues, values, kAdminToken));
  }

  absl::StatusOr<v1::ListVillageSummariesResponse> List(
      const v1::ListVillageSummariesRequest& request,
      const std::string& token = kAdminToken) {
    return env_.Call(&Stub::ListVillageSummaries, request, token);
  }

  // Every page of `request`; `pages` counts the calls.
  std::vector<v1::Summary> ListAll(v1::ListVillageSummariesRequest request,
                                   int* pages = nullptr,
                                   const std::string& token = kAdminToken) {
    std::vector<v1::Summary> out;
    for (int page = 1; page <= 100; ++page) {
      absl::StatusOr<v1::ListVillageSummariesResponse> response =
          List(request, token);
      EXPECT_OK(response);
      if (!response.ok()) break;
      for (const v1::Summary& summary : response->summaries()) {
        out.push_back(summary);
      }
      if (pages != nullptr) *pages = page;
      if (response->next_page_token().empty()) break;
      request.set_page_token(response->next_page_token());
    }
    return out;
  }

  static std::vector<std::string> VillageIds(
      const std::vector<v1::Summary>& summaries) {
    std::vector<std::string> ids;
    for (const v1::Summary& summary : summaries) {
      ids.push_back(summary.village_id());
    }
    return ids;
  }

  ProjectsTestEnv env_;
};

TEST_F(VillageSummariesTest, EachVillageEqualsItsGetSummary) {
  std::vector<std::string> county = HuicheVillages();
  county.push_back(kOtherVillage);  // No tasks, no values.
  struct Variant {
    std::string period;
    int weeks;
    int indicator_months;
  };
  // Past months end at the month's last instant; the current month (the
  // clock says 2022-10-08) ends now.
  for (const Variant& variant : std::vector<Variant>{{"2022-09", 0, 0},
                                                     {"2022-09", 4, 2},
                                                     {"2022-08", 104, 120},
                                                     {"2022-10", 1, 3}}) {
    SCOPED_TRACE(absl::StrCat(variant.period, " weeks ", variant.weeks,
                              " indicator_months ", variant.indicator_months));
    v1::ListVillageSummariesRequest request =
        Request(kCounty, variant.period, 1000);
    request.set_weeks(variant.weeks);
    request.set_indicator_months(variant.indicator_months);
    ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse page, List(request));
    EXPECT_EQ(page.next_page_token(), "");
    std::vector<v1::Summary> summaries(page.summaries().begin(),
                                       page.summaries().end());
    ASSERT_EQ(VillageIds(summaries), county);
    for (const v1::Summary& summary : summaries) {
      v1::GetSummaryRequest single;
      single.set_village_id(summary.village_id());
      single.set_period(variant.period);
      single.set_weeks(variant.weeks);
      single.set_indicator_months(variant.indicator_months);
      ASSERT_OK_AND_ASSIGN(v1::Summary expected, env_.Summary(single));
      EXPECT_TRUE(MessageDifferencer::Equals(summary, expected))
          << "ListVillageSummaries:\n"
          << summary.DebugString() << "GetSummary:\n"
          << expected.DebugString();
    }
  }
}

TEST_F(VillageSummariesTest, VillageFiguresAddUpToTheArticlesTownship) {
  std::vector<v1::Summary> summaries =
      ListAll(Request(kHuiche, "2022-09", 1000));
  ASSERT_EQ(summaries.size(), 21u);
  int64_t total = 0, delivered = 0;
  double reporting_weeks = 0;
  std::map<std::string, double> indicators;
  for (const v1::Summary& summary : summaries) {
    EXPECT_EQ(summary.region_id(), "");
    EXPECT_EQ(summary.villages(), 1);
    EXPECT_EQ(summary.period(), "2022-09");
    EXPECT_EQ(summary.weeks(), 12);
    EXPECT_EQ(summary.indicator_months(), 1);
    EXPECT_EQ(summary.completion_by_star_size(), 5);
    EXPECT_GT(summary.tasks_total(), 0) << summary.village_id();
    total += summary.tasks_total();
    delivered += summary.tasks_delivered();
    reporting_weeks += summary.weekly_reporting_compliance() * 12;
    for (const v1::IndicatorTotal& indicator : summary.indicator_totals()) {
      EXPECT_EQ(indicator.villages_reporting(), 1);
      indicators[indicator.key()] += indicator.value();
    }
  }
  EXPECT_EQ(total, 193);
  EXPECT_EQ(delivered, 145);
  EXPECT_NEAR(reporting_weeks, 210, 1e-9);
  EXPECT_EQ(indicators["hd_cameras_installed"], 341);
  EXPECT_EQ(indicators["people_trained"], 3382);

  // Two months: stocks take September's (the latest), flows add August's.
  v1::ListVillageSummariesRequest request = Request(kHuiche, "2022-09", 1000);
  request.set_indicator_months(2);
  std::map<std::string, double> two_months;
  for (const v1::Summary& summary : ListAll(request)) {
    for (const v1::IndicatorTotal& indicator : summary.indicator_totals()) {
      two_months[indicator.key()] += indicator.value();
    }
  }
  EXPECT_EQ(two_months["hd_cameras_installed"], 341);
  EXPECT_GT(two_months["people_trained"], 3382);
}

TEST_F(VillageSummariesTest, PagesWalkTheVillagesInIdOrder) {
  const std::vector<v1::Summary> whole =
      ListAll(Request(kHuiche, "2022-09", 1000));
  ASSERT_EQ(VillageIds(whole), HuicheVillages());

  for (const auto& [page_size, expected_pages] :
       std::vector<std::pair<int, int>>{{1, 21}, {7, 3}, {0, 1}, {1000, 1}}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    int pages = 0;
    const std::vector<v1::Summary> paged =
        ListAll(Request(kHuiche, "2022-09", page_size), &pages);
    EXPECT_EQ(pages, expected_pages);
    ASSERT_EQ(paged.size(), whole.size());
    for (size_t i = 0; i < paged.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(paged[i], whole[i]))
          << paged[i].village_id();
    }
  }

  // Exact pages of 7: the last one has no token.
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse first,
                       List(Request(kHuiche, "2022-09", 7)));
  ASSERT_EQ(first.summaries_size(), 7);
  EXPECT_EQ(first.summaries(0).village_id(), "411323-huiche-east-01");
  EXPECT_EQ(first.summaries(6).village_id(), "411323-huiche-middle-03");
  ASSERT_NE(first.next_page_token(), "");
  v1::ListVillageSummariesRequest request = Request(kHuiche, "2022-09", 7);
  request.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse second, List(request));
  ASSERT_EQ(second.summaries_size(), 7);
  EXPECT_EQ(second.summaries(0).village_id(), "411323-huiche-middle-04");
  EXPECT_EQ(second.summaries(6).village_id(), "411323-huiche-south-01");
  request.set_page_token(second.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse third, List(request));
  ASSERT_EQ(third.summaries_size(), 7);
  EXPECT_EQ(third.summaries(0).village_id(), "411323-huiche-south-02");
  EXPECT_EQ(third.summaries(6).village_id(), "411323-huiche-west-03");
  EXPECT_EQ(third.next_page_token(), "");

  // The page size may change between pages; the rest follows on.
  request.set_page_token(first.next_page_token());
  request.set_page_size(1000);
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse rest, List(request));
  EXPECT_EQ(rest.summaries_size(), 14);
  EXPECT_EQ(rest.next_page_token(), "");

  // A region with fewer villages than a page, and a village-less end.
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse west,
                       List(Request(kWest, "2022-09", 3)));
  EXPECT_EQ(VillageIds({west.summaries().begin(), west.summaries().end()}),
            (std::vector<std::string>{kDangziling, kDougou,
                                      "411323-huiche-west-03"}));
  EXPECT_EQ(west.next_page_token(), "");
}

TEST_F(VillageSummariesTest, TokenIsBoundToTheRestOfTheRequest) {
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse first,
                       List(Request(kHuiche, "2022-09", 7)));
  const std::string token = first.next_page_token();
  ASSERT_NE(token, "");
  const auto with_token = [&](v1::ListVillageSummariesRequest request) {
    request.set_page_token(token);
    return List(request);
  };
  const char kOtherFilters[] =
      "page_token: was issued for a request with other filters; keep them "
      "unchanged between pages";
  EXPECT_THAT(with_token(Request(kHuiche, "2022-08", 7)),
              StatusIs(absl::StatusCode::kInvalidArgument, kOtherFilters));
  EXPECT_THAT(with_token(Request(kWest, "2022-09", 7)),
              StatusIs(absl::StatusCode::kInvalidArgument, kOtherFilters));
  v1::ListVillageSummariesRequest request = Request(kHuiche, "2022-09", 7);
  request.set_weeks(4);
  EXPECT_THAT(with_token(request),
              StatusIs(absl::StatusCode::kInvalidArgument, kOtherFilters));
  request = Request(kHuiche, "2022-09", 7);
  request.set_indicator_months(2);
  EXPECT_THAT(with_token(request),
              StatusIs(absl::StatusCode::kInvalidArgument, kOtherFilters));
  request = Request(kHuiche, "2022-09", 7);
  request.set_page_token("not-a-token");
  EXPECT_THAT(List(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: is not a token this server issued"));
  EXPECT_OK(with_token(Request(kHuiche, "2022-09", 7)));
}

TEST_F(VillageSummariesTest, RejectsBadRequestsNamingTheField) {
  const auto invalid = [](const char* message) {
    return StatusIs(absl::StatusCode::kInvalidArgument, message);
  };
  EXPECT_THAT(List(Request("", "2022-09")), invalid("region_id: required"));
  EXPECT_THAT(List(Request("huiche/west", "2022-09")),
              invalid("region_id: must use only [A-Za-z0-9._-]"));
  EXPECT_THAT(List(Request(kHuiche, "")), invalid("period: required"));
  EXPECT_THAT(List(Request(kHuiche, "2022-13")),
              invalid("period: must be a month"));
  EXPECT_THAT(List(Request(kHuiche, "2022-11")),
              invalid("period: must not be after the current month 2022-10, "
                      "got 2022-11"));
  EXPECT_THAT(List(Request(kHuiche, "2022-09", -1)),
              invalid("page_size: must be 0..1000, got -1"));
  EXPECT_THAT(List(Request(kHuiche, "2022-09", 1001)),
              invalid("page_size: must be 0..1000, got 1001"));
  v1::ListVillageSummariesRequest request = Request(kHuiche, "2022-09");
  request.set_weeks(105);
  EXPECT_THAT(List(request), invalid("weeks: must be 0..104, got 105"));
  request.set_weeks(-1);
  EXPECT_THAT(List(request), invalid("weeks: must be 0..104, got -1"));
  request.set_weeks(0);
  request.set_indicator_months(121);
  EXPECT_THAT(List(request),
              invalid("indicator_months: must be 0..120, got 121"));

  EXPECT_THAT(List(Request("411323-nowhere", "2022-09")),
              StatusIs(absl::StatusCode::kNotFound,
                       "region 411323-nowhere does not exist"));
  // A village is not a region.
  EXPECT_THAT(
      List(Request(kDangziling, "2022-09")),
      StatusIs(absl::StatusCode::kNotFound,
               absl::StrCat("region ", kDangziling, " does not exist")));
}

TEST_F(VillageSummariesTest, ScopedViewersListOnlyTheirSubtree) {
  // A district viewer: its district, also when it names the township
  // above it, but not a sibling district.
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse west,
                       List(Request(kWest, "2022-09"), kWestViewerToken));
  EXPECT_EQ(west.summaries_size(), 3);
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse above,
                       List(Request(kHuiche, "2022-09"), kWestViewerToken));
  ASSERT_EQ(above.summaries_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(above.summaries(i).village_id(), west.summaries(i).village_id());
  }
  EXPECT_THAT(List(Request(kNorth, "2022-09"), kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "west-viewer may not read the village summaries of "
                       "region 411323-huiche-north"));
  // A township viewer: its township and any district in it, the county
  // above it (the township's villages), not the other township.
  int pages = 0;
  EXPECT_EQ(ListAll(Request(kHuiche, "2022-09", 5), &pages, kHuicheViewerToken)
                .size(),
            21u);
  EXPECT_EQ(pages, 5);
  EXPECT_OK(List(Request(kNorth, "2022-09"), kHuicheViewerToken));
  EXPECT_EQ(ListAll(Request(kCounty, "2022-09", 5), &pages, kHuicheViewerToken)
                .size(),
            21u);
  EXPECT_THAT(List(Request(kOtherTownship, "2022-09"), kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-viewer may not read the village summaries of "
                       "region 411323-other"));
  // A village viewer: its own village, below any region above it.
  ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse own,
                       List(Request(kWest, "2022-09"), kDangzilingViewerToken));
  ASSERT_EQ(own.summaries_size(), 1);
  EXPECT_EQ(own.summaries(0).village_id(), kDangziling);
  EXPECT_THAT(List(Request(kNorth, "2022-09"), kDangzilingViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "dangziling-viewer may not read the village summaries "
                       "of region 411323-huiche-north"));
  // Higher roles read too; every role needs a valid token.
  EXPECT_OK(List(Request(kWest, "2022-09"), kHuicheReporterToken));
  EXPECT_THAT(List(Request(kWest, "2022-09"), kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "other-operator may not read the village summaries of "
                       "region 411323-huiche-west"));
  EXPECT_OK(List(Request(kWest, "2022-09"), kViewerToken));
  EXPECT_THAT(List(Request(kWest, "2022-09"), ""),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "missing \"authorization: Bearer <token>\""));
  EXPECT_THAT(
      List(Request(kWest, "2022-09"), "token-nobody-has"),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
}

// The service's summaries on a connection of their own to its database
// (as another process of the service would have), with the store calls
// counted.
class SummariesOfItsOwn {
 public:
  // By default it keeps figures in the database however few (the county
  // has 22 villages).
  explicit SummariesOfItsOwn(
      ProjectsTestEnv& env,
      size_t max_cached_villages = ProgressSummaries::kDefaultMaxCachedVillages,
      size_t min_villages_kept_in_database = 1) {
    const std::string database = env.database("projects");
    absl::StatusOr<std::unique_ptr<ProjectsStore>> opened;
    if (fivestar::testing::TestEngine() == SqlEngine::kPostgres) {
      opened = SqlProjectsStore<PostgresPool>::Open(database, &env.clock());
    } else {
      opened = SqlProjectsStore<SqlitePool>::Open(database, &env.clock());
    }
    FIVESTAR_CHECK(opened.ok(), opened.status().ToString());
    inner_ = *std::move(opened);
    store_ = std::make_unique<CountingStore>(inner_.get());
    RegistryDirectoryOptions options;
    options.bearer_token = kProjectsServiceToken;
    directory_ = std::make_unique<RegistryVillageDirectory>(
        NewPeerChannel(env.registry().address()), options, &env.clock());
    jurisdiction_ = std::make_unique<Jurisdiction>(directory_.get());
    summaries_ = std::make_unique<ProgressSummaries>(
        store_.get(), jurisdiction_.get(), &env.clock(), max_cached_villages,
        min_villages_kept_in_database);
  }

  CountingStore& store() { return *store_; }
  ProgressSummaries& summaries() { return *summaries_; }

 private:
  std::unique_ptr<ProjectsStore> inner_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<RegistryVillageDirectory> directory_;
  std::unique_ptr<Jurisdiction> jurisdiction_;
  std::unique_ptr<ProgressSummaries> summaries_;
};

TEST_F(VillageSummariesTest, APageIsReadInFiveQueriesWhateverItsSize) {
  SummariesOfItsOwn own(env_);
  CountingStore& store = own.store();
  ProgressSummaries& summaries = own.summaries();
  const Principal auditor{"auditor", Role::kViewer, "*"};

  const std::map<std::string, int> kOnePassEach = {
      {"CountReportingWeeks", 1},
      {"ListIndicatorDefinitions", 1},
      {"ListIndicatorValues", 1},
      {"SnapshotTasks", 1}};
  // A closed month's page also reads the change feed, so that the figures
  // it reads can be kept for GetSummary, and keeps them in the database
  // (a write not waited for); with nothing kept yet (the first page), it
  // reads only where the feed stands.
  std::map<std::string, int> with_feed = kOnePassEach;
  with_feed["ReadChanges"] = 1;
  with_feed["KeepFiguresAsync"] = 1;
  std::map<std::string, int> with_newest = kOnePassEach;
  with_newest["NewestSequence"] = 1;
  with_newest["KeepFiguresAsync"] = 1;
  bool first = true;
  for (int page_size : {1, 7, 1000}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    v1::ListVillageSummariesRequest request =
        Request(kCounty, "2022-09", page_size);
    request.set_indicator_months(2);
    int villages = 0;
    for (int page = 0; page < 30; ++page) {
      store.Reset();
      ASSERT_OK_AND_ASSIGN(v1::ListVillageSummariesResponse response,
                           summaries.ListVillageSummaries(auditor, request));
      EXPECT_EQ(store.calls(), first ? with_newest : with_feed);
      first = false;
      villages += response.summaries_size();
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    EXPECT_EQ(villages, 22);
  }
  // The county's summary for the window its pages were listed in reads
  // none of its rows again: only the feed and the indicator kinds.
  store.Reset();
  v1::GetSummaryRequest listed;
  listed.set_region_id(kCounty);
  listed.set_period("2022-09");
  listed.set_indicator_months(2);
  ASSERT_OK(summaries.GetSummary(auditor, listed));
  EXPECT_EQ(store.calls(),
            (std::map<std::string, int>{{"ListIndicatorDefinitions", 1},
                                        {"ReadChanges", 1}}));
  // GetSummary of a region in another window reads the same way as a page,
  // the change feed included (for writes that invalidate kept figures),
  // after looking for figures kept in the database; asked again, it reads
  // only the feed and the indicator kinds.
  store.Reset();
  v1::GetSummaryRequest region;
  region.set_region_id(kCounty);
  region.set_period("2022-09");
  ASSERT_OK(summaries.GetSummary(auditor, region));
  std::map<std::string, int> from_rows = with_feed;
  from_rows["ReadKeptFigures"] = 1;
  EXPECT_EQ(store.calls(), from_rows);
  store.Reset();
  ASSERT_OK(summaries.GetSummary(auditor, region));
  EXPECT_EQ(store.calls(),
            (std::map<std::string, int>{{"ListIndicatorDefinitions", 1},
                                        {"ReadChanges", 1}}));
}

TEST_F(VillageSummariesTest, AnotherProcessAddsUpFiguresKeptInTheDatabase) {
  const Principal auditor{"auditor", Role::kViewer, "*"};
  // The rows themselves (nothing kept), for the expected figures.
  SummariesOfItsOwn rows(env_, /*max_cached_villages=*/0);
  v1::GetSummaryRequest county;
  county.set_region_id(kCounty);
  county.set_period("2022-09");
  county.set_indicator_months(2);
  ASSERT_OK_AND_ASSIGN(v1::Summary expected,
                       rows.summaries().GetSummary(auditor, county));
  ASSERT_EQ(expected.villages(), 22);
  ASSERT_EQ(rows.store().calls().count("KeepFiguresAsync"), 0);

  v1::ListVillageSummariesRequest request = Request(kCounty, "2022-09", 1000);
  request.set_indicator_months(2);
  // By default the figures of fewer than 50 villages read at once are not
  // kept in the database: the county's 22 are not.
  {
    SummariesOfItsOwn defaults(
        env_, ProgressSummaries::kDefaultMaxCachedVillages,
        ProgressSummaries::kDefaultMinVillagesKeptInDatabase);
    ASSERT_OK(defaults.summaries().ListVillageSummaries(auditor, request));
    ASSERT_OK(defaults.summaries().GetSummary(auditor, county));
    EXPECT_EQ(defaults.store().calls().count("KeepFiguresAsync"), 0);
  }

  // One process lists the county's village summaries for that window, as an
  // evaluation does, and keeps their figures in the database.
  {
    SummariesOfItsOwn lister(env_);
    ASSERT_OK_AND_ASSIGN(
        v1::ListVillageSummariesResponse page,
        lister.summaries().ListVillageSummaries(auditor, request));
    ASSERT_EQ(page.summaries_size(), 22);
    lister.store().AwaitKeeps();
  }

  // Another, started afresh, adds the county up from them: no task,
  // report or value rows read, and the same figures. (It reads where the
  // feed stands when it starts and again when it first catches up, with
  // nothing kept on its heap.)
  SummariesOfItsOwn fresh(env_);
  ASSERT_OK_AND_ASSIGN(v1::Summary summed,
                       fresh.summaries().GetSummary(auditor, county));
  EXPECT_TRUE(MessageDifferencer::Equals(summed, expected))
      << "kept: " << summed.ShortDebugString()
      << "\nrows: " << expected.ShortDebugString();
  EXPECT_EQ(fresh.store().calls(),
            (std::map<std::string, int>{{"ListIndicatorDefinitions", 1},
                                        {"NewestSequence", 2},
                                        {"ReadKeptFigures", 1}}));

  // A write to one of its villages deletes that village's kept figures in
  // its own transaction: a third process reads that village's rows alone
  // (and keeps its figures again), and sees the write.
  v1::SetIndicatorValuesRequest write;
  v1::IndicatorValue* value = write.add_values();
  value->set_village_id(kDangziling);
  value->set_indicator_key("collective_income_yuan_ytd");
  value->set_period("2022-09");
  value->set_value(123456);
  ASSERT_OK(env_.Call(&Stub::SetIndicatorValues, write, kAdminToken));
  ASSERT_OK_AND_ASSIGN(v1::Summary expected_after,
                       rows.summaries().GetSummary(auditor, county));
  ASSERT_FALSE(MessageDifferencer::Equals(expected_after, expected));
  SummariesOfItsOwn third(env_);
  ASSERT_OK_AND_ASSIGN(v1::Summary after,
                       third.summaries().GetSummary(auditor, county));
  EXPECT_TRUE(MessageDifferencer::Equals(after, expected_after))
      << "kept: " << after.ShortDebugString()
      << "\nrows: " << expected_after.ShortDebugString();
  EXPECT_EQ(third.store().calls(),
            (std::map<std::string, int>{{"CountReportingWeeks", 1},
                                        {"KeepFiguresAsync", 1},
                                        {"ListIndicatorDefinitions", 1},
                                        {"ListIndicatorValues", 1},
                                        {"NewestSequence", 2},
                                        {"ReadKeptFigures", 1},
                                        {"SnapshotTasks", 1}}));
  third.store().AwaitKeeps();
}

}  // namespace
}  // namespace fivestar::projects
