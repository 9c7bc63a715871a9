// Who may do what where: roles (viewer < reporter < operator < admin) and
// scopes (a region's subtree, or one village) resolved through the real
// registry, plus authentication itself.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

class ProjectsAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(dangziling_,
                         env_.CreateProject(RoadProject(kDangziling)));
    ASSERT_OK_AND_ASSIGN(maohe_, env_.CreateProject(RoadProject(kMaohe)));
    ASSERT_OK_AND_ASSIGN(other_,
                         env_.CreateProject(RoadProject(kOtherVillage)));
  }

  std::vector<std::string> VisibleIds(const std::string& token,
                                      v1::ListProjectsRequest request = {}) {
    std::vector<std::string> ids;
    auto projects = env_.ListAllProjects(request, token);
    EXPECT_OK(projects);
    if (projects.ok()) {
      for (const auto& project : *projects) ids.push_back(project.id());
    }
    return ids;
  }

  ProjectsTestEnv env_;
  v1::Project dangziling_;
  v1::Project maohe_;
  v1::Project other_;
};

TEST_F(ProjectsAuthTest, VillageReporterReportsOnlyForItsVillage) {
  ASSERT_OK_AND_ASSIGN(
      auto own, env_.Report(dangziling_.id(), 10, kDangzilingReporterToken));
  EXPECT_EQ(own.report().reporter(), "dangziling-reporter");
  EXPECT_THAT(env_.Report(maohe_.id(), 10, kDangzilingReporterToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "dangziling-reporter may not report progress on "
                       "project"));
  EXPECT_THAT(env_.Report(other_.id(), 10, kDangzilingReporterToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "outside its scope 411323-huiche-west-01"));
  // Reporting is as far as a reporter goes.
  EXPECT_THAT(
      env_.CreateProject(RoadProject(kDangziling), kDangzilingReporterToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role operator"));
}

TEST_F(ProjectsAuthTest, TownshipOperatorActsOnlyInsideItsTownship) {
  EXPECT_OK(env_.CreateProject(RoadProject(kDougou), kHuicheOperatorToken));
  EXPECT_THAT(
      env_.CreateProject(RoadProject(kOtherVillage), kHuicheOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "huiche-operator may not create projects in village "
               "411323-other-01: outside its scope 411323-huiche"));
  EXPECT_THAT(
      env_.CreateProject(RoadProject(kDangziling), kOtherOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));

  v1::CancelProjectRequest cancel;
  cancel.set_id(dangziling_.id());
  cancel.set_reason("not ours");
  EXPECT_THAT(env_.Call(&Stub::CancelProject, cancel, kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  v1::UpdateProjectRequest update;
  update.mutable_project()->set_id(dangziling_.id());
  update.mutable_project()->set_title("taken over");
  update.mutable_update_mask()->add_paths("title");
  EXPECT_THAT(env_.Call(&Stub::UpdateProject, update, kOtherOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  EXPECT_OK(env_.Call(&Stub::UpdateProject, update, kHuicheOperatorToken));
  v1::DeleteProjectRequest remove;
  remove.set_id(other_.id());
  EXPECT_THAT(env_.Call(&Stub::DeleteProject, remove, kHuicheOperatorToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  EXPECT_OK(env_.Call(&Stub::DeleteProject, remove, kOtherOperatorToken));
  // A township operator may also report (operator includes reporter).
  EXPECT_OK(env_.Report(maohe_.id(), 1, kHuicheOperatorToken));
}

TEST_F(ProjectsAuthTest, ViewersCannotWrite) {
  EXPECT_THAT(
      env_.Report(dangziling_.id(), 10, kHuicheViewerToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role reporter"));
  EXPECT_THAT(
      env_.CreateProject(RoadProject(kDangziling), kViewerToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role operator"));
}

TEST_F(ProjectsAuthTest, ReadsAreConfinedToTheScope) {
  v1::GetProjectRequest get;
  get.set_id(other_.id());
  EXPECT_THAT(env_.Call(&Stub::GetProject, get, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-viewer may not read project"));
  get.set_id(maohe_.id());
  EXPECT_OK(env_.Call(&Stub::GetProject, get, kHuicheViewerToken));
  EXPECT_THAT(env_.Call(&Stub::GetProject, get, kDangzilingViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));

  v1::ListProgressReportsRequest reports;
  reports.set_project_id(other_.id());
  EXPECT_THAT(env_.Call(&Stub::ListProgressReports, reports, kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
}

TEST_F(ProjectsAuthTest, ListsShowOnlyTheCallersSubtree) {
  EXPECT_EQ(VisibleIds(kViewerToken).size(), 3u);
  EXPECT_EQ(VisibleIds(kHuicheViewerToken).size(), 2u);
  EXPECT_EQ(VisibleIds(kWestViewerToken),
            std::vector<std::string>{dangziling_.id()});
  // Scoped to one village: just that village.
  EXPECT_EQ(VisibleIds(kDangzilingViewerToken),
            std::vector<std::string>{dangziling_.id()});
  EXPECT_EQ(VisibleIds(kDangzilingReporterToken),
            std::vector<std::string>{dangziling_.id()});

  // Filters inside the scope narrow it; filters outside it are refused.
  v1::ListProjectsRequest request;
  request.set_ancestor_region_id(kNorth);
  EXPECT_EQ(VisibleIds(kHuicheViewerToken, request),
            std::vector<std::string>{maohe_.id()});
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  request.Clear();
  request.set_village_id(kOtherVillage);
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  request.set_village_id("411323-nowhere");
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "village_id: village 411323-nowhere does not exist"));
}

TEST_F(ProjectsAuthTest, CallsWithoutAValidTokenAreUnauthenticated) {
  v1::GetProjectRequest get;
  get.set_id(dangziling_.id());
  EXPECT_THAT(env_.Call(&Stub::GetProject, get, ""),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "missing \"authorization: Bearer <token>\""));
  EXPECT_THAT(
      env_.Call(&Stub::GetProject, get, "not-a-known-token"),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
  EXPECT_THAT(env_.CreateProject(RoadProject(kDangziling), ""),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
  EXPECT_THAT(env_.Import({}, ""),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
  v1::GetSummaryRequest summary;
  summary.set_region_id(kHuiche);
  summary.set_period("2022-09");
  EXPECT_THAT(env_.Summary(summary, ""),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
}

TEST_F(ProjectsAuthTest, ImportNeedsAdminOverEveryVillage) {
  v1::ProjectRecord record;
  record.set_key("huiche-import-1");
  *record.mutable_project() = RoadProject(kDangziling);
  EXPECT_THAT(
      env_.Import({record}, kHuicheOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role admin"));
  EXPECT_OK(env_.Import({record}, kHuicheAdminToken));
  v1::ProjectRecord outside;
  outside.set_key("other-import-1");
  *outside.mutable_project() = RoadProject(kOtherVillage);
  EXPECT_THAT(env_.Import({record, outside}, kHuicheAdminToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-admin may not import projects into village "
                       "411323-other-01"));
}

}  // namespace
}  // namespace fivestar::projects
