#include "services/projects/projects_server.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/peer_client.h"
#include "common/sql_engine.h"
#include "common/status.h"

namespace fivestar::projects {

absl::StatusOr<std::unique_ptr<ProjectsServer>> ProjectsServer::Start(
    ProjectsServerOptions options) {
  if (options.authenticator == nullptr) {
    return absl::InvalidArgumentError("authenticator: required");
  }
  if (options.registry.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("registry_deadline: must be positive");
  }
  if (options.registry.cache_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "registry_cache_ttl: must not be negative");
  }
  if (options.max_import_records < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_import_records: must be at least 1, got ",
                     options.max_import_records));
  }
  if (options.summary_cache_villages < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("summary_cache_villages: must not be negative, got ",
                     options.summary_cache_villages));
  }
  if (options.server.name.empty()) options.server.name = "projects";
  std::unique_ptr<ProjectsServer> server(
      new ProjectsServer(std::move(options)));
  ProjectsServer& s = *server;
  const ProjectsServerOptions& o = s.options_;

  absl::Status opened = EngineOf(o.database) == SqlEngine::kPostgres
                            ? s.OpenStore<PostgresPool>()
                            : s.OpenStore<SqlitePool>();
  if (!opened.ok()) {
    return absl::Status(opened.code(),
                        absl::StrCat("database ", RedactedDatabase(o.database),
                                     ": ", opened.message()));
  }
  s.catalogue_ = std::make_unique<IndicatorCatalogue>(s.store_.get());
  ASSIGN_OR_RETURN(int seeded, s.catalogue_->SeedDefaults());
  if (seeded > 0) spdlog::info("msg=catalogue_seeded indicators={}", seeded);

  // One channel to the registry for the life of the process.
  s.directory_ = std::make_unique<RegistryVillageDirectory>(
      NewPeerChannel(o.registry_address, o.peer_credentials), o.registry,
      o.clock);
  s.jurisdiction_ = std::make_unique<Jurisdiction>(s.directory_.get());
  s.tracker_ = std::make_unique<ProjectTracker>(
      s.store_.get(), s.jurisdiction_.get(), o.clock, o.max_import_records);
  s.ledger_ = std::make_unique<IndicatorLedger>(s.store_.get(),
                                                s.jurisdiction_.get(), o.clock);
  s.summaries_ = std::make_unique<ProgressSummaries>(
      s.store_.get(), s.jurisdiction_.get(), o.clock,
      static_cast<size_t>(o.summary_cache_villages));
  ASSIGN_OR_RETURN(s.feed_,
                   ChangeFeed::Create(s.store_.get(), s.jurisdiction_.get(),
                                      SharedByReplicas(EngineOf(o.database))));
  s.executor_ = std::make_unique<Executor>(o.server.handler_threads,
                                           absl::StrCat(o.server.name, "-rpc"));
  s.service_ = std::make_unique<ProjectsServiceImpl>(
      ProjectsLogic{s.tracker_.get(), s.catalogue_.get(), s.ledger_.get(),
                    s.summaries_.get(), s.feed_.get()},
      RpcRuntime{o.authenticator.get(), s.executor_.get()});
  s.audit_service_ = std::make_unique<AuditServiceImpl>(
      s.audit_store_, RpcRuntime{o.authenticator.get(), s.executor_.get()});
  const ServerAudit audit{s.audit_store_, o.authenticator.get(), o.clock,
                          ProjectsWriteMethods()};
  ASSIGN_OR_RETURN(
      s.host_,
      ServerHost::Start(
          o.server,
          {{s.service_.get(), v1::ProjectsService::service_full_name()},
           {s.audit_service_.get(),
            audit::v1::AuditService::service_full_name()}},
          &audit));
  s.host_->metrics().Expose(s.feed_->metrics());
  s.host_->SetServing(true);
  spdlog::info("msg=serving database={} registry={}",
               RedactedDatabase(o.database), o.registry_address);
  return server;
}

template <typename Pool>
absl::Status ProjectsServer::OpenStore() {
  ASSIGN_OR_RETURN(
      std::unique_ptr<SqlProjectsStore<Pool>> store,
      SqlProjectsStore<Pool>::Open(options_.database, options_.clock));
  audit_store_ = store->audit_store();
  store_ = std::move(store);
  return absl::OkStatus();
}

ProjectsServer::~ProjectsServer() { Stop(); }

void ProjectsServer::Stop() {
  if (host_ != nullptr) {
    // Change-feed streams never end on their own: end them after the drain
    // delay (load balancers have seen NOT_SERVING) and before the grace
    // period, so the grace period is spent on calls that finish.
    host_->Shutdown([this] { service_->Shutdown(); });
  }
  // Every call has ended; run what handlers still have queued.
  executor_.reset();
}

}  // namespace fivestar::projects
