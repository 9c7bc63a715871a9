// Projects and progress reports over gRPC, against the real registry: every
// project RPC, the derived status and totals, idempotent retries, paging and
// filters, and bad input rule by rule.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/calendar.h"
#include "services/projects/projects_server.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

class ProjectsServiceTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::Project> Get(const std::string& id,
                                  const std::string& token = kAdminToken) {
    v1::GetProjectRequest request;
    request.set_id(id);
    return env_.Call(&Stub::GetProject, request, token);
  }

  absl::StatusOr<v1::Project> Update(const v1::Project& project,
                                     std::vector<std::string> paths,
                                     const std::string& token = kAdminToken) {
    v1::UpdateProjectRequest request;
    *request.mutable_project() = project;
    for (const std::string& path : paths) {
      request.mutable_update_mask()->add_paths(path);
    }
    return env_.Call(&Stub::UpdateProject, request, token);
  }

  absl::StatusOr<v1::Project> Cancel(const std::string& id,
                                     const std::string& reason,
                                     const std::string& etag = "",
                                     const std::string& token = kAdminToken) {
    v1::CancelProjectRequest request;
    request.set_id(id);
    request.set_reason(reason);
    request.set_etag(etag);
    return env_.Call(&Stub::CancelProject, request, token);
  }

  absl::Status Delete(const std::string& id, const std::string& etag = "",
                      const std::string& token = kAdminToken) {
    v1::DeleteProjectRequest request;
    request.set_id(id);
    request.set_etag(etag);
    return env_.Call(&Stub::DeleteProject, request, token).status();
  }

  absl::StatusOr<v1::CreateProgressReportResponse> ReportAt(
      const std::string& project_id, double quantity, absl::Time time,
      const std::string& request_id = "") {
    v1::CreateProgressReportRequest request;
    request.mutable_report()->set_project_id(project_id);
    request.mutable_report()->set_quantity(quantity);
    request.mutable_report()->set_request_id(request_id);
    *request.mutable_report()->mutable_report_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
    return env_.Call(&Stub::CreateProgressReport, request, kAdminToken);
  }

  ProjectsTestEnv env_;
};

// --- CreateProject / GetProject ----------------------------------------------

TEST_F(ProjectsServiceTest, CreateAssignsIdAndStartsPlanned) {
  ASSERT_OK_AND_ASSIGN(v1::Project created,
                       env_.CreateProject(RoadProject(kDangziling)));
  EXPECT_FALSE(created.id().empty());
  EXPECT_EQ(created.village_id(), kDangziling);
  EXPECT_EQ(created.status(), v1::PLANNED);
  EXPECT_EQ(created.delivered_quantity(), 0);
  EXPECT_EQ(created.report_count(), 0);
  EXPECT_FALSE(created.overdue());
  EXPECT_FALSE(created.etag().empty());
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(created.create_time()),
            absl::ToUnixMicros(StartTime()));

  ASSERT_OK_AND_ASSIGN(v1::Project got, Get(created.id()));
  EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString());
}

TEST_F(ProjectsServiceTest, CreateIgnoresOutputFieldsAndDefaultsStartDate) {
  v1::Project project = RoadProject(kDangziling);
  project.clear_start_date();
  project.set_id("chosen-by-client");
  project.set_status(v1::DELIVERED);
  project.set_delivered_quantity(780);
  ASSERT_OK_AND_ASSIGN(v1::Project created, env_.CreateProject(project));
  EXPECT_NE(created.id(), "chosen-by-client");
  EXPECT_EQ(created.status(), v1::PLANNED);
  EXPECT_EQ(created.delivered_quantity(), 0);
  EXPECT_EQ(created.start_date(), "2022-10-08");  // Today in China.
}

struct BadProject {
  const char* name;
  void (*mutate)(v1::Project*);
  const char* message;
};

// Keeps ctest's listing short: the name, not the struct's bytes.
void PrintTo(const BadProject& bad, std::ostream* os) { *os << bad.name; }

class CreateProjectRejectsTest
    : public ProjectsServiceTest,
      public ::testing::WithParamInterface<BadProject> {};

TEST_P(CreateProjectRejectsTest, NamesFieldAndRule) {
  v1::Project project = RoadProject(kDangziling);
  GetParam().mutate(&project);
  EXPECT_THAT(env_.CreateProject(project),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message));
  ASSERT_OK_AND_ASSIGN(auto all, env_.ListAllProjects({}));
  EXPECT_TRUE(all.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, CreateProjectRejectsTest,
    ::testing::Values(
        BadProject{"NoTitle", [](v1::Project* p) { p->clear_title(); },
                   "project.title: required"},
        BadProject{"LongTitle",
                   [](v1::Project* p) { p->set_title(std::string(201, 'x')); },
                   "project.title: must be 1..200 characters, got 201"},
        BadProject{"NoStar",
                   [](v1::Project* p) {
                     p->set_star(fivestar::common::v1::STAR_UNSPECIFIED);
                   },
                   "project.star: required"},
        BadProject{"NegativeTarget",
                   [](v1::Project* p) { p->set_target_quantity(-3); },
                   "project.target_quantity: must be > 0, got -3"},
        BadProject{"ZeroTarget",
                   [](v1::Project* p) { p->set_target_quantity(0); },
                   "project.target_quantity: must be > 0, got 0"},
        BadProject{"HugeTarget",
                   [](v1::Project* p) { p->set_target_quantity(2e12); },
                   "project.target_quantity: must be 0..1000000000000, got "
                   "2000000000000"},
        BadProject{"InfiniteTarget",
                   [](v1::Project* p) {
                     p->set_target_quantity(
                         std::numeric_limits<double>::infinity());
                   },
                   "project.target_quantity: must be a finite number"},
        BadProject{"NoUnit", [](v1::Project* p) { p->clear_unit(); },
                   "project.unit: required"},
        BadProject{"ImpossibleDate",
                   [](v1::Project* p) { p->set_due_date("2022-02-30"); },
                   "project.due_date: must be a date \"YYYY-MM-DD\""},
        BadProject{"SloppyDate",
                   [](v1::Project* p) { p->set_start_date("2022-3-1"); },
                   "project.start_date: must be a date \"YYYY-MM-DD\""},
        BadProject{"DateOutOfRange",
                   [](v1::Project* p) { p->set_due_date("2101-01-01"); },
                   "project.due_date: must be from 2000-01-01 to 2100-12-31"},
        BadProject{"DueBeforeStart",
                   [](v1::Project* p) { p->set_due_date("2022-02-28"); },
                   "project.due_date: must not be before start_date"},
        BadProject{"NoDueDate", [](v1::Project* p) { p->clear_due_date(); },
                   "project.due_date: required"},
        BadProject{"LongOwner",
                   [](v1::Project* p) { p->set_owner(std::string(101, 'o')); },
                   "project.owner: must be 0..100 characters"},
        BadProject{"BadVillageId",
                   [](v1::Project* p) { p->set_village_id("a/b"); },
                   "project.village_id: must use only [A-Za-z0-9._-]"},
        BadProject{"UnknownVillage",
                   [](v1::Project* p) { p->set_village_id("411323-nowhere"); },
                   "project.village_id: village 411323-nowhere does not exist "
                   "in the registry"}),
    [](const ::testing::TestParamInfo<BadProject>& info) {
      return info.param.name;
    });

TEST_F(ProjectsServiceTest, CreateRetryWithRequestIdReturnsTheSameProject) {
  ASSERT_OK_AND_ASSIGN(
      v1::Project first,
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "create-1"));
  ASSERT_OK_AND_ASSIGN(
      v1::Project retry,
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "create-1"));
  EXPECT_EQ(retry.id(), first.id());
  ASSERT_OK_AND_ASSIGN(auto all, env_.ListAllProjects({}));
  EXPECT_EQ(all.size(), 1u);

  v1::Project other = RoadProject(kDangziling);
  other.set_target_quantity(900);
  EXPECT_THAT(env_.CreateProject(other, kAdminToken, "create-1"),
              StatusIs(absl::StatusCode::kAlreadyExists, "create-1"));
  EXPECT_THAT(env_.CreateProject(other, kAdminToken, "bad key!"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "request_id: must use only [A-Za-z0-9._:-]"));
}

TEST_F(ProjectsServiceTest, GetUnknownIsNotFoundAndBadIdInvalid) {
  EXPECT_THAT(Get("p-unknown"), StatusIs(absl::StatusCode::kNotFound,
                                         "project p-unknown not found"));
  EXPECT_THAT(Get(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "id: required"));
}

// --- UpdateProject -----------------------------------------------------------

TEST_F(ProjectsServiceTest, UpdateChangesMaskedFieldsAndRederivesStatus) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(env_.Report(project.id(), 500));
  ASSERT_OK_AND_ASSIGN(project, Get(project.id()));
  EXPECT_EQ(project.status(), v1::IN_PROGRESS);

  v1::Project change;
  change.set_id(project.id());
  change.set_etag(project.etag());
  change.set_target_quantity(500);
  change.set_title("ignored: not in the mask");
  ASSERT_OK_AND_ASSIGN(v1::Project updated,
                       Update(change, {"target_quantity"}));
  EXPECT_EQ(updated.status(), v1::DELIVERED);
  EXPECT_EQ(updated.target_quantity(), 500);
  EXPECT_EQ(updated.title(), project.title());
  EXPECT_NE(updated.etag(), project.etag());

  // The old etag is stale now.
  change.set_target_quantity(600);
  EXPECT_THAT(Update(change, {"target_quantity"}),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  change.clear_etag();
  ASSERT_OK_AND_ASSIGN(updated, Update(change, {"target_quantity"}));
  EXPECT_EQ(updated.status(), v1::IN_PROGRESS);
}

TEST_F(ProjectsServiceTest, UpdateRejectsBadMasksAndValues) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  v1::Project change = project;
  EXPECT_THAT(Update(change, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask: must name the fields to change"));
  EXPECT_THAT(Update(change, {"village_id"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask.paths[0]: \"village_id\" cannot be "
                       "changed"));
  EXPECT_THAT(
      Update(change, {"status"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "update_mask.paths[0]"));
  change.set_due_date("2021-01-01");
  EXPECT_THAT(Update(change, {"due_date"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "project.due_date: must not be before start_date"));
  change.set_id("p-unknown");
  EXPECT_THAT(Update(change, {"title"}),
              StatusIs(absl::StatusCode::kNotFound, "p-unknown"));
}

TEST_F(ProjectsServiceTest, UpdateRefusesStartDateAfterAReport) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(ReportAt(project.id(), 10,
                     StartOfDay(absl::CivilDay(2022, 6, 15)) + absl::Hours(9)));
  v1::Project change;
  change.set_id(project.id());
  change.set_start_date("2022-06-16");
  EXPECT_THAT(Update(change, {"start_date"}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "falls after the project's first progress report, "
                       "dated 2022-06-15"));
  change.set_start_date("2022-06-15");
  EXPECT_OK(Update(change, {"start_date"}));
}

TEST_F(ProjectsServiceTest, UpdateStarWithWildcardMask) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  v1::Project change = project;
  change.set_star(fivestar::common::v1::ECO_LIVABLE);
  change.set_owner("");
  ASSERT_OK_AND_ASSIGN(v1::Project updated, Update(change, {"*"}));
  EXPECT_EQ(updated.star(), fivestar::common::v1::ECO_LIVABLE);
  EXPECT_EQ(updated.owner(), "");
}

// --- CancelProject / DeleteProject -------------------------------------------

TEST_F(ProjectsServiceTest, CancelKeepsReportsAndRefusesNewOnes) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(env_.Report(project.id(), 100));
  EXPECT_THAT(Cancel(project.id(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "reason: required"));
  EXPECT_THAT(Cancel(project.id(), "funds moved", "1-0"),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ASSERT_OK_AND_ASSIGN(v1::Project cancelled,
                       Cancel(project.id(), "funds moved"));
  EXPECT_EQ(cancelled.status(), v1::CANCELLED);
  EXPECT_EQ(cancelled.cancel_reason(), "funds moved");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(cancelled.cancel_time()),
            absl::ToUnixMicros(StartTime()));
  EXPECT_EQ(cancelled.delivered_quantity(), 100);
  EXPECT_EQ(cancelled.report_count(), 1);

  EXPECT_THAT(Cancel(project.id(), "again"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "CANCELLED"));
  EXPECT_THAT(env_.Report(project.id(), 10),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "takes no new progress reports"));
  v1::Project change;
  change.set_id(project.id());
  change.set_title("new title");
  EXPECT_THAT(Update(change, {"title"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "CANCELLED"));
  EXPECT_THAT(Cancel("p-unknown", "x"),
              StatusIs(absl::StatusCode::kNotFound, "p-unknown"));
}

TEST_F(ProjectsServiceTest, CancelRefusesDeliveredProject) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(env_.Report(project.id(), 780));
  EXPECT_THAT(Cancel(project.id(), "too late"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "DELIVERED"));
}

TEST_F(ProjectsServiceTest, DeleteOnlyWithoutReports) {
  ASSERT_OK_AND_ASSIGN(v1::Project empty,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK_AND_ASSIGN(v1::Project reported,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK(env_.Report(reported.id(), 1));

  EXPECT_THAT(Delete(reported.id()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cancel the project instead"));
  EXPECT_THAT(Delete(empty.id(), "1-1"),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ASSERT_OK(Delete(empty.id(), empty.etag()));
  EXPECT_THAT(Get(empty.id()), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(Delete(empty.id()), StatusIs(absl::StatusCode::kNotFound, ""));
  ASSERT_OK_AND_ASSIGN(auto all, env_.ListAllProjects({}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id(), reported.id());
}

// --- ListProjects ------------------------------------------------------------

TEST_F(ProjectsServiceTest, ListPagesInVillageThenIdOrder) {
  std::vector<std::string> villages = {kMaohe, kDougou, kDangziling, kMaohe,
                                       kDangziling};
  for (const std::string& village : villages) {
    ASSERT_OK(env_.CreateProject(RoadProject(village)));
  }
  v1::ListProjectsRequest request;
  request.set_page_size(2);
  std::vector<v1::Project> seen;
  int pages = 0;
  while (pages < 10) {
    ASSERT_OK_AND_ASSIGN(auto page,
                         env_.Call(&Stub::ListProjects, request, kAdminToken));
    ++pages;
    EXPECT_LE(page.projects_size(), 2);
    for (const auto& project : page.projects()) seen.push_back(project);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 5u);
  std::set<std::string> ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    ids.insert(seen[i].id());
    if (i > 0) {
      EXPECT_LT(std::make_pair(seen[i - 1].village_id(), seen[i - 1].id()),
                std::make_pair(seen[i].village_id(), seen[i].id()));
    }
  }
  EXPECT_EQ(ids.size(), 5u);

  // A token only works with the filters it was issued for.
  request.set_star(fivestar::common::v1::ECO_LIVABLE);
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
  request.set_page_token("garbage");
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: is not a token this server issued"));
  v1::ListProjectsRequest too_big;
  too_big.set_page_size(1001);
  EXPECT_THAT(env_.Call(&Stub::ListProjects, too_big, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_size: must be 0..1000, got 1001"));
}

TEST_F(ProjectsServiceTest, ListFiltersByVillageRegionStarStatusAndOverdue) {
  ASSERT_OK_AND_ASSIGN(v1::Project west_road,
                       env_.CreateProject(RoadProject(kDangziling)));
  v1::Project eco = RoadProject(kDougou);
  eco.set_star(fivestar::common::v1::ECO_LIVABLE);
  eco.set_due_date("2022-10-31");
  ASSERT_OK_AND_ASSIGN(v1::Project west_eco, env_.CreateProject(eco));
  ASSERT_OK_AND_ASSIGN(v1::Project north_road,
                       env_.CreateProject(RoadProject(kMaohe)));
  ASSERT_OK(env_.Report(north_road.id(), 780));
  ASSERT_OK(env_.Report(west_road.id(), 10));

  auto ids = [&](v1::ListProjectsRequest request) {
    std::vector<std::string> out;
    auto projects = env_.ListAllProjects(request);
    EXPECT_OK(projects);
    if (projects.ok()) {
      for (const auto& project : *projects) out.push_back(project.id());
    }
    return out;
  };
  v1::ListProjectsRequest request;
  request.set_village_id(kDougou);
  EXPECT_THAT(ids(request), ElementsAre(west_eco.id()));

  request.Clear();
  request.set_ancestor_region_id(kWest);
  EXPECT_THAT(ids(request), ElementsAre(west_road.id(), west_eco.id()));
  request.set_ancestor_region_id("411323");  // The county, two levels up.
  EXPECT_EQ(ids(request).size(), 3u);
  request.set_village_id(kMaohe);  // Both filters: AND.
  request.set_ancestor_region_id(kWest);
  EXPECT_TRUE(ids(request).empty());

  request.Clear();
  request.set_star(fivestar::common::v1::ECO_LIVABLE);
  EXPECT_THAT(ids(request), ElementsAre(west_eco.id()));

  request.Clear();
  request.set_status(v1::DELIVERED);
  EXPECT_THAT(ids(request), ElementsAre(north_road.id()));
  request.set_status(v1::IN_PROGRESS);
  EXPECT_THAT(ids(request), ElementsAre(west_road.id()));

  request.Clear();
  request.set_overdue_only(true);
  EXPECT_TRUE(ids(request).empty());
  // Past 2022-10-31 the eco task is overdue; the delivered road never is.
  env_.clock().Set(StartOfDay(absl::CivilDay(2022, 11, 1)));
  EXPECT_THAT(ids(request), ElementsAre(west_eco.id()));
  ASSERT_OK_AND_ASSIGN(v1::Project overdue, Get(west_eco.id()));
  EXPECT_TRUE(overdue.overdue());

  request.Clear();
  request.set_ancestor_region_id("411323-nowhere");
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_region_id: region 411323-nowhere does not "
                       "exist in the registry"));
  request.Clear();
  request.set_status(static_cast<v1::ProjectStatus>(42));
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kAdminToken),
              StatusIs(absl::StatusCode::kInvalidArgument, "status: unknown"));
}

// --- Progress reports --------------------------------------------------------

TEST_F(ProjectsServiceTest, ReportsDeriveTotalsStatusAndOverDelivery) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK_AND_ASSIGN(auto first, env_.Report(project.id(), 300));
  EXPECT_EQ(first.project().status(), v1::IN_PROGRESS);
  EXPECT_EQ(first.project().delivered_quantity(), 300);
  EXPECT_EQ(first.report().reporter(), "province-admin");
  EXPECT_EQ(first.report().village_id(), kDangziling);
  EXPECT_EQ(first.report().project_id(), project.id());
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(first.report().report_time()),
            absl::ToUnixMicros(StartTime()));

  ASSERT_OK_AND_ASSIGN(auto second, env_.Report(project.id(), 480));
  EXPECT_EQ(second.project().status(), v1::DELIVERED);
  EXPECT_FALSE(second.project().over_delivered());

  ASSERT_OK_AND_ASSIGN(auto third, env_.Report(project.id(), 20));
  EXPECT_EQ(third.project().delivered_quantity(), 800);
  EXPECT_TRUE(third.project().over_delivered());
  EXPECT_EQ(third.project().status(), v1::DELIVERED);

  // A correction below the target takes it back to IN_PROGRESS.
  ASSERT_OK_AND_ASSIGN(auto correction,
                       env_.Report(project.id(), -100, kAdminToken, "",
                                   "double-counted segment"));
  EXPECT_EQ(correction.project().delivered_quantity(), 700);
  EXPECT_EQ(correction.project().status(), v1::IN_PROGRESS);
  EXPECT_EQ(correction.project().report_count(), 4);

  // Never below zero: refused, and nothing recorded.
  EXPECT_THAT(
      env_.Report(project.id(), -701),
      StatusIs(absl::StatusCode::kFailedPrecondition, "may never go below 0"));
  ASSERT_OK_AND_ASSIGN(v1::Project after, Get(project.id()));
  EXPECT_EQ(after.delivered_quantity(), 700);
  EXPECT_EQ(after.report_count(), 4);
  EXPECT_EQ(after.etag(), correction.project().etag());
}

TEST_F(ProjectsServiceTest, FractionalReportsReachTheTargetDespiteRounding) {
  v1::Project project = RoadProject(kDangziling);
  project.set_target_quantity(1);
  ASSERT_OK_AND_ASSIGN(project, env_.CreateProject(project));
  v1::CreateProgressReportResponse last;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(last, env_.Report(project.id(), 0.1));
  }
  EXPECT_EQ(last.project().status(), v1::DELIVERED);
  EXPECT_FALSE(last.project().over_delivered());
}

TEST_F(ProjectsServiceTest, RetriedReportCountsOnce) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK_AND_ASSIGN(auto first,
                       env_.Report(project.id(), 300, kAdminToken, "week-37"));
  env_.clock().Advance(absl::Minutes(3));
  ASSERT_OK_AND_ASSIGN(auto retry,
                       env_.Report(project.id(), 300, kAdminToken, "week-37"));
  EXPECT_EQ(retry.report().id(), first.report().id());
  EXPECT_EQ(retry.report().SerializeAsString(),
            first.report().SerializeAsString());
  EXPECT_EQ(retry.project().delivered_quantity(), 300);
  EXPECT_EQ(retry.project().report_count(), 1);

  EXPECT_THAT(env_.Report(project.id(), 301, kAdminToken, "week-37"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "report.request_id: week-37 was already used"));
  ASSERT_OK_AND_ASSIGN(v1::Project other,
                       env_.CreateProject(RoadProject(kDougou)));
  EXPECT_THAT(env_.Report(other.id(), 300, kAdminToken, "week-37"),
              StatusIs(absl::StatusCode::kAlreadyExists, "week-37"));

  // A retry after the project was cancelled still returns the original.
  v1::CancelProjectRequest cancel;
  cancel.set_id(project.id());
  cancel.set_reason("plan changed");
  ASSERT_OK(env_.Call(&Stub::CancelProject, cancel, kAdminToken));
  ASSERT_OK_AND_ASSIGN(auto late,
                       env_.Report(project.id(), 300, kAdminToken, "week-37"));
  EXPECT_EQ(late.report().id(), first.report().id());
  EXPECT_EQ(late.project().status(), v1::CANCELLED);
}

TEST_F(ProjectsServiceTest, ReportRejectsBadInput) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  EXPECT_THAT(env_.Report(project.id(), 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "report.note: required when quantity is 0"));
  EXPECT_OK(env_.Report(project.id(), 0, kAdminToken, "", "surveyed"));
  EXPECT_THAT(
      env_.Report(project.id(), 2e12),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "report.quantity: must be -1000000000000..1000000000000, "
               "got 2000000000000"));
  EXPECT_THAT(env_.Report(project.id(), std::nan("")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "report.quantity: must be a finite number"));
  EXPECT_THAT(ReportAt(project.id(), 1, StartTime() + absl::Minutes(6)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "report.report_time: must not be more than 5 minutes "
                       "in the future"));
  EXPECT_OK(ReportAt(project.id(), 1, StartTime() + absl::Minutes(4)));
  EXPECT_THAT(
      ReportAt(project.id(), 1,
               StartOfDay(absl::CivilDay(2022, 3, 1)) - absl::Seconds(1)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "report.report_time: must not be before the project's "
               "start_date 2022-03-01"));
  EXPECT_THAT(env_.Report("p-unknown", 1),
              StatusIs(absl::StatusCode::kNotFound, "p-unknown"));
  EXPECT_THAT(env_.Report("", 1), StatusIs(absl::StatusCode::kInvalidArgument,
                                           "report.project_id: required"));
}

TEST_F(ProjectsServiceTest, ListReportsOldestFirstInPages) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    // Back-filled out of time order: listing follows recording order.
    ASSERT_OK_AND_ASSIGN(
        auto report,
        ReportAt(project.id(), i,
                 StartOfDay(absl::CivilDay(2022, 9, 10 - i)) + absl::Hours(9)));
    ids.push_back(report.report().id());
  }
  v1::ListProgressReportsRequest request;
  request.set_project_id(project.id());
  request.set_page_size(2);
  std::vector<std::string> listed;
  for (int page = 0; page < 5; ++page) {
    ASSERT_OK_AND_ASSIGN(auto response, env_.Call(&Stub::ListProgressReports,
                                                  request, kAdminToken));
    for (const auto& report : response.reports()) listed.push_back(report.id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(listed, ids);

  ASSERT_OK_AND_ASSIGN(v1::Project after, Get(project.id()));
  EXPECT_EQ(after.report_count(), 5);
  // The largest report_time, not the last recorded.
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(after.last_report_time()),
            absl::ToUnixMicros(StartOfDay(absl::CivilDay(2022, 9, 9)) +
                               absl::Hours(9)));

  request.Clear();
  request.set_project_id("p-unknown");
  EXPECT_THAT(env_.Call(&Stub::ListProgressReports, request, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, "p-unknown"));
}

// The summary cache's bound is checked before anything starts, by name.
TEST(ProjectsServerOptionsTest, ANegativeSummaryCacheIsRefusedByName) {
  ProjectsServerOptions options;
  options.authenticator =
      std::make_shared<const Authenticator>(Authenticator::Disabled());
  options.summary_cache_villages = -1;
  EXPECT_THAT(ProjectsServer::Start(std::move(options)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "summary_cache_villages: must not be negative, got -1"));
}

}  // namespace
}  // namespace fivestar::projects
