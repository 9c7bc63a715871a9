#include "services/registry/registry_server.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar::registry {

absl::StatusOr<std::unique_ptr<RegistryServer>> RegistryServer::Start(
    RegistryServerOptions options) {
  if (options.authenticator == nullptr) {
    return absl::InvalidArgumentError("authenticator: required");
  }
  if (options.max_import_records < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_import_records: must be at least 1, got ",
                     options.max_import_records));
  }
  if (options.server.name.empty()) options.server.name = "registry";
  std::unique_ptr<RegistryServer> server(
      new RegistryServer(std::move(options)));
  const RegistryServerOptions& o = server->options_;
  absl::StatusOr<std::unique_ptr<SqliteRegistryStore>> store =
      SqliteRegistryStore::Open(o.database, o.clock);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("database ", o.database, ": ", store.status().message()));
  }
  server->store_ = *std::move(store);
  server->registry_ =
      std::make_unique<Registry>(server->store_.get(), o.max_import_records);
  ASSIGN_OR_RETURN(server->feed_, ChangeFeed::Create(server->store_.get()));
  server->executor_ = std::make_unique<Executor>(
      o.server.handler_threads, absl::StrCat(o.server.name, "-rpc"));
  server->service_ = std::make_unique<RegistryServiceImpl>(
      server->registry_.get(), server->feed_.get(),
      RpcRuntime{o.authenticator.get(), server->executor_.get()});
  server->audit_service_ = std::make_unique<AuditServiceImpl>(
      server->store_->audit_store(),
      RpcRuntime{o.authenticator.get(), server->executor_.get()});
  const ServerAudit audit{server->store_->audit_store(), o.authenticator.get(),
                          o.clock, RegistryWriteMethods()};
  ASSIGN_OR_RETURN(
      server->host_,
      ServerHost::Start(
          o.server,
          {{server->service_.get(), v1::RegistryService::service_full_name()},
           {server->audit_service_.get(),
            audit::v1::AuditService::service_full_name()}},
          &audit));
  server->host_->metrics().Expose(server->feed_->metrics());
  server->host_->SetServing(true);
  spdlog::info("msg=serving database={}", o.database);
  return server;
}

RegistryServer::~RegistryServer() { Stop(); }

void RegistryServer::Stop() {
  if (host_ != nullptr) {
    // Change-feed streams never end on their own: end them after the drain
    // delay (load balancers have seen NOT_SERVING) and before the grace
    // period, so the grace period is spent on calls that finish.
    host_->Shutdown([this] { service_->Shutdown(); });
  }
  // Every call has ended; run what handlers still have queued.
  executor_.reset();
}

}  // namespace fivestar::registry
