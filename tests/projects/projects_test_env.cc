#include "tests/projects/projects_test_env.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/status.h"
#include "tests/testing/or_die.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::projects::testing {

using ::fivestar::testing::OrDie;

absl::Time StartTime() {
  return absl::FromCivil(absl::CivilSecond(2022, 10, 8, 10, 0, 0),
                         ChinaStandardTime());
}

namespace {

// The Huiche tree plus a second township of the same county with one
// village, loaded through the registry's own import.
void LoadRegistryFixture(registry::Registry& registry) {
  const Principal admin{"fixture", Role::kAdmin, "*"};
  auto import = OrDie(registry.StartImport(admin), "start registry import");
  registry::v1::ImportRegistryRequest chunk;
  for (auto& record : ReadNdjson<registry::v1::RegistryRecord>(
           SourcePath("data/huiche/registry.ndjson"))) {
    *chunk.add_records() = std::move(record);
  }
  registry::v1::RegistryRecord* other = chunk.add_records();
  other->mutable_region()->set_id(kOtherTownship);
  other->mutable_region()->set_kind(registry::v1::TOWNSHIP);
  other->mutable_region()->set_name("另一个镇");
  other->mutable_region()->set_parent_id("411323");
  registry::v1::Village* village = chunk.add_records()->mutable_village();
  village->set_id(kOtherVillage);
  village->set_name("另一个村");
  village->set_region_id(kOtherTownship);
  village->set_kind(registry::v1::VILLAGE);
  OrDie(import->Add(chunk), "add registry records");
  OrDie(import->Finish().status(), "import registry records");
}

}  // namespace

// --- ProjectsTestEnv ---------------------------------------------------------

ProjectsTestEnv::ProjectsTestEnv() : clock_(StartTime()) {
  tokens_ = std::make_shared<Authenticator>(fivestar::testing::TestTokenTable({
      {kAdminToken, "admin", "*", "province-admin"},
      {kViewerToken, "viewer", "*", "province-auditor"},
      {kProjectsServiceToken, "viewer", "*", "projects-service"},
      {kHuicheAdminToken, "admin", kHuiche, "huiche-admin"},
      {kHuicheOperatorToken, "operator", kHuiche, "huiche-operator"},
      {kHuicheReporterToken, "reporter", kHuiche, "huiche-reporter"},
      {kHuicheViewerToken, "viewer", kHuiche, "huiche-viewer"},
      {kWestViewerToken, "viewer", kWest, "west-viewer"},
      {kDangzilingReporterToken, "reporter", kDangziling,
       "dangziling-reporter"},
      {kDangzilingViewerToken, "viewer", kDangziling, "dangziling-viewer"},
      {kOtherOperatorToken, "operator", kOtherTownship, "other-operator"},
  }));
  registry_ = std::make_unique<RegistryHost>(databases_.Get("registry"),
                                             tokens_, Clock::System());
  LoadRegistryFixture(registry_->registry());
  ProjectsHostOptions options;
  options.registry_address = registry_->address();
  projects_ = StartProjects(databases_.Get("projects"), options);
  stub_ = v1::ProjectsService::NewStub(projects_->NewChannel());
}

ProjectsTestEnv::~ProjectsTestEnv() {
  stub_.reset();
  projects_.reset();
  registry_.reset();
}

std::unique_ptr<ProjectsHost> ProjectsTestEnv::StartProjects(
    const std::string& database, const ProjectsHostOptions& options) {
  return std::make_unique<ProjectsHost>(
      database, options.registry_address, options.registry_token, tokens_,
      &clock_, [&options](ProjectsServerOptions& server) {
        server.registry.deadline = options.registry_deadline;
        server.registry.cache_ttl = options.registry_cache_ttl;
      });
}

absl::StatusOr<v1::Project> ProjectsTestEnv::CreateProject(
    const v1::Project& project, const std::string& token,
    const std::string& request_id) {
  v1::CreateProjectRequest request;
  *request.mutable_project() = project;
  request.set_request_id(request_id);
  return Call(&v1::ProjectsService::Stub::CreateProject, request, token);
}

absl::StatusOr<v1::CreateProgressReportResponse> ProjectsTestEnv::Report(
    const std::string& project_id, double quantity, const std::string& token,
    const std::string& request_id, const std::string& note) {
  v1::CreateProgressReportRequest request;
  request.mutable_report()->set_project_id(project_id);
  request.mutable_report()->set_quantity(quantity);
  request.mutable_report()->set_request_id(request_id);
  request.mutable_report()->set_note(note);
  return Call(&v1::ProjectsService::Stub::CreateProgressReport, request, token);
}

absl::StatusOr<std::vector<v1::Project>> ProjectsTestEnv::ListAllProjects(
    v1::ListProjectsRequest request, const std::string& token) {
  std::vector<v1::Project> out;
  // Bounded: no fixture holds anywhere near 1000 pages.
  for (int page = 0; page < 1000; ++page) {
    ASSIGN_OR_RETURN(
        v1::ListProjectsResponse response,
        Call(&v1::ProjectsService::Stub::ListProjects, request, token));
    for (const v1::Project& project : response.projects()) {
      out.push_back(project);
    }
    if (response.next_page_token().empty()) return out;
    request.set_page_token(response.next_page_token());
  }
  return absl::InternalError("ListProjects did not end");
}

absl::StatusOr<v1::Summary> ProjectsTestEnv::Summary(
    v1::GetSummaryRequest request, const std::string& token) {
  return Call(&v1::ProjectsService::Stub::GetSummary, request, token);
}

absl::StatusOr<v1::ImportProjectsResponse> ProjectsTestEnv::Import(
    const std::vector<v1::ProjectRecord>& records, const std::string& token,
    bool validate_only, int chunk_size) {
  std::unique_ptr<grpc::ClientContext> context =
      fivestar::testing::NewContext(token, absl::Seconds(60));
  auto stream = stub_->ImportProjects(context.get());
  v1::ImportProjectsResponse last;
  size_t next = 0;
  bool first = true;
  bool broken = false;
  while (!broken && (first || next < records.size())) {
    v1::ImportProjectsRequest chunk;
    chunk.set_validate_only(validate_only);
    for (int i = 0; i < chunk_size && next < records.size(); ++i) {
      *chunk.add_records() = records[next++];
    }
    first = false;
    if (!stream->Write(chunk) || !stream->Read(&last)) broken = true;
  }
  stream->WritesDone();
  while (stream->Read(&last)) {
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return last;
}

v1::Project RoadProject(const std::string& village) {
  v1::Project project;
  project.set_village_id(village);
  project.set_title("滨河南岸路基拓宽");
  project.set_title_en("Riverside south roadbed widening");
  project.set_star(fivestar::common::v1::BRANCH_STRONG);
  project.set_target_quantity(780);
  project.set_unit("m");
  project.set_start_date("2022-03-01");
  project.set_due_date("2022-12-31");
  project.set_owner("王世平");
  return project;
}

}  // namespace fivestar::projects::testing
