#include "services/registry/registry_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/import_reactor.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/watch_reactor.h"

namespace fivestar::registry {

std::vector<std::string> RegistryWriteMethods() {
  std::vector<std::string> methods;
  for (const char* method :
       {"CreateRegion", "UpdateRegion", "DeleteRegion", "CreateVillage",
        "UpdateVillage", "DeleteVillage", "ImportRegistry"}) {
    methods.push_back(absl::StrCat(
        "/", v1::RegistryService::service_full_name(), "/", method));
  }
  return methods;
}
namespace {

// Records per export message: small enough to stay far below gRPC's message
// size limit, large enough to amortize the per-message cost.
constexpr int kExportChunkRecords = 500;

// Writes an export page by page, each page read when the last is sent.
class ExportReactor final
    : public grpc::ServerWriteReactor<v1::ExportRegistryResponse> {
 public:
  // Reads each page on `executor` (never on a gRPC thread), which must
  // outlive the call.
  ExportReactor(Executor* executor,
                absl::StatusOr<std::unique_ptr<RegistryExport>> export_or)
      : executor_(executor) {
    if (!export_or.ok()) {
      Finish(ToGrpcStatus(export_or.status()));
      return;
    }
    export_ = *std::move(export_or);
    executor_->Submit([this] { WriteNext(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "export abandoned: the client went away"));
      return;
    }
    executor_->Submit([this] { WriteNext(); });
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    absl::StatusOr<std::vector<RegistryRecord>> records =
        export_->Next(kExportChunkRecords);
    if (!records.ok()) {
      Finish(ToGrpcStatus(records.status()));
      return;
    }
    if (records->empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    for (RegistryRecord& record : *records) {
      *response_.add_records() = std::move(record);
    }
    StartWrite(&response_);
  }

  Executor* const executor_;
  std::unique_ptr<RegistryExport> export_;
  v1::ExportRegistryResponse response_;
};

}  // namespace

grpc::ServerUnaryReactor* RegistryServiceImpl::CreateRegion(
    grpc::CallbackServerContext* context,
    const v1::CreateRegionRequest* request, v1::Region* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->CreateRegion(principal, request->region()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetRegion(
    grpc::CallbackServerContext* context, const v1::GetRegionRequest* request,
    v1::Region* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, registry_->GetRegion(principal, request->id()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::UpdateRegion(
    grpc::CallbackServerContext* context,
    const v1::UpdateRegionRequest* request, v1::Region* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->UpdateRegion(principal, request->region(),
                                             request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::DeleteRegion(
    grpc::CallbackServerContext* context,
    const v1::DeleteRegionRequest* request, google::protobuf::Empty*) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return registry_->DeleteRegion(principal, request->id(), request->etag());
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListRegions(
    grpc::CallbackServerContext* context, const v1::ListRegionsRequest* request,
    v1::ListRegionsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, registry_->ListRegions(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::CreateVillage(
    grpc::CallbackServerContext* context,
    const v1::CreateVillageRequest* request, v1::Village* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->CreateVillage(principal, request->village()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetVillage(
    grpc::CallbackServerContext* context, const v1::GetVillageRequest* request,
    v1::Village* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->GetVillage(principal, request->id()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::UpdateVillage(
    grpc::CallbackServerContext* context,
    const v1::UpdateVillageRequest* request, v1::Village* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->UpdateVillage(principal, request->village(),
                                              request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::DeleteVillage(
    grpc::CallbackServerContext* context,
    const v1::DeleteVillageRequest* request, google::protobuf::Empty*) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return registry_->DeleteVillage(principal, request->id(), request->etag());
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::ListVillages(
    grpc::CallbackServerContext* context,
    const v1::ListVillagesRequest* request,
    v1::ListVillagesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, registry_->ListVillages(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::BatchGetVillages(
    grpc::CallbackServerContext* context,
    const v1::BatchGetVillagesRequest* request,
    v1::BatchGetVillagesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     registry_->BatchGetVillages(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryServiceImpl::GetAncestors(
    grpc::CallbackServerContext* context,
    const v1::GetAncestorsRequest* request,
    v1::GetAncestorsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, registry_->GetAncestors(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
RegistryServiceImpl::ImportRegistry(grpc::CallbackServerContext* context) {
  using Reactor = ImportReactor<v1::ImportRegistryRequest,
                                v1::ImportRegistryResponse, RegistryImport>;
  auto summarize = [](const ImportCounts& counts,
                      v1::ImportRegistryResponse* response) {
    response->set_created(counts.created);
    response->set_updated(counts.updated);
    response->set_unchanged(counts.unchanged);
  };
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return new Reactor(context, runtime_.executor, principal.status(),
                       summarize);
  }
  return new Reactor(context, runtime_.executor,
                     registry_->StartImport(*principal), summarize);
}

grpc::ServerWriteReactor<v1::ExportRegistryResponse>*
RegistryServiceImpl::ExportRegistry(grpc::CallbackServerContext* context,
                                    const v1::ExportRegistryRequest* request) {
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return new ExportReactor(runtime_.executor, principal.status());
  }
  return new ExportReactor(runtime_.executor,
                           registry_->StartExport(*principal, *request));
}

grpc::ServerWriteReactor<v1::Change>* RegistryServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context,
    const v1::WatchChangesRequest* request) {
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return WatchReactor<v1::Change>::Start(principal.status());
  }
  return WatchReactor<v1::Change>::Start(feed_->Open(*principal, *request));
}

}  // namespace fivestar::registry
