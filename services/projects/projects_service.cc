#include "services/projects/projects_service.h"

#include "absl/strings/str_cat.h"
#include "common/import_reactor.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/watch_reactor.h"

namespace fivestar::projects {

std::vector<std::string> ProjectsWriteMethods() {
  std::vector<std::string> methods;
  for (const char* method :
       {"CreateProject", "UpdateProject", "DeleteProject", "CancelProject",
        "CreateProgressReport", "CreateIndicatorDefinition",
        "UpdateIndicatorDefinition", "SetIndicatorValues", "ImportProjects"}) {
    methods.push_back(absl::StrCat(
        "/", v1::ProjectsService::service_full_name(), "/", method));
  }
  return methods;
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateProject(
    grpc::CallbackServerContext* context,
    const v1::CreateProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->CreateProject(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetProject(
    grpc::CallbackServerContext* context, const v1::GetProjectRequest* request,
    v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->GetProject(principal, request->id()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::UpdateProject(
    grpc::CallbackServerContext* context,
    const v1::UpdateProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.tracker->UpdateProject(principal, request->project(),
                                                 request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::DeleteProject(
    grpc::CallbackServerContext* context,
    const v1::DeleteProjectRequest* request, google::protobuf::Empty*) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return logic_.tracker->DeleteProject(principal, request->id(),
                                         request->etag());
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CancelProject(
    grpc::CallbackServerContext* context,
    const v1::CancelProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->CancelProject(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListProjects(
    grpc::CallbackServerContext* context,
    const v1::ListProjectsRequest* request,
    v1::ListProjectsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->ListProjects(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateProgressReport(
    grpc::CallbackServerContext* context,
    const v1::CreateProgressReportRequest* request,
    v1::CreateProgressReportResponse* response) {
  // The write is group-committed without parking an executor thread per
  // report in flight; the reply leaves once the report is durable.
  return RunUnaryAsync(
      context, runtime_,
      [this, request, response](const Principal& principal, Finish finish) {
        logic_.tracker->CreateProgressReportAsync(
            principal, request->report(), runtime_.executor,
            [response, finish = std::move(finish)](
                absl::StatusOr<v1::CreateProgressReportResponse> result) {
              if (result.ok()) *response = *std::move(result);
              finish(result.status());
            });
      });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListProgressReports(
    grpc::CallbackServerContext* context,
    const v1::ListProgressReportsRequest* request,
    v1::ListProgressReportsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->ListProgressReports(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::CreateIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.catalogue->CreateDefinition(
                                    principal, request->definition()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::GetIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.catalogue->GetDefinition(principal, request->key()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::UpdateIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::UpdateIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.catalogue->UpdateDefinition(
                                    principal, request->definition(),
                                    request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListIndicatorDefinitions(
    grpc::CallbackServerContext* context,
    const v1::ListIndicatorDefinitionsRequest* request,
    v1::ListIndicatorDefinitionsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.catalogue->ListDefinitions(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::SetIndicatorValues(
    grpc::CallbackServerContext* context,
    const v1::SetIndicatorValuesRequest* request,
    v1::SetIndicatorValuesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.ledger->SetValues(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListIndicatorValues(
    grpc::CallbackServerContext* context,
    const v1::ListIndicatorValuesRequest* request,
    v1::ListIndicatorValuesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.ledger->ListValues(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetSummary(
    grpc::CallbackServerContext* context, const v1::GetSummaryRequest* request,
    v1::Summary* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.summaries->GetSummary(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListVillageSummaries(
    grpc::CallbackServerContext* context,
    const v1::ListVillageSummariesRequest* request,
    v1::ListVillageSummariesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.summaries->ListVillageSummaries(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::Change>* ProjectsServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context,
    const v1::WatchChangesRequest* request) {
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return WatchReactor<v1::Change>::Start(principal.status());
  }
  return WatchReactor<v1::Change>::Start(
      logic_.feed->Open(*principal, *request));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ProjectsServiceImpl::ImportProjects(grpc::CallbackServerContext* context) {
  using Reactor = ImportReactor<v1::ImportProjectsRequest,
                                v1::ImportProjectsResponse, ProjectImport>;
  auto summarize = [](const ProjectImportCounts& counts,
                      v1::ImportProjectsResponse* response) {
    response->set_projects_created(counts.projects_created);
    response->set_projects_updated(counts.projects_updated);
    response->set_projects_unchanged(counts.projects_unchanged);
    response->set_reports_created(counts.reports_created);
    response->set_reports_unchanged(counts.reports_unchanged);
  };
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return new Reactor(context, runtime_.executor, principal.status(),
                       summarize);
  }
  return new Reactor(context, runtime_.executor,
                     logic_.tracker->StartImport(*principal), summarize);
}

}  // namespace fivestar::projects
