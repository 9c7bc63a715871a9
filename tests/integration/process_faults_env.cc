#include "tests/integration/process_faults_env.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "tests/testing/import_chunks.h"
#include "tests/testing/ndjson.h"

namespace fivestar::faults {

namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
namespace scoring_v1 = ::fivestar::scoring::v1;

testing::ServiceProcessOptions RegistryOptions(
    Sandbox& sandbox, const std::string& database,
    const std::vector<std::string>& extra) {
  testing::ServiceProcessOptions options;
  options.service = "registry";
  options.flags = {"--database=" + sandbox.databases.Get(database),
                   "--disable_auth"};
  options.flags.insert(options.flags.end(), extra.begin(), extra.end());
  options.log_path = sandbox.dir.File("registry.log");
  return options;
}

testing::ServiceProcessOptions ProjectsOptions(
    Sandbox& sandbox, const std::string& database,
    const std::string& registry_address,
    const std::vector<std::string>& extra) {
  testing::ServiceProcessOptions options;
  options.service = "projects";
  options.flags = {"--database=" + sandbox.databases.Get(database),
                   "--disable_auth", "--registry=" + registry_address};
  options.flags.insert(options.flags.end(), extra.begin(), extra.end());
  options.log_path = sandbox.dir.File("projects.log");
  return options;
}

testing::ServiceProcessOptions ScoringOptions(
    Sandbox& sandbox, const std::string& database,
    const std::string& registry_address, const std::string& projects_address,
    const std::string& redis_address, const std::vector<std::string>& extra) {
  testing::ServiceProcessOptions options;
  options.service = "scoring";
  options.flags = {"--database=" + sandbox.databases.Get(database),
                   "--disable_auth",
                   "--registry=" + registry_address,
                   "--projects=" + projects_address,
                   "--redis=" + redis_address,
                   "--follow_feeds=false"};
  options.flags.insert(options.flags.end(), extra.begin(), extra.end());
  options.log_path = sandbox.dir.File("scoring.log");
  return options;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

std::vector<registry_v1::RegistryRecord> HuicheRegistry() {
  return testing::ReadNdjson<registry_v1::RegistryRecord>(
      testing::SourcePath("data/huiche/registry.ndjson"));
}

std::vector<registry_v1::RegistryRecord> SyntheticVillages(int count,
                                                           int target_level) {
  std::vector<registry_v1::RegistryRecord> records;
  for (int i = 0; i < count; ++i) {
    registry_v1::Village* village = records.emplace_back().mutable_village();
    village->set_id(absl::StrFormat("411323-huiche-north-s%04d", i));
    village->set_name(absl::StrCat("测试村", i));
    village->set_region_id("411323-huiche-north");
    village->set_kind(registry_v1::VILLAGE);
    village->set_committee_members(5);
    village->set_households(100 + i);
    village->set_target_level(target_level);
    village->set_target_year(2022);
  }
  return records;
}

std::vector<projects_v1::ProjectRecord> HuicheProjects() {
  return testing::ReadNdjson<projects_v1::ProjectRecord>(
      testing::SourcePath("data/huiche/projects.ndjson"));
}

projects_v1::SetIndicatorValuesRequest HuicheIndicators() {
  projects_v1::SetIndicatorValuesRequest request;
  for (auto& value : testing::ReadNdjson<projects_v1::IndicatorValue>(
           testing::SourcePath("data/huiche/indicators.ndjson"))) {
    *request.add_values() = std::move(value);
  }
  request.set_request_id("huiche-2022-09");
  return request;
}

namespace {

template <typename Stub, typename Request, typename Response, typename Record>
absl::Status WholeImport(
    std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
        Stub::*method)(grpc::ClientContext*),
    Stub& stub, const std::vector<Record>& records, size_t chunk) {
  auto context = Context(absl::Seconds(60));
  auto stream = (stub.*method)(context.get());
  for (size_t begin = 0; begin < records.size(); begin += chunk) {
    if (!stream->Write(
            testing::ImportChunk<Request>(records, begin, begin + chunk))) {
      break;
    }
  }
  stream->WritesDone();
  Response response;
  while (stream->Read(&response)) {
  }
  return FromGrpcStatus(stream->Finish());
}

}  // namespace

absl::Status ImportRegistry(
    RegistryStub& stub, const std::vector<registry_v1::RegistryRecord>& records,
    size_t chunk) {
  return WholeImport(&RegistryStub::ImportRegistry, stub, records, chunk);
}

absl::Status ImportProjects(
    ProjectsStub& stub, const std::vector<projects_v1::ProjectRecord>& records,
    size_t chunk) {
  return WholeImport(&ProjectsStub::ImportProjects, stub, records, chunk);
}

absl::StatusOr<std::vector<std::string>> RegistryState(RegistryStub& stub) {
  auto context = Context();
  auto stream = stub.ExportRegistry(context.get(), {});
  std::vector<std::string> state;
  registry_v1::ExportRegistryResponse response;
  while (stream->Read(&response)) {
    for (registry_v1::RegistryRecord& record : *response.mutable_records()) {
      if (record.has_region()) {
        registry_v1::Region* region = record.mutable_region();
        region->clear_create_time();
        region->clear_update_time();
        region->clear_etag();
      } else {
        registry_v1::Village* village = record.mutable_village();
        village->clear_create_time();
        village->clear_update_time();
        village->clear_etag();
      }
      state.push_back(record.ShortDebugString());
    }
  }
  RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  return state;
}

absl::StatusOr<std::map<std::string, projects_v1::ProgressReport>> ReportsOf(
    ProjectsStub& stub, const std::string& project_id) {
  std::map<std::string, projects_v1::ProgressReport> reports;
  projects_v1::ListProgressReportsRequest request;
  request.set_project_id(project_id);
  request.set_page_size(1000);
  do {
    auto context = Context();
    projects_v1::ListProgressReportsResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(
        stub.ListProgressReports(context.get(), request, &response)));
    for (const projects_v1::ProgressReport& report : response.reports()) {
      if (!reports.emplace(report.request_id(), report).second) {
        return absl::InternalError(absl::StrCat(
            "request_id ", report.request_id(), " is listed twice"));
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return reports;
}

absl::StatusOr<projects_v1::Project> GetProject(ProjectsStub& stub,
                                                const std::string& id) {
  auto context = Context();
  projects_v1::GetProjectRequest request;
  request.set_id(id);
  projects_v1::Project project;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub.GetProject(context.get(), request, &project)));
  return project;
}

absl::StatusOr<std::vector<std::string>> ProjectsState(ProjectsStub& stub) {
  std::vector<std::string> state;
  projects_v1::ListProjectsRequest request;
  request.set_page_size(1000);
  do {
    auto context = Context();
    projects_v1::ListProjectsResponse response;
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.ListProjects(context.get(), request, &response)));
    for (projects_v1::Project& project : *response.mutable_projects()) {
      ASSIGN_OR_RETURN(auto reports, ReportsOf(stub, project.id()));
      project.clear_id();
      project.clear_create_time();
      project.clear_update_time();
      project.clear_etag();
      project.clear_overdue();
      std::string text = project.ShortDebugString();
      for (auto& [request_id, report] : reports) {
        report.clear_id();
        report.clear_project_id();
        report.clear_create_time();
        absl::StrAppend(&text, "\n  report ", report.ShortDebugString());
      }
      state.push_back(std::move(text));
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  std::sort(state.begin(), state.end());
  return state;
}

absl::StatusOr<std::map<std::string, scoring_v1::Evaluation>> StoredEvaluations(
    ScoringStub& stub, const std::vector<std::string>& villages) {
  std::map<std::string, scoring_v1::Evaluation> stored;
  for (const std::string& village : villages) {
    auto context = Context();
    scoring_v1::GetEvaluationRequest request;
    request.set_village_id(village);
    request.set_period(kPeriod);
    scoring_v1::Evaluation evaluation;
    const absl::Status status =
        FromGrpcStatus(stub.GetEvaluation(context.get(), request, &evaluation));
    if (absl::IsNotFound(status)) continue;
    RETURN_IF_ERROR(status);
    evaluation.clear_evaluate_time();
    stored.emplace(village, std::move(evaluation));
  }
  return stored;
}

absl::Status EvaluateRegion(ScoringStub& stub, const std::string& region) {
  auto context = Context(absl::Seconds(60));
  scoring_v1::EvaluateRegionRequest request;
  request.set_region_id(region);
  request.set_period(kPeriod);
  auto stream = stub.EvaluateRegion(context.get(), request);
  scoring_v1::EvaluateRegionResponse response;
  bool done = false;
  while (stream->Read(&response)) {
    done = response.phase() == scoring_v1::EvaluateRegionResponse::DONE;
    if (response.villages_failed() > 0) {
      context->TryCancel();
      stream->Finish();
      return absl::InternalError(absl::StrCat(
          "EvaluateRegion ", region, ": ", response.villages_failed(),
          " villages failed, e.g. ", response.failures(0).ShortDebugString()));
    }
  }
  RETURN_IF_ERROR(FromGrpcStatus(stream->Finish()));
  if (!done) return absl::InternalError("EvaluateRegion ended without DONE");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Board(ScoringStub& stub,
                                               const std::string& region,
                                               bool* degraded) {
  auto context = Context();
  scoring_v1::GetLeaderboardRequest request;
  request.set_region_id(region);
  request.set_period(kPeriod);
  request.set_page_size(1000);
  scoring_v1::GetLeaderboardResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub.GetLeaderboard(context.get(), request, &response)));
  if (degraded != nullptr) *degraded = response.degraded();
  std::vector<std::string> board;
  for (const scoring_v1::LeaderboardEntry& entry : response.entries()) {
    board.push_back(absl::StrCat(entry.village_id(), " stars=", entry.stars(),
                                 " points=", entry.points()));
  }
  return board;
}

std::vector<std::string> VillageIds(
    const std::vector<registry_v1::RegistryRecord>& records) {
  std::vector<std::string> ids;
  for (const registry_v1::RegistryRecord& record : records) {
    if (record.has_village()) ids.push_back(record.village().id());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace fivestar::faults
