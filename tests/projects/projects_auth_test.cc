// Who may do what where: roles (viewer < reporter < operator < admin) and
// scopes (a region's subtree, or one village) resolved through the real
// registry, plus authentication itself.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
  // A filter above the scope lists what the caller reads below it.
  request.set_ancestor_region_id(kHuiche);
  EXPECT_EQ(VisibleIds(kWestViewerToken, request),
            std::vector<std::string>{dangziling_.id()});
  EXPECT_EQ(VisibleIds(kDangzilingViewerToken, request),
            std::vector<std::string>{dangziling_.id()});
  // A village filter outside the scope is refused, within a region filter
  // the caller may read or not.
  request.set_village_id(kMaohe);
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kWestViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "west-viewer may not list projects: outside its "
                       "scope 411323-huiche-west"));
  request.Clear();
  request.set_village_id(kOtherVillage);
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  // A village that exists nowhere is refused exactly as one of another
  // township (no existence oracle).
  request.set_village_id("411323-nowhere");
  EXPECT_THAT(env_.Call(&Stub::ListProjects, request, kHuicheViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-viewer may not list projects: outside its "
                       "scope 411323-huiche"));
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

// No existence oracle: for the Huiche operator (scoped to its township), a
// record of the other township and one that exists nowhere answer alike.
class ProjectsOracleTest : public ProjectsAuthTest {
 protected:
  static constexpr char kNowhereProject[] = "nowhere-project";
  static constexpr char kNowhereVillage[] = "411323-nowhere-01";

  // Both are the out-of-scope refusal of the Huiche operator for `action`
  // followed by the id each names (the same message when `action` names
  // no id).
  static void ExpectSameDenial(const absl::Status& existing,
                               const absl::Status& absent,
                               const std::string& existing_message,
                               const std::string& absent_message) {
    EXPECT_EQ(existing.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(absent.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(existing.message(), existing_message);
    EXPECT_EQ(absent.message(), absent_message);
  }

  static std::string Denial(const std::string& action) {
    return absl::StrCat("huiche-operator may not ", action,
                        ": outside its scope 411323-huiche");
  }

  // The other township's project as the global admin reads it.
  v1::Project OtherAsStored() {
    v1::GetProjectRequest get;
    get.set_id(other_.id());
    absl::StatusOr<v1::Project> project = env_.Call(&Stub::GetProject, get);
    EXPECT_OK(project);
    return project.ok() ? *project : v1::Project();
  }
};

TEST_F(ProjectsOracleTest,
       GetProjectOutsideTheScopeAnswersAlikeWhetherItExists) {
  v1::GetProjectRequest existing;
  existing.set_id(other_.id());
  v1::GetProjectRequest absent;
  absent.set_id(kNowhereProject);
  ExpectSameDenial(
      env_.Call(&Stub::GetProject, existing, kHuicheOperatorToken).status(),
      env_.Call(&Stub::GetProject, absent, kHuicheOperatorToken).status(),
      Denial(absl::StrCat("read project ", other_.id())),
      Denial(absl::StrCat("read project ", kNowhereProject)));
  // The global admin still learns that it does not exist.
  EXPECT_THAT(env_.Call(&Stub::GetProject, absent, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, kNowhereProject));
}

TEST_F(ProjectsOracleTest,
       UpdateAndDeleteOutsideTheScopeAnswerAlikeAndWriteNothing) {
  auto update = [&](const std::string& id) {
    v1::UpdateProjectRequest request;
    request.mutable_project()->set_id(id);
    request.mutable_project()->set_title("taken over");
    request.mutable_update_mask()->add_paths("title");
    return env_.Call(&Stub::UpdateProject, request, kHuicheOperatorToken)
        .status();
  };
  ExpectSameDenial(update(other_.id()), update(kNowhereProject),
                   Denial(absl::StrCat("update project ", other_.id())),
                   Denial(absl::StrCat("update project ", kNowhereProject)));
  auto remove = [&](const std::string& id) {
    v1::DeleteProjectRequest request;
    request.set_id(id);
    return env_.Call(&Stub::DeleteProject, request, kHuicheOperatorToken)
        .status();
  };
  ExpectSameDenial(remove(other_.id()), remove(kNowhereProject),
                   Denial(absl::StrCat("delete project ", other_.id())),
                   Denial(absl::StrCat("delete project ", kNowhereProject)));
  EXPECT_EQ(OtherAsStored().title(), other_.title());
  EXPECT_EQ(OtherAsStored().etag(), other_.etag());
}

TEST_F(ProjectsOracleTest,
       ReportOnAnotherVillagesProjectAnswersAlikeAndCountsNothing) {
  ExpectSameDenial(
      env_.Report(other_.id(), 10, kHuicheOperatorToken).status(),
      env_.Report(kNowhereProject, 10, kHuicheOperatorToken).status(),
      Denial(absl::StrCat("report progress on project ", other_.id())),
      Denial(absl::StrCat("report progress on project ", kNowhereProject)));
  v1::ListProgressReportsRequest existing;
  existing.set_project_id(other_.id());
  v1::ListProgressReportsRequest absent;
  absent.set_project_id(kNowhereProject);
  ExpectSameDenial(
      env_.Call(&Stub::ListProgressReports, existing, kHuicheOperatorToken)
          .status(),
      env_.Call(&Stub::ListProgressReports, absent, kHuicheOperatorToken)
          .status(),
      Denial(absl::StrCat("read the reports of project ", other_.id())),
      Denial(absl::StrCat("read the reports of project ", kNowhereProject)));
  EXPECT_EQ(OtherAsStored().report_count(), 0);
}

TEST_F(ProjectsOracleTest,
       ReportRequestIdUsedInAnotherVillageIsDeniedNamingNothing) {
  ASSERT_OK(env_.Report(other_.id(), 5, kAdminToken, "other-report-1"));
  // The Huiche operator picks the same request id for a report in its own
  // township: refused as a target outside its scope, without naming the
  // other village's report or project.
  const absl::Status reused =
      env_.Report(maohe_.id(), 7, kHuicheOperatorToken, "other-report-1")
          .status();
  EXPECT_THAT(reused, StatusIs(absl::StatusCode::kPermissionDenied,
                               Denial("use report.request_id other-report-1")));
  EXPECT_THAT(std::string(reused.message()),
              ::testing::Not(::testing::HasSubstr(other_.id())));
  v1::ListProgressReportsRequest reports;
  reports.set_project_id(other_.id());
  ASSERT_OK_AND_ASSIGN(auto listed,
                       env_.Call(&Stub::ListProgressReports, reports));
  ASSERT_EQ(listed.reports_size(), 1);
  for (const auto& report : listed.reports()) {
    EXPECT_THAT(std::string(reused.message()),
                ::testing::Not(::testing::HasSubstr(report.id())));
  }
  v1::GetProjectRequest get;
  get.set_id(maohe_.id());
  ASSERT_OK_AND_ASSIGN(v1::Project maohe, env_.Call(&Stub::GetProject, get));
  EXPECT_EQ(maohe.report_count(), 0);
  // Inside the scope the conflict still names the earlier report.
  ASSERT_OK(env_.Report(maohe_.id(), 1, kHuicheOperatorToken, "maohe-1"));
  EXPECT_THAT(env_.Report(dangziling_.id(), 1, kHuicheOperatorToken, "maohe-1"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "report.request_id: maohe-1 was already used for "
                       "report"));
}

TEST_F(ProjectsOracleTest,
       ProjectRequestIdUsedInAnotherVillageIsDeniedNamingNothing) {
  v1::Project first = RoadProject(kOtherVillage);
  first.set_title("other township road");
  ASSERT_OK_AND_ASSIGN(v1::Project created,
                       env_.CreateProject(first, kAdminToken, "road-req-1"));
  const absl::Status reused =
      env_.CreateProject(RoadProject(kMaohe), kHuicheOperatorToken,
                         "road-req-1")
          .status();
  EXPECT_THAT(reused, StatusIs(absl::StatusCode::kPermissionDenied,
                               Denial("use request_id road-req-1")));
  EXPECT_THAT(std::string(reused.message()),
              ::testing::Not(::testing::HasSubstr(created.id())));
  EXPECT_EQ(VisibleIds(kHuicheViewerToken).size(), 2u);
}

TEST_F(ProjectsOracleTest,
       IndicatorValuesOfAnOutOfScopeVillageAnswerAlikeAndWriteNothing) {
  auto set = [&](const std::string& village) {
    v1::SetIndicatorValuesRequest request;
    v1::IndicatorValue* value = request.add_values();
    value->set_village_id(village);
    value->set_indicator_key("inspection_score");
    value->set_period("2022-09");
    value->set_value(90);
    return env_.Call(&Stub::SetIndicatorValues, request, kHuicheOperatorToken)
        .status();
  };
  ExpectSameDenial(
      set(kOtherVillage), set(kNowhereVillage),
      Denial(absl::StrCat("set indicator values of village ", kOtherVillage)),
      Denial(
          absl::StrCat("set indicator values of village ", kNowhereVillage)));
  v1::ListIndicatorValuesRequest list;
  list.set_village_id(kOtherVillage);
  ASSERT_OK_AND_ASSIGN(auto values,
                       env_.Call(&Stub::ListIndicatorValues, list));
  EXPECT_EQ(values.values_size(), 0);
}

TEST_F(ProjectsOracleTest, SummaryOfAnOutOfScopeRegionOrVillageAnswersAlike) {
  auto summary = [&](bool region, const std::string& id) {
    v1::GetSummaryRequest request;
    if (region) {
      request.set_region_id(id);
    } else {
      request.set_village_id(id);
    }
    request.set_period("2022-09");
    return env_.Summary(request, kHuicheOperatorToken).status();
  };
  ExpectSameDenial(
      summary(true, kOtherTownship), summary(true, "411323-nowhere"),
      Denial(absl::StrCat("read the summary of region ", kOtherTownship)),
      Denial("read the summary of region 411323-nowhere"));
  ExpectSameDenial(
      summary(false, kOtherVillage), summary(false, kNowhereVillage),
      Denial(absl::StrCat("read the summary of village ", kOtherVillage)),
      Denial(absl::StrCat("read the summary of village ", kNowhereVillage)));
  // The global admin still learns that the region does not exist.
  v1::GetSummaryRequest request;
  request.set_region_id("411323-nowhere");
  request.set_period("2022-09");
  EXPECT_THAT(env_.Summary(request, kAdminToken),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere"));
}

}  // namespace
}  // namespace fivestar::projects
