// The gRPC face of the registry: authenticates each call, hands it to the
// Registry logic (or the ChangeFeed) and maps the result onto the wire.
#ifndef FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
#define FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVICE_H_

#include <string>
#include <vector>

#include "common/rpc.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "services/registry/change_feed.h"
#include "services/registry/registry.h"

namespace fivestar::registry {

// Every RPC with the callback API; ImportRegistry reads raw bytes, so that a
// chunk that does not parse fails the import (see common/import_reactor.h).
// clang-format off
using RegistryServiceBase =
    v1::RegistryService::WithCallbackMethod_CreateRegion<
    v1::RegistryService::WithCallbackMethod_GetRegion<
    v1::RegistryService::WithCallbackMethod_UpdateRegion<
    v1::RegistryService::WithCallbackMethod_DeleteRegion<
    v1::RegistryService::WithCallbackMethod_ListRegions<
    v1::RegistryService::WithCallbackMethod_CreateVillage<
    v1::RegistryService::WithCallbackMethod_GetVillage<
    v1::RegistryService::WithCallbackMethod_UpdateVillage<
    v1::RegistryService::WithCallbackMethod_DeleteVillage<
    v1::RegistryService::WithCallbackMethod_ListVillages<
    v1::RegistryService::WithCallbackMethod_BatchGetVillages<
    v1::RegistryService::WithCallbackMethod_GetAncestors<
    v1::RegistryService::WithRawCallbackMethod_ImportRegistry<
    v1::RegistryService::WithCallbackMethod_ExportRegistry<
    v1::RegistryService::WithCallbackMethod_WatchChanges<
    v1::RegistryService::Service>>>>>>>>>>>>>>>;
// clang-format on

// The full names ("/fivestar.registry.v1.RegistryService/<Method>") of the
// methods that change something: the ones the audit log records
// (common/audit.h). Every other method is a read (Get, List, Watch, Export,
// BatchGet, WhatIf) and is not recorded. A new write method belongs here.
std::vector<std::string> RegistryWriteMethods();

class RegistryServiceImpl final : public RegistryServiceBase {
 public:
  // `registry`, `feed` and what `runtime` points to must outlive the
  // service.
  RegistryServiceImpl(Registry* registry, ChangeFeed* feed, RpcRuntime runtime)
      : registry_(registry), feed_(feed), runtime_(runtime) {}

  // Ends every open WatchChanges stream with UNAVAILABLE (clients reconnect
  // from their last sequence) and refuses new ones. Call before
  // ServerHost::Shutdown(), whose grace period would otherwise wait for
  // streams that never end on their own.
  void Shutdown() { feed_->Close(); }

  grpc::ServerUnaryReactor* CreateRegion(grpc::CallbackServerContext* context,
                                         const v1::CreateRegionRequest* request,
                                         v1::Region* response) override;
  grpc::ServerUnaryReactor* GetRegion(grpc::CallbackServerContext* context,
                                      const v1::GetRegionRequest* request,
                                      v1::Region* response) override;
  grpc::ServerUnaryReactor* UpdateRegion(grpc::CallbackServerContext* context,
                                         const v1::UpdateRegionRequest* request,
                                         v1::Region* response) override;
  grpc::ServerUnaryReactor* DeleteRegion(
      grpc::CallbackServerContext* context,
      const v1::DeleteRegionRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* ListRegions(
      grpc::CallbackServerContext* context,
      const v1::ListRegionsRequest* request,
      v1::ListRegionsResponse* response) override;
  grpc::ServerUnaryReactor* CreateVillage(
      grpc::CallbackServerContext* context,
      const v1::CreateVillageRequest* request, v1::Village* response) override;
  grpc::ServerUnaryReactor* GetVillage(grpc::CallbackServerContext* context,
                                       const v1::GetVillageRequest* request,
                                       v1::Village* response) override;
  grpc::ServerUnaryReactor* UpdateVillage(
      grpc::CallbackServerContext* context,
      const v1::UpdateVillageRequest* request, v1::Village* response) override;
  grpc::ServerUnaryReactor* DeleteVillage(
      grpc::CallbackServerContext* context,
      const v1::DeleteVillageRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* ListVillages(
      grpc::CallbackServerContext* context,
      const v1::ListVillagesRequest* request,
      v1::ListVillagesResponse* response) override;
  grpc::ServerUnaryReactor* BatchGetVillages(
      grpc::CallbackServerContext* context,
      const v1::BatchGetVillagesRequest* request,
      v1::BatchGetVillagesResponse* response) override;
  grpc::ServerUnaryReactor* GetAncestors(
      grpc::CallbackServerContext* context,
      const v1::GetAncestorsRequest* request,
      v1::GetAncestorsResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ImportRegistry(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::ExportRegistryResponse>* ExportRegistry(
      grpc::CallbackServerContext* context,
      const v1::ExportRegistryRequest* request) override;
  grpc::ServerWriteReactor<v1::Change>* WatchChanges(
      grpc::CallbackServerContext* context,
      const v1::WatchChangesRequest* request) override;

 private:
  Registry* registry_;
  ChangeFeed* feed_;
  RpcRuntime runtime_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVICE_H_
