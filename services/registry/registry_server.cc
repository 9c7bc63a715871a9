#include "services/registry/registry_server.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/sql_engine.h"
#include "common/status.h"
#include "services/registry/sql_registry_store.h"

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
  absl::Status opened = EngineOf(o.database) == SqlEngine::kPostgres
                            ? server->OpenStore<PostgresPool>()
                            : server->OpenStore<SqlitePool>();
  if (!opened.ok()) {
    return absl::Status(opened.code(),
                        absl::StrCat("database ", RedactedDatabase(o.database),
                                     ": ", opened.message()));
  }
  server->registry_ =
      std::make_unique<Registry>(server->store_.get(), o.max_import_records);
  ASSIGN_OR_RETURN(server->feed_,
                   ChangeFeed::Create(server->store_.get(),
                                      SharedByReplicas(EngineOf(o.database))));
  server->executor_ = std::make_unique<Executor>(
      o.server.handler_threads, absl::StrCat(o.server.name, "-rpc"));
  server->service_ = std::make_unique<RegistryServiceImpl>(
      server->registry_.get(), server->feed_.get(),
      RpcRuntime{o.authenticator.get(), server->executor_.get()});
  server->audit_service_ = std::make_unique<AuditServiceImpl>(
      server->audit_store_,
      RpcRuntime{o.authenticator.get(), server->executor_.get()});
  const ServerAudit audit{server->audit_store_, o.authenticator.get(), o.clock,
                          RegistryWriteMethods()};
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
  spdlog::info("msg=serving database={}", RedactedDatabase(o.database));
  return server;
}

template <typename Pool>
absl::Status RegistryServer::OpenStore() {
  ASSIGN_OR_RETURN(
      std::unique_ptr<SqlRegistryStore<Pool>> store,
      SqlRegistryStore<Pool>::Open(options_.database, options_.clock));
  audit_store_ = store->audit_store();
  store_ = std::move(store);
  return absl::OkStatus();
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
