// The registry's composition root: builds the store, the logic, the change
// feed, the gRPC service and the server from one options struct, and stops
// them in the right order (change feed streams ended before the drain). main.cc
// turns flags into options and runs it; tests start the registry through the
// same factory, so everything wired here is tested.
#ifndef FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVER_H_
#define FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/audit_service.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/server.h"
#include "services/registry/change_feed.h"
#include "services/registry/registry.h"
#include "services/registry/registry_service.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

struct RegistryServerOptions {
  // Listen addresses, metrics, drain and grace periods, handler threads.
  ServerConfig server;
  // Where the registry keeps its records: an SQLite file's path (created
  // when missing) or a PostgreSQL URI ("postgresql://..."; see
  // common/sql_engine.h).
  std::string database = "registry.db";
  // Required: who may call. Shared, so tests can hand one table to several
  // servers.
  std::shared_ptr<const Authenticator> authenticator;
  // Time for stored timestamps; must outlive the server.
  const Clock* clock = Clock::System();
  // Most records one ImportRegistry call may hold.
  int64_t max_import_records = kDefaultMaxImportRecords;
};

class RegistryServer {
 public:
  // Opens the database (running migrations), starts serving and reports
  // SERVING. FAILED_PRECONDITION or INTERNAL when the database cannot be
  // used, UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RegistryServer>> Start(
      RegistryServerOptions options);
  // Stops, if Stop() has not run.
  ~RegistryServer();

  // The bound gRPC port.
  int port() const { return host_->port(); }
  ServerHost& host() { return *host_; }
  Registry& registry() { return *registry_; }
  ChangeFeed& feed() { return *feed_; }

  // Drains and stops: NOT_SERVING and the drain delay; then the change
  // feed's streams end with UNAVAILABLE (they never end on their own); then
  // no new calls and the grace period for calls in flight; then the handler
  // threads finish their queue. Idempotent; blocks until done.
  void Stop();

 private:
  explicit RegistryServer(RegistryServerOptions options)
      : options_(std::move(options)) {}

  // Opens store_ (and audit_store_) on options_.database through `Pool`.
  template <typename Pool>
  absl::Status OpenStore();

  // Members in the order they are built; destroyed in reverse.
  RegistryServerOptions options_;
  std::unique_ptr<RegistryStore> store_;
  AuditStore* audit_store_ = nullptr;  // Kept in store_'s database.
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<RegistryServiceImpl> service_;
  std::unique_ptr<AuditServiceImpl> audit_service_;
  std::unique_ptr<ServerHost> host_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_REGISTRY_SERVER_H_
