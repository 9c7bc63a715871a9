// fivestar-registry: the village registry server. Flags (or FIVESTAR_*
// environment variables) configure it; see --help. Flags become
// RegistryServerOptions; registry_server.cc wires everything.
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/registry/registry_server.h"

ABSL_FLAG(std::string, database, "registry.db",
          "Where the registry keeps its records: an SQLite database file "
          "(created when missing), or a PostgreSQL connection URI "
          "(postgresql://user@host:port/dbname?...; the database must exist, "
          "its tables are created at start-up). A password is best given "
          "through PGPASSFILE or PGPASSWORD, not in the URI.");
ABSL_FLAG(int64_t, max_import_records,
          fivestar::registry::kDefaultMaxImportRecords,
          "Most records (regions and villages) one ImportRegistry call may "
          "hold; larger imports fail with RESOURCE_EXHAUSTED and write "
          "nothing. Memory grows with it: a national import of 541,808 "
          "records peaked at 251 MiB (about 450 bytes per record).");

namespace {

int Run() {
  using namespace fivestar;
  using namespace fivestar::registry;
  RegistryServerOptions options;
  absl::StatusOr<CommonServerOptions> common =
      CommonServerOptionsFromFlags("registry");
  if (!common.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(common.status().message()));
    return 2;
  }
  options.server = std::move(common->server);
  options.authenticator = std::move(common->authenticator);
  options.database = absl::GetFlag(FLAGS_database);
  options.max_import_records = absl::GetFlag(FLAGS_max_import_records);

  absl::StatusOr<std::unique_ptr<RegistryServer>> server =
      RegistryServer::Start(std::move(options));
  if (!server.ok()) return StartFailed(server.status());
  return ServeUntilSignal([&server] { (*server)->Stop(); },
                          common->tokens_watcher.get());
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
