// fivestar-projects: the project-tracking server (practical tasks, progress
// reports, indicators, summaries, change feed). Flags (or FIVESTAR_*
// environment variables) configure it; see --help. Flags become
// ProjectsServerOptions; projects_server.cc wires everything.
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/projects/projects_server.h"

ABSL_FLAG(std::string, database, "projects.db",
          "Where project tracking keeps its records: an SQLite database "
          "file (created when missing), or a PostgreSQL connection URI "
          "(postgresql://user@host:port/dbname?...; the database must exist, "
          "its tables are created at start-up). A password is best given "
          "through PGPASSFILE or PGPASSWORD, not in the URI.");
ABSL_FLAG(std::string, registry, "127.0.0.1:50051",
          "Address (host:port) of the village registry.");
ABSL_FLAG(std::string, registry_token, "",
          "Bearer token this service presents to the registry; its principal "
          "needs the viewer role over every village handled here (usually "
          "global scope). Prefer FIVESTAR_REGISTRY_TOKEN to the command line.");
ABSL_FLAG(absl::Duration, registry_deadline, absl::Seconds(2),
          "Deadline of each call to the registry.");
ABSL_FLAG(absl::Duration, registry_cache_ttl, absl::Seconds(60),
          "How long answers of the registry (village and region lineages, "
          "villages of a region) are reused; 0 disables the cache.");
ABSL_FLAG(int, registry_max_in_flight, 8,
          "Most calls to the registry at once (lookups of many villages "
          "share one); a call beyond it waits at most a quarter of "
          "--registry_deadline for a place, then fails with UNAVAILABLE, so "
          "a hung registry cannot take every handler thread. Keep it below "
          "--handler_threads.");
ABSL_FLAG(int64_t, max_import_records,
          fivestar::projects::kDefaultMaxImportRecords,
          "Most project records one ImportProjects call may hold; larger "
          "imports fail with RESOURCE_EXHAUSTED as the records arrive and "
          "write nothing. Records wait on disk (in a temporary file under "
          "SQLITE_TMPDIR or TMPDIR), not in memory, so this bounds disk and "
          "time: the "
          "default takes a country (about 2.5 million records).");
ABSL_FLAG(int64_t, summary_cache_villages,
          fivestar::projects::ProgressSummaries::kDefaultMaxCachedVillages,
          "Most villages whose summary figures of closed months are kept in "
          "memory, so that a region's GetSummary and scoring's evaluation "
          "add up kept figures instead of reading every row again. About "
          "1.6 KB each; beyond it the kept figures are dropped and read "
          "again as needed. The default takes a province of 46,000 villages "
          "whole; raise it for a larger one if memory allows; 0 computes "
          "every summary from the rows.");

namespace {

int Run() {
  using namespace fivestar;
  using namespace fivestar::projects;
  ProjectsServerOptions options;
  absl::StatusOr<CommonServerOptions> common =
      CommonServerOptionsFromFlags("projects");
  if (!common.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(common.status().message()));
    return 2;
  }
  options.server = std::move(common->server);
  options.authenticator = std::move(common->authenticator);
  options.peer_credentials = std::move(common->peer_credentials);
  options.database = absl::GetFlag(FLAGS_database);
  options.registry_address = absl::GetFlag(FLAGS_registry);
  options.registry.bearer_token = absl::GetFlag(FLAGS_registry_token);
  options.registry.deadline = absl::GetFlag(FLAGS_registry_deadline);
  options.registry.cache_ttl = absl::GetFlag(FLAGS_registry_cache_ttl);
  options.registry.max_in_flight = absl::GetFlag(FLAGS_registry_max_in_flight);
  options.max_import_records = absl::GetFlag(FLAGS_max_import_records);
  options.summary_cache_villages = absl::GetFlag(FLAGS_summary_cache_villages);
  if (options.registry.bearer_token.empty()) {
    spdlog::warn("msg={}", LogValue("no --registry_token: calls to the "
                                    "registry carry no credentials"));
  }

  absl::StatusOr<std::unique_ptr<ProjectsServer>> server =
      ProjectsServer::Start(std::move(options));
  if (!server.ok()) return StartFailed(server.status());
  return ServeUntilSignal([&server] { (*server)->Stop(); },
                          common->tokens_watcher.get());
}

}  // namespace

int main(int argc, char** argv) {
  fivestar::BlockTerminationSignals();
  fivestar::SetDefaultPorts(50052, 9091);
  fivestar::ParseFlagsWithEnvironment(
      argc, argv,
      "fivestar-projects: practical tasks, progress and indicators of the "
      "Five-Star campaign.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>, e.g. "
      "FIVESTAR_REGISTRY_TOKEN.");
  return Run();
}
