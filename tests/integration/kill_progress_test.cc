// SIGKILL during a stream of progress reports: four client threads send
// CreateProgressReport (each with its own request_id) to a project
// tracking process that is killed mid-way. After a restart every
// acknowledged report is there, each report is either wholly there (listed
// and counted in its project's totals) or not at all, and sending every
// request again with the same request ids ends with each report recorded
// exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "tests/integration/process_faults_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::DescribeWaitStatus;
using ::fivestar::testing::ServiceProcess;
using ::google::protobuf::util::TimeUtil;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;

constexpr int kThreads = 4;
constexpr int kReportsPerThread = 100;
// Acknowledged reports after which the server is killed.
constexpr int kKillAfter = 60;

// The requests of thread `t` on project `project_id`: quantities 1, 2, 3,
// ... at report times one minute apart.
std::vector<projects_v1::CreateProgressReportRequest> RequestsOf(
    int t, const std::string& project_id) {
  std::vector<projects_v1::CreateProgressReportRequest> requests;
  for (int i = 0; i < kReportsPerThread; ++i) {
    projects_v1::ProgressReport* report =
        requests.emplace_back().mutable_report();
    report->set_project_id(project_id);
    report->set_quantity(i + 1);
    report->set_note(absl::StrCat("thread ", t, " report ", i));
    *report->mutable_report_time() =
        TimeUtil::SecondsToTimestamp(1664582400 + 60 * i);  // 2022-10-01
    report->set_request_id(absl::StrCat("t", t, "-r", i));
  }
  return requests;
}

absl::StatusOr<projects_v1::CreateProgressReportResponse> Send(
    ProjectsStub& stub,
    const projects_v1::CreateProgressReportRequest& request) {
  auto context = Context(absl::Seconds(10));
  projects_v1::CreateProgressReportResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      stub.CreateProgressReport(context.get(), request, &response)));
  return response;
}

TEST(KillDuringProgressReportsTest, EachReportIsWhollyThereOrAbsent) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  {
    auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), 100));
  }
  ASSERT_OK_AND_ASSIGN(auto projects,
                       ServiceProcess::Start(ProjectsOptions(
                           sandbox, "projects", registry->address())));
  auto stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());

  // One project per thread, each in its own village.
  const std::vector<std::string> villages = VillageIds(HuicheRegistry());
  std::vector<std::string> project_ids;
  std::vector<std::vector<projects_v1::CreateProgressReportRequest>> requests;
  for (int t = 0; t < kThreads; ++t) {
    projects_v1::CreateProjectRequest create;
    create.set_request_id(absl::StrCat("project-", t));
    projects_v1::Project* project = create.mutable_project();
    project->set_village_id(villages[t]);
    project->set_title(absl::StrCat("道路硬化 ", t));
    project->set_star(common::v1::INDUSTRY_THRIVING);
    project->set_target_quantity(1e6);
    project->set_unit("m");
    project->set_start_date("2022-01-01");
    project->set_due_date("2023-12-31");
    auto context = Context();
    projects_v1::Project created;
    ASSERT_OK(
        FromGrpcStatus(stub->CreateProject(context.get(), create, &created)));
    project_ids.push_back(created.id());
    requests.push_back(RequestsOf(t, created.id()));
  }

  // Four threads report until the server dies; each records the request ids
  // acknowledged OK (with the report id the server gave).
  absl::Mutex mu;
  std::map<std::string, std::string> acknowledged;  // request_id -> report id
  std::atomic<int> acks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto own = projects_v1::ProjectsService::NewStub(projects->NewChannel());
      for (const auto& request : requests[t]) {
        absl::StatusOr<projects_v1::CreateProgressReportResponse> response =
            Send(*own, request);
        if (!response.ok()) break;  // The server died.
        absl::MutexLock lock(&mu);
        acknowledged[request.report().request_id()] = response->report().id();
        ++acks;
      }
    });
  }
  while (acks.load() < kKillAfter &&
         acks.load() < kThreads * kReportsPerThread) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  projects->process().Signal(SIGKILL);
  for (std::thread& thread : threads) thread.join();
  ASSERT_OK_AND_ASSIGN(int status, projects->process().Wait(absl::Seconds(30)));
  EXPECT_EQ(DescribeWaitStatus(status), "killed by signal 9");
  ASSERT_OK(projects->Restart());
  stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());

  // Every acknowledged report is there; every report there is counted in
  // its project (no half-applied report), and was sent.
  int present = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(auto reports, ReportsOf(*stub, project_ids[t]));
    ASSERT_OK_AND_ASSIGN(projects_v1::Project project,
                         GetProject(*stub, project_ids[t]));
    double delivered = 0;
    for (const auto& [request_id, report] : reports) {
      delivered += report.quantity();
      EXPECT_TRUE(absl::StartsWith(request_id, absl::StrCat("t", t, "-")))
          << request_id << " listed on project " << t;
    }
    EXPECT_EQ(project.delivered_quantity(), delivered) << "project " << t;
    EXPECT_EQ(project.report_count(), static_cast<int>(reports.size()))
        << "project " << t;
    present += static_cast<int>(reports.size());
    for (const auto& request : requests[t]) {
      const std::string& id = request.report().request_id();
      auto ack = acknowledged.find(id);
      if (ack == acknowledged.end()) continue;
      auto it = reports.find(id);
      ASSERT_NE(it, reports.end()) << "acknowledged report " << id << " lost";
      EXPECT_EQ(it->second.id(), ack->second);
      EXPECT_EQ(it->second.quantity(), request.report().quantity());
      EXPECT_EQ(it->second.note(), request.report().note());
    }
  }
  EXPECT_GE(present, static_cast<int>(acknowledged.size()));
  // How far the reports got, for the test's XML output.
  RecordProperty("acknowledged", static_cast<int>(acknowledged.size()));
  RecordProperty("present_after_restart", present);

  // Everything again, with the same request ids: each report once.
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& request : requests[t]) {
      ASSERT_OK_AND_ASSIGN(auto response, Send(*stub, request));
      auto ack = acknowledged.find(request.report().request_id());
      if (ack != acknowledged.end()) {
        EXPECT_EQ(response.report().id(), ack->second)
            << "a retry of " << ack->first << " recorded a new report";
      }
    }
  }
  const double expected_total = kReportsPerThread * (kReportsPerThread + 1) / 2;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(auto reports, ReportsOf(*stub, project_ids[t]));
    ASSERT_OK_AND_ASSIGN(projects_v1::Project project,
                         GetProject(*stub, project_ids[t]));
    EXPECT_EQ(reports.size(), static_cast<size_t>(kReportsPerThread));
    EXPECT_EQ(project.report_count(), kReportsPerThread);
    EXPECT_EQ(project.delivered_quantity(), expected_total);
    for (const auto& request : requests[t]) {
      EXPECT_TRUE(reports.count(request.report().request_id()))
          << request.report().request_id();
    }
  }
}

}  // namespace
}  // namespace fivestar::faults
