// The gRPC face of project tracking: authenticates each call, hands it to
// the logic classes (ProjectTracker, IndicatorCatalogue, IndicatorLedger,
// ProgressSummaries, ChangeFeed) and maps the result onto the wire.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVICE_H_
#define FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVICE_H_

#include <string>
#include <vector>

#include "common/rpc.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "services/projects/change_feed.h"
#include "services/projects/indicator_catalogue.h"
#include "services/projects/indicator_ledger.h"
#include "services/projects/progress_summaries.h"
#include "services/projects/project_tracker.h"

namespace fivestar::projects {

// The logic the service hands calls to; none is owned.
struct ProjectsLogic {
  ProjectTracker* tracker;
  IndicatorCatalogue* catalogue;
  IndicatorLedger* ledger;
  ProgressSummaries* summaries;
  ChangeFeed* feed;
};

// Every RPC with the callback API; ImportProjects reads raw bytes, so that a
// chunk that does not parse fails the import (see common/import_reactor.h).
// clang-format off
using ProjectsServiceBase =
    v1::ProjectsService::WithCallbackMethod_CreateProject<
    v1::ProjectsService::WithCallbackMethod_GetProject<
    v1::ProjectsService::WithCallbackMethod_UpdateProject<
    v1::ProjectsService::WithCallbackMethod_DeleteProject<
    v1::ProjectsService::WithCallbackMethod_CancelProject<
    v1::ProjectsService::WithCallbackMethod_ListProjects<
    v1::ProjectsService::WithCallbackMethod_CreateProgressReport<
    v1::ProjectsService::WithCallbackMethod_ListProgressReports<
    v1::ProjectsService::WithCallbackMethod_CreateIndicatorDefinition<
    v1::ProjectsService::WithCallbackMethod_GetIndicatorDefinition<
    v1::ProjectsService::WithCallbackMethod_UpdateIndicatorDefinition<
    v1::ProjectsService::WithCallbackMethod_ListIndicatorDefinitions<
    v1::ProjectsService::WithCallbackMethod_SetIndicatorValues<
    v1::ProjectsService::WithCallbackMethod_ListIndicatorValues<
    v1::ProjectsService::WithCallbackMethod_GetSummary<
    v1::ProjectsService::WithCallbackMethod_WatchChanges<
    v1::ProjectsService::WithRawCallbackMethod_ImportProjects<
    v1::ProjectsService::WithCallbackMethod_ListVillageSummaries<
    v1::ProjectsService::Service>>>>>>>>>>>>>>>>>>;
// clang-format on

// The full names ("/fivestar.projects.v1.ProjectsService/<Method>") of the
// methods that change something: the ones the audit log records
// (common/audit.h). Every other method is a read (Get, List, Watch, Export,
// BatchGet, WhatIf) and is not recorded. A new write method belongs here.
std::vector<std::string> ProjectsWriteMethods();

class ProjectsServiceImpl final : public ProjectsServiceBase {
 public:
  // Everything in `logic` and `runtime` must outlive the service.
  ProjectsServiceImpl(ProjectsLogic logic, RpcRuntime runtime)
      : logic_(logic), runtime_(runtime) {}

  // Ends every open WatchChanges stream with UNAVAILABLE (clients reconnect
  // from their last sequence) and refuses new ones. Call before
  // ServerHost::Shutdown(), whose grace period would otherwise wait for
  // streams that never end on their own.
  void Shutdown() { logic_.feed->Close(); }

  grpc::ServerUnaryReactor* CreateProject(
      grpc::CallbackServerContext* context,
      const v1::CreateProjectRequest* request, v1::Project* response) override;
  grpc::ServerUnaryReactor* GetProject(grpc::CallbackServerContext* context,
                                       const v1::GetProjectRequest* request,
                                       v1::Project* response) override;
  grpc::ServerUnaryReactor* UpdateProject(
      grpc::CallbackServerContext* context,
      const v1::UpdateProjectRequest* request, v1::Project* response) override;
  grpc::ServerUnaryReactor* DeleteProject(
      grpc::CallbackServerContext* context,
      const v1::DeleteProjectRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* CancelProject(
      grpc::CallbackServerContext* context,
      const v1::CancelProjectRequest* request, v1::Project* response) override;
  grpc::ServerUnaryReactor* ListProjects(
      grpc::CallbackServerContext* context,
      const v1::ListProjectsRequest* request,
      v1::ListProjectsResponse* response) override;
  grpc::ServerUnaryReactor* CreateProgressReport(
      grpc::CallbackServerContext* context,
      const v1::CreateProgressReportRequest* request,
      v1::CreateProgressReportResponse* response) override;
  grpc::ServerUnaryReactor* ListProgressReports(
      grpc::CallbackServerContext* context,
      const v1::ListProgressReportsRequest* request,
      v1::ListProgressReportsResponse* response) override;
  grpc::ServerUnaryReactor* CreateIndicatorDefinition(
      grpc::CallbackServerContext* context,
      const v1::CreateIndicatorDefinitionRequest* request,
      v1::IndicatorDefinition* response) override;
  grpc::ServerUnaryReactor* GetIndicatorDefinition(
      grpc::CallbackServerContext* context,
      const v1::GetIndicatorDefinitionRequest* request,
      v1::IndicatorDefinition* response) override;
  grpc::ServerUnaryReactor* UpdateIndicatorDefinition(
      grpc::CallbackServerContext* context,
      const v1::UpdateIndicatorDefinitionRequest* request,
      v1::IndicatorDefinition* response) override;
  grpc::ServerUnaryReactor* ListIndicatorDefinitions(
      grpc::CallbackServerContext* context,
      const v1::ListIndicatorDefinitionsRequest* request,
      v1::ListIndicatorDefinitionsResponse* response) override;
  grpc::ServerUnaryReactor* SetIndicatorValues(
      grpc::CallbackServerContext* context,
      const v1::SetIndicatorValuesRequest* request,
      v1::SetIndicatorValuesResponse* response) override;
  grpc::ServerUnaryReactor* ListIndicatorValues(
      grpc::CallbackServerContext* context,
      const v1::ListIndicatorValuesRequest* request,
      v1::ListIndicatorValuesResponse* response) override;
  grpc::ServerUnaryReactor* GetSummary(grpc::CallbackServerContext* context,
                                       const v1::GetSummaryRequest* request,
                                       v1::Summary* response) override;
  grpc::ServerUnaryReactor* ListVillageSummaries(
      grpc::CallbackServerContext* context,
      const v1::ListVillageSummariesRequest* request,
      v1::ListVillageSummariesResponse* response) override;
  grpc::ServerWriteReactor<v1::Change>* WatchChanges(
      grpc::CallbackServerContext* context,
      const v1::WatchChangesRequest* request) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ImportProjects(
      grpc::CallbackServerContext* context) override;

 private:
  ProjectsLogic logic_;
  RpcRuntime runtime_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVICE_H_
