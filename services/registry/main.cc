// fivestar-registry: the village registry server. Flags (or FIVESTAR_*
// environment variables) configure it; see --help.
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/registry/change_feed.h"
#include "services/registry/registry.h"
#include "services/registry/registry_service.h"
#include "services/registry/sqlite_registry_store.h"

ABSL_FLAG(std::string, database, "registry.db",
          "SQLite database file of the registry (created when missing).");

namespace {

int Run() {
  using namespace fivestar;
  absl::StatusOr<ServerConfig> config = ServerConfigFromFlags("registry");
  if (!config.ok()) {
    spdlog::critical("msg=bad_configuration error=\"{}\"",
                     config.status().message());
    return 2;
  }
  absl::StatusOr<Authenticator> authenticator = AuthenticatorFromFlags();
  if (!authenticator.ok()) {
    spdlog::critical("msg=bad_configuration error=\"{}\"",
                     authenticator.status().message());
    return 2;
  }
  const std::string database = absl::GetFlag(FLAGS_database);
  auto store = registry::SqliteRegistryStore::Open(database, Clock::System());
  if (!store.ok()) {
    spdlog::critical("msg=database_unavailable path={} error=\"{}\"", database,
                     store.status().message());
    return 1;
  }
  registry::Registry logic(store->get());
  auto feed = registry::ChangeFeed::Create(store->get());
  if (!feed.ok()) {
    spdlog::critical("msg=database_unavailable path={} error=\"{}\"", database,
                     feed.status().message());
    return 1;
  }
  registry::RegistryServiceImpl service(&logic, feed->get(), &*authenticator);
  auto host = ServerHost::Start(
      *config,
      {{&service, registry::v1::RegistryService::service_full_name()}});
  if (!host.ok()) {
    spdlog::critical("msg=cannot_start error=\"{}\"", host.status().message());
    return 1;
  }
  (*host)->metrics().Expose((*feed)->metrics());
  (*host)->SetServing(true);
  spdlog::info("msg=serving database={}", database);
  const int signal_number = WaitForTerminationSignal();
  spdlog::info("msg=signal_received signal={}", signal_number);
  // Change-feed streams never end on their own: end them after the drain
  // delay (load balancers have seen NOT_SERVING) and before the grace
  // period, so the grace period is spent on calls that finish.
  (*host)->Shutdown([&service] { service.Shutdown(); });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fivestar::BlockTerminationSignals();
  fivestar::SetDefaultPorts(50051, 9090);
  fivestar::ParseFlagsWithEnvironment(
      argc, argv,
      "fivestar-registry: regions and villages of the Five-Star campaign.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>, e.g. "
      "FIVESTAR_PORT=50051.");
  return Run();
}
