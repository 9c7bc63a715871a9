// A bounded load on project tracking over real gRPC: several clients create
// projects (with request ids, retried), report progress on their own,
// update, cancel and delete shared ones on etags (some stale on purpose),
// and read, list and summarize, a fixed number of operations each;
// afterwards the projects and the villages' summaries are exactly what the
// acknowledged answers imply (tests/testing/acknowledged_writes.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/acknowledged_writes.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::AcknowledgedWrites;
using ::fivestar::testing::RunClients;
using ::fivestar::testing::Version;
using namespace ::fivestar::projects::testing;
using Stub = v1::ProjectsService::Stub;

// The fake clock's month, which the summaries are of.
constexpr char kMonth[] = "2022-10";
constexpr int kClients = 8;
constexpr int kOperations = 60;
constexpr const char* kLoadVillages[] = {kMaohe, kDangziling};

Version VersionOf(const v1::Project& project) {
  return {project.etag(),
          absl::StrCat(project.title(), "|", project.target_quantity(), "|",
                       v1::ProjectStatus_Name(project.status()), "|",
                       project.delivered_quantity(), "|",
                       project.report_count(), "|", project.cancel_reason())};
}

class ProjectsLoadTest : public ::testing::Test {
 protected:
  // Creates a project (retrying it once with the same request id, which
  // must answer the same project) into `ledger`; its id, or "" when it
  // failed.
  std::string Create(AcknowledgedWrites& ledger, int c, int i) {
    v1::Project project = RoadProject(kLoadVillages[c % 2]);
    project.set_title(absl::StrCat("负载-", c, "-", i));
    const std::string request_id = absl::StrCat("load-", c, "-", i);
    absl::StatusOr<v1::Project> created =
        env_.CreateProject(project, kAdminToken, request_id);
    if (!created.ok()) {
      ledger.Unexpected(absl::StrCat("CreateProject ", request_id),
                        created.status());
      return "";
    }
    absl::StatusOr<v1::Project> retried =
        env_.CreateProject(project, kAdminToken, request_id);
    if (!retried.ok() || retried->id() != created->id() ||
        retried->etag() != created->etag()) {
      ledger.Unexpected(
          absl::StrCat("CreateProject retry ", request_id, " answered ",
                       retried.ok() ? retried->ShortDebugString() : "", " for ",
                       created->ShortDebugString()),
          retried.status());
    }
    ledger.Created(created->id(), VersionOf(*created));
    return created->id();
  }

  // A progress report on one of the client's own projects (no other client
  // writes them, so the newest etag it saw is current), retried once.
  void Report(const std::string& id, double quantity, int c, int i) {
    std::optional<std::string> etag = owned_.LastSeen(id);
    if (!etag.has_value()) return;
    const std::string request_id = absl::StrCat("report-", c, "-", i);
    absl::StatusOr<v1::CreateProgressReportResponse> report =
        env_.Report(id, quantity, kAdminToken, request_id);
    owned_.Answered("CreateProgressReport", id, *etag, report.status(),
                    report.ok() ? VersionOf(report->project()) : Version());
    if (!report.ok()) return;
    absl::StatusOr<v1::CreateProgressReportResponse> retried =
        env_.Report(id, quantity, kAdminToken, request_id);
    if (!retried.ok() || retried->report().id() != report->report().id() ||
        retried->project().etag() != report->project().etag()) {
      owned_.Unexpected(absl::StrCat("CreateProgressReport retry ", request_id),
                        retried.status());
    }
  }

  // Changes the title and target of a shared project on the newest etag a
  // client saw; with `again`, repeats it on the etag it consumed (stale on
  // purpose).
  void Update(const std::string& id, int c, int i, bool again) {
    std::optional<std::string> etag = shared_.LastSeen(id);
    if (!etag.has_value()) return;
    v1::UpdateProjectRequest request;
    request.mutable_project()->set_id(id);
    request.mutable_project()->set_etag(*etag);
    request.mutable_project()->set_title(absl::StrCat("改-", c, "-", i));
    request.mutable_project()->set_target_quantity(100 + c * 100 + i);
    request.mutable_update_mask()->add_paths("title");
    request.mutable_update_mask()->add_paths("target_quantity");
    absl::StatusOr<v1::Project> updated =
        env_.Call(&Stub::UpdateProject, request);
    shared_.Answered("UpdateProject", id, *etag, updated.status(),
                     updated.ok() ? VersionOf(*updated) : Version());
    if (!updated.ok() || !again) return;
    request.mutable_project()->set_title(absl::StrCat("旧-", c, "-", i));
    absl::StatusOr<v1::Project> stale =
        env_.Call(&Stub::UpdateProject, request);
    shared_.Answered("UpdateProject", id, *etag, stale.status(),
                     stale.ok() ? VersionOf(*stale) : Version());
  }

  void Cancel(const std::string& id) {
    std::optional<std::string> etag = shared_.LastSeen(id);
    if (!etag.has_value()) return;
    v1::CancelProjectRequest request;
    request.set_id(id);
    request.set_etag(*etag);
    request.set_reason("负载测试取消");
    absl::StatusOr<v1::Project> cancelled =
        env_.Call(&Stub::CancelProject, request);
    shared_.Answered("CancelProject", id, *etag, cancelled.status(),
                     cancelled.ok() ? VersionOf(*cancelled) : Version());
  }

  void Delete(AcknowledgedWrites& ledger, const std::string& id) {
    std::optional<std::string> etag = ledger.LastSeen(id);
    if (!etag.has_value()) return;
    v1::DeleteProjectRequest request;
    request.set_id(id);
    request.set_etag(*etag);
    absl::StatusOr<google::protobuf::Empty> deleted =
        env_.Call(&Stub::DeleteProject, request);
    ledger.Answered("DeleteProject", id, *etag, deleted.status(), std::nullopt);
  }

  void Read(const std::string& id, int c) {
    v1::GetProjectRequest get;
    get.set_id(id);
    absl::StatusOr<v1::Project> project = env_.Call(&Stub::GetProject, get);
    if (!project.ok() && !absl::IsNotFound(project.status())) {
      shared_.Unexpected(absl::StrCat("GetProject ", id), project.status());
    }
    v1::ListProjectsRequest list;
    list.set_village_id(kLoadVillages[c % 2]);
    list.set_page_size(5);
    absl::StatusOr<std::vector<v1::Project>> all = env_.ListAllProjects(list);
    if (!all.ok()) shared_.Unexpected("ListProjects", all.status());
    v1::GetSummaryRequest summary;
    summary.set_village_id(kLoadVillages[c % 2]);
    summary.set_period(kMonth);
    absl::StatusOr<v1::Summary> got = env_.Summary(summary);
    if (!got.ok()) shared_.Unexpected("GetSummary", got.status());
  }

  // Every project of the load villages, by id.
  absl::StatusOr<std::map<std::string, v1::Project>> AllProjects() {
    std::map<std::string, v1::Project> projects;
    for (const char* village : kLoadVillages) {
      v1::ListProjectsRequest list;
      list.set_village_id(village);
      list.set_page_size(7);
      ASSIGN_OR_RETURN(std::vector<v1::Project> page,
                       env_.ListAllProjects(list));
      for (v1::Project& project : page) projects[project.id()] = project;
    }
    return projects;
  }

  ProjectsTestEnv env_;
  // Projects every client may write (on etags), and projects only their
  // creator writes (progress reports are not conditional).
  AcknowledgedWrites shared_;
  AcknowledgedWrites owned_;
  // Each client's own projects.
  std::vector<std::string> mine_[kClients];
};

TEST_F(ProjectsLoadTest, ConcurrentClientsLeaveExactlyWhatTheyWereTold) {
  std::map<std::string, v1::Summary> before;
  for (const char* village : kLoadVillages) {
    v1::GetSummaryRequest request;
    request.set_village_id(village);
    request.set_period(kMonth);
    ASSERT_OK_AND_ASSIGN(before[village], env_.Summary(request));
  }
  ASSERT_OK_AND_ASSIGN(auto existing, AllProjects());

  const int skipped = RunClients(kClients, kOperations, [&](int c, int i) {
    std::minstd_rand random(c * 1000 + i);
    const std::vector<std::string> keys = shared_.Keys();
    const std::string any = keys.empty() ? "" : keys[random() % keys.size()];
    switch (i % 6) {
      case 0:
        Create(shared_, c, i);
        break;
      case 1:
        if (i % 12 == 1) {
          const std::string id = Create(owned_, c, i);
          if (!id.empty()) mine_[c].push_back(id);
        } else if (!any.empty()) {
          Update(any, c, i, true);
        }
        break;
      case 2:
        // Reports on own projects: some deliver, some go past the target.
        if (!mine_[c].empty()) {
          Report(mine_[c][random() % mine_[c].size()], 200 + 100 * (i % 5), c,
                 i);
        }
        break;
      case 3:
        if (!any.empty()) Update(any, c, i, false);
        break;
      case 4:
        if (!any.empty()) Read(any, c);
        break;
      case 5:
        if (any.empty()) break;
        if (i % 12 == 5) {
          Cancel(any);
        } else {
          Delete(shared_, any);
        }
        break;
    }
  });
  EXPECT_EQ(skipped, 0);
  std::cout << "shared projects: " << shared_.Tally()
            << "\nowned projects: " << owned_.Tally() << "\n";

  ASSERT_OK_AND_ASSIGN(auto projects, AllProjects());
  std::map<std::string, Version> shared, owned;
  std::map<std::string, int> added;  // per status, load projects alive
  for (const auto& [id, project] : projects) {
    if (existing.count(id) > 0) continue;
    const std::vector<std::string> owned_keys = owned_.Keys();
    if (std::find(owned_keys.begin(), owned_keys.end(), id) !=
        owned_keys.end()) {
      owned[id] = VersionOf(project);
    } else {
      shared[id] = VersionOf(project);
    }
    ++added[absl::StrCat(project.village_id(), "|",
                         v1::ProjectStatus_Name(project.status()))];
  }
  for (AcknowledgedWrites* ledger : {&shared_, &owned_}) {
    const std::vector<std::string> errors =
        ledger->Check(ledger == &shared_ ? shared : owned);
    EXPECT_THAT(errors, ::testing::IsEmpty());
  }
  // The villages' summaries count exactly the projects left.
  for (const char* village : kLoadVillages) {
    v1::GetSummaryRequest request;
    request.set_village_id(village);
    request.set_period(kMonth);
    ASSERT_OK_AND_ASSIGN(v1::Summary after, env_.Summary(request));
    const v1::Summary& was = before[village];
    const auto count = [&](const char* status) {
      return added[absl::StrCat(village, "|", status)];
    };
    EXPECT_EQ(after.tasks_planned(), was.tasks_planned() + count("PLANNED"))
        << village;
    EXPECT_EQ(after.tasks_in_progress(),
              was.tasks_in_progress() + count("IN_PROGRESS"))
        << village;
    EXPECT_EQ(after.tasks_delivered(),
              was.tasks_delivered() + count("DELIVERED"))
        << village;
    EXPECT_EQ(after.tasks_cancelled(),
              was.tasks_cancelled() + count("CANCELLED"))
        << village;
  }
  // The load did what it is for.
  EXPECT_GT(shared_.Refusals(absl::StatusCode::kAborted), 0);
  EXPECT_GT(owned_.Acknowledged(), kClients);
  EXPECT_GT(shared_.Acknowledged(), kClients * kOperations / 6);
}

}  // namespace
}  // namespace fivestar::projects
