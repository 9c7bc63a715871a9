// Project tracking's composition root: builds the store, the registry
// client, the logic classes, the change feed, the gRPC service and the
// server from one options struct, and stops them in the right order (change
// feed streams ended before the drain). main.cc turns flags into options and
// runs it; tests start project tracking through the same factory, so
// everything wired here is tested.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVER_H_
#define FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVER_H_

#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/audit_service.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/registry_client/jurisdiction.h"
#include "common/registry_client/registry_village_directory.h"
#include "common/server.h"
#include "services/projects/change_feed.h"
#include "services/projects/indicator_catalogue.h"
#include "services/projects/indicator_ledger.h"
#include "services/projects/progress_summaries.h"
#include "services/projects/project_tracker.h"
#include "services/projects/projects_service.h"
#include "services/projects/sql_projects_store.h"

namespace fivestar::projects {

struct ProjectsServerOptions {
  // Listen addresses, metrics, drain and grace periods, handler threads.
  ServerConfig server;
  // Where project tracking keeps its records: an SQLite file's path
  // (created when missing) or a PostgreSQL URI ("postgresql://..."; see
  // common/sql_engine.h).
  std::string database = "projects.db";
  // Required: who may call. Shared, so tests can hand one table to several
  // servers.
  std::shared_ptr<const Authenticator> authenticator;
  // Time for stored timestamps, "today" and cache expiry; must outlive the
  // server.
  const Clock* clock = Clock::System();
  // The village registry's address ("host:port") and how to call it.
  std::string registry_address = "127.0.0.1:50051";
  RegistryDirectoryOptions registry;
  // Transport security of the calls to the registry; plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials;
  // Most project records one ImportProjects call may hold.
  int64_t max_import_records = kDefaultMaxImportRecords;
  // Most villages whose closed-month summary figures are kept in memory
  // (ProgressSummaries); 0 computes every summary from the rows.
  int64_t summary_cache_villages = ProgressSummaries::kDefaultMaxCachedVillages;
};

class ProjectsServer {
 public:
  // Opens the database (running migrations, seeding the indicator
  // catalogue), starts serving and reports SERVING. INVALID_ARGUMENT for
  // bad options, FAILED_PRECONDITION or INTERNAL when the database cannot be
  // used, UNAVAILABLE when the address cannot be bound. The registry need
  // not be up: calls that need it fail with UNAVAILABLE until it is.
  static absl::StatusOr<std::unique_ptr<ProjectsServer>> Start(
      ProjectsServerOptions options);
  // Stops, if Stop() has not run.
  ~ProjectsServer();

  // The bound gRPC port.
  int port() const { return host_->port(); }
  ServerHost& host() { return *host_; }
  // The store on `Pool`, for tests that hold its connections busy; null
  // when the server runs on the other engine.
  template <typename Pool>
  SqlProjectsStore<Pool>* sql_store() {
    return dynamic_cast<SqlProjectsStore<Pool>*>(store_.get());
  }

  // Drains and stops: NOT_SERVING and the drain delay; then the change
  // feed's streams end with UNAVAILABLE (they never end on their own);
  // then no new calls and the grace period for calls in flight; then the
  // handler threads finish their queue. Idempotent; blocks until done.
  void Stop();

 private:
  explicit ProjectsServer(ProjectsServerOptions options)
      : options_(std::move(options)) {}

  // Opens store_ (and audit_store_) on options_.database through `Pool`.
  template <typename Pool>
  absl::Status OpenStore();

  // Members in the order they are built; destroyed in reverse.
  ProjectsServerOptions options_;
  std::unique_ptr<ProjectsStore> store_;
  AuditStore* audit_store_ = nullptr;  // Kept in store_'s database.
  std::unique_ptr<RegistryVillageDirectory> directory_;
  std::unique_ptr<Jurisdiction> jurisdiction_;
  std::unique_ptr<IndicatorCatalogue> catalogue_;
  std::unique_ptr<ProjectTracker> tracker_;
  std::unique_ptr<IndicatorLedger> ledger_;
  std::unique_ptr<ProgressSummaries> summaries_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ProjectsServiceImpl> service_;
  std::unique_ptr<AuditServiceImpl> audit_service_;
  std::unique_ptr<ServerHost> host_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROJECTS_SERVER_H_
