#include "tests/projects/projects_test_env.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/peer_client.h"
#include "common/status.h"
#include "common/calendar.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::projects::testing {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, value.status().ToString().c_str());
    std::abort();
  }
  return *std::move(value);
}

void OrDie(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

}  // namespace

absl::Time StartTime() {
  return absl::FromCivil(absl::CivilSecond(2022, 10, 8, 10, 0, 0),
                         ChinaStandardTime());
}

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(FIVESTAR_SOURCE_DIR, "/", relative);
}

template <typename Message>
std::vector<Message> ReadNdjson(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::vector<Message> messages;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    Message message;
    auto status = google::protobuf::util::JsonStringToMessage(line, &message);
    if (!status.ok()) {
      std::fprintf(stderr, "%s:%d: %s\n", path.c_str(), number,
                   status.ToString().c_str());
      std::abort();
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

template std::vector<registry::v1::RegistryRecord> ReadNdjson(
    const std::string&);
template std::vector<v1::ProjectRecord> ReadNdjson(const std::string&);
template std::vector<v1::IndicatorValue> ReadNdjson(const std::string&);

// --- RegistryHost ------------------------------------------------------------

RegistryHost::RegistryHost(const std::string& database,
                           const Authenticator* tokens) {
  store_ = OrDie(registry::SqliteRegistryStore::Open(database, Clock::System()),
                 "open registry store");
  registry_ = std::make_unique<registry::Registry>(store_.get());
  const Principal admin{"fixture", Role::kAdmin, "*"};
  auto import = OrDie(registry_->StartImport(admin), "start registry import");
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
  feed_ = OrDie(registry::ChangeFeed::Create(store_.get()),
                "open the registry's change feed");
  service_ = std::make_unique<registry::RegistryServiceImpl>(
      registry_.get(), feed_.get(), tokens);
  server_ = std::make_unique<fivestar::testing::TestServer>(
      std::vector<HostedService>{
          {service_.get(),
           registry::v1::RegistryService::service_full_name()}});
}

RegistryHost::~RegistryHost() { server_->Shutdown(); }

// --- ProjectsHost ------------------------------------------------------------

ProjectsHost::ProjectsHost(const std::string& database,
                           const ProjectsHostOptions& options,
                           const Authenticator* tokens, const Clock* clock) {
  store_ =
      OrDie(SqliteProjectsStore::Open(database, clock), "open projects store");
  RegistryDirectoryOptions directory_options;
  directory_options.bearer_token = options.registry_token;
  directory_options.deadline = options.registry_deadline;
  directory_options.cache_ttl = options.registry_cache_ttl;
  directory_ = std::make_unique<RegistryVillageDirectory>(
      NewPeerChannel(options.registry_address), directory_options, clock);
  jurisdiction_ = std::make_unique<Jurisdiction>(directory_.get());
  catalogue_ = std::make_unique<IndicatorCatalogue>(store_.get());
  OrDie(catalogue_->SeedDefaults().status(), "seed the catalogue");
  tracker_ = std::make_unique<ProjectTracker>(store_.get(), jurisdiction_.get(),
                                              clock);
  ledger_ = std::make_unique<IndicatorLedger>(store_.get(), jurisdiction_.get(),
                                              clock);
  summaries_ = std::make_unique<ProgressSummaries>(store_.get(),
                                                   jurisdiction_.get(), clock);
  feed_ = OrDie(ChangeFeed::Create(store_.get(), jurisdiction_.get()),
                "open the change feed");
  service_ = std::make_unique<ProjectsServiceImpl>(
      ProjectsLogic{tracker_.get(), catalogue_.get(), ledger_.get(),
                    summaries_.get(), feed_.get()},
      tokens);
  server_ = std::make_unique<fivestar::testing::TestServer>(
      std::vector<HostedService>{
          {service_.get(), v1::ProjectsService::service_full_name()}});
}

ProjectsHost::~ProjectsHost() { Stop(); }

void ProjectsHost::Stop() {
  service_->Shutdown();
  server_->Shutdown();
}

// --- ProjectsTestEnv ---------------------------------------------------------

ProjectsTestEnv::ProjectsTestEnv() : clock_(StartTime()) {
  tokens_ = std::make_unique<Authenticator>(fivestar::testing::TestTokenTable({
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
  registry_ =
      std::make_unique<RegistryHost>(dir_.File("registry.db"), tokens_.get());
  ProjectsHostOptions options;
  options.registry_address = registry_->address();
  projects_ = StartProjects(dir_.File("projects.db"), options);
  stub_ = v1::ProjectsService::NewStub(projects_->NewChannel());
}

ProjectsTestEnv::~ProjectsTestEnv() {
  stub_.reset();
  projects_.reset();
  registry_.reset();
}

std::unique_ptr<ProjectsHost> ProjectsTestEnv::StartProjects(
    const std::string& database, const ProjectsHostOptions& options) {
  return std::make_unique<ProjectsHost>(database, options, tokens_.get(),
                                        &clock_);
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
