// Two project-tracking servers on one PostgreSQL database, as two replicas
// behind a load balancer: a closed month's summary one of them keeps
// follows reports written through the other at once; a request id used
// through one is recognised through the other; either's change feed shows
// what the other wrote.
#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/calendar.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watch_stream.h"

namespace fivestar::projects {
namespace {

using ::fivestar::common::v1::BRANCH_STRONG;
using ::google::protobuf::util::TimeUtil;
using ::testing::SizeIs;
using Stub = v1::ProjectsService::Stub;
using Watch = ::fivestar::testing::WatchStream<v1::Change>;
using namespace ::fivestar::projects::testing;

// 09:00 China time on a day of September 2022.
absl::Time September(int day) {
  return StartOfDay(absl::CivilDay(2022, 9, day)) + absl::Hours(9);
}

class ProjectsReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProjectsHostOptions options;
    options.registry_address = env_.registry().address();
    other_ = env_.StartProjects(env_.database("projects"), options);
    other_stub_ = v1::ProjectsService::NewStub(other_->NewChannel());
  }

  Stub& a() { return env_.stub(); }
  Stub& b() { return *other_stub_; }

  absl::StatusOr<v1::Project> Create(Stub& stub,
                                     const std::string& request_id = "") {
    v1::Project project = RoadProject(kDangziling);
    project.set_star(BRANCH_STRONG);
    project.set_target_quantity(10);
    project.set_start_date("2022-07-01");
    project.set_due_date("2022-12-31");
    v1::CreateProjectRequest request;
    *request.mutable_project() = project;
    request.set_request_id(request_id);
    return ProjectsTestEnv::CallOn(stub, &Stub::CreateProject, request,
                                   kAdminToken);
  }

  absl::Status ReportOn(Stub& stub, const std::string& project_id,
                        double quantity, absl::Time time) {
    v1::CreateProgressReportRequest request;
    request.mutable_report()->set_project_id(project_id);
    request.mutable_report()->set_quantity(quantity);
    *request.mutable_report()->mutable_report_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
    return ProjectsTestEnv::CallOn(stub, &Stub::CreateProgressReport, request,
                                   kAdminToken)
        .status();
  }

  static absl::StatusOr<v1::Summary> SeptemberOf(Stub& stub,
                                                 const std::string& region) {
    v1::GetSummaryRequest request;
    request.set_region_id(region);
    request.set_period("2022-09");
    return ProjectsTestEnv::CallOn(stub, &Stub::GetSummary, request,
                                   kAdminToken);
  }

  ProjectsTestEnv env_;
  std::unique_ptr<ProjectsHost> other_;
  std::unique_ptr<Stub> other_stub_;
};

TEST_F(ProjectsReplicasTest, AKeptSummaryFollowsReportsThroughTheOther) {
  ASSERT_OK_AND_ASSIGN(v1::Project project, Create(a()));
  ASSERT_OK(ReportOn(a(), project.id(), 4, September(1)));
  // September is closed (today is 2022-10-08): the second replica keeps
  // the figures it adds up.
  for (const char* region : {kWest, kHuiche}) {
    ASSERT_OK_AND_ASSIGN(v1::Summary before, SeptemberOf(b(), region));
    EXPECT_EQ(before.tasks_total(), 1) << region;
    EXPECT_EQ(before.tasks_delivered(), 0) << region;
  }
  // The rest of the work, reported through the first replica.
  ASSERT_OK(ReportOn(a(), project.id(), 6, September(20)));
  for (const char* region : {kWest, kHuiche}) {
    ASSERT_OK_AND_ASSIGN(v1::Summary after, SeptemberOf(b(), region));
    EXPECT_EQ(after.tasks_total(), 1) << region;
    EXPECT_EQ(after.tasks_delivered(), 1) << region;
    ASSERT_OK_AND_ASSIGN(v1::Summary same, SeptemberOf(a(), region));
    EXPECT_EQ(same.SerializeAsString(), after.SerializeAsString()) << region;
  }
}

TEST_F(ProjectsReplicasTest, ARequestIdUsedThroughOneIsKnownThroughTheOther) {
  ASSERT_OK_AND_ASSIGN(v1::Project first, Create(a(), "road-2022-09"));
  ASSERT_OK_AND_ASSIGN(v1::Project again, Create(b(), "road-2022-09"));
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.etag(), first.etag());
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Project> all,
                       env_.ListAllProjects(v1::ListProjectsRequest()));
  EXPECT_THAT(all, SizeIs(1));
}

TEST_F(ProjectsReplicasTest, EitherFeedShowsWhatTheOtherWrote) {
  v1::WatchChangesRequest request;
  Watch through_b;
  through_b.context =
      fivestar::testing::NewContext(kAdminToken, absl::Seconds(30));
  through_b.reader = b().WatchChanges(through_b.context.get(), request);
  ASSERT_OK_AND_ASSIGN(v1::Project project, Create(a()));
  ASSERT_OK(ReportOn(a(), project.id(), 4, September(1)));
  std::vector<v1::Change> changes = through_b.Read(2);
  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].sequence(), 1u);
  EXPECT_EQ(changes[1].sequence(), 2u);
  EXPECT_EQ(changes[0].project_id(), project.id());
  EXPECT_EQ(changes[1].project_id(), project.id());
  EXPECT_EQ(changes[1].village_id(), kDangziling);
  through_b.Cancel();
}

}  // namespace
}  // namespace fivestar::projects
