// fivestar-projects: the project-tracking server (practical tasks, progress
// reports, indicators, summaries, change feed). Flags (or FIVESTAR_*
// environment variables) configure it; see --help.
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/peer_client.h"
#include "common/server.h"
#include "services/projects/change_feed.h"
#include "services/projects/indicator_catalogue.h"
#include "services/projects/indicator_ledger.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/progress_summaries.h"
#include "services/projects/project_tracker.h"
#include "services/projects/projects_service.h"
#include "common/registry_client/registry_village_directory.h"
#include "services/projects/sqlite_projects_store.h"

ABSL_FLAG(std::string, database, "projects.db",
          "SQLite database file of project tracking (created when missing).");
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

namespace {

int Run() {
  using namespace fivestar;
  using namespace fivestar::projects;
  absl::StatusOr<ServerConfig> config = ServerConfigFromFlags("projects");
  if (!config.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(config.status().message()));
    return 2;
  }
  absl::StatusOr<Authenticator> authenticator = AuthenticatorFromFlags();
  if (!authenticator.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(authenticator.status().message()));
    return 2;
  }
  RegistryDirectoryOptions directory_options;
  directory_options.bearer_token = absl::GetFlag(FLAGS_registry_token);
  directory_options.deadline = absl::GetFlag(FLAGS_registry_deadline);
  directory_options.cache_ttl = absl::GetFlag(FLAGS_registry_cache_ttl);
  if (directory_options.deadline <= absl::ZeroDuration() ||
      directory_options.cache_ttl < absl::ZeroDuration()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue("registry_deadline must be positive and "
                              "registry_cache_ttl not negative"));
    return 2;
  }
  if (directory_options.bearer_token.empty()) {
    spdlog::warn("msg={}", LogValue("no --registry_token: calls to the "
                                    "registry carry no credentials"));
  }

  const std::string database = absl::GetFlag(FLAGS_database);
  auto store = SqliteProjectsStore::Open(database, Clock::System());
  if (!store.ok()) {
    spdlog::critical("msg=database_unavailable path={} error={}", database,
                     LogValue(store.status().message()));
    return 1;
  }
  IndicatorCatalogue catalogue(store->get());
  if (absl::StatusOr<int> seeded = catalogue.SeedDefaults(); !seeded.ok()) {
    spdlog::critical("msg=seed_failed error={}",
                     LogValue(seeded.status().message()));
    return 1;
  } else if (*seeded > 0) {
    spdlog::info("msg=catalogue_seeded indicators={}", *seeded);
  }

  const std::string registry_address = absl::GetFlag(FLAGS_registry);
  // One channel to the registry for the life of the process.
  RegistryVillageDirectory directory(NewPeerChannel(registry_address),
                                     directory_options, Clock::System());
  Jurisdiction jurisdiction(&directory);
  ProjectTracker tracker(store->get(), &jurisdiction, Clock::System());
  IndicatorLedger ledger(store->get(), &jurisdiction, Clock::System());
  ProgressSummaries summaries(store->get(), &jurisdiction, Clock::System());
  auto feed = ChangeFeed::Create(store->get(), &jurisdiction);
  if (!feed.ok()) {
    spdlog::critical("msg=database_unavailable path={} error={}", database,
                     LogValue(feed.status().message()));
    return 1;
  }
  ProjectsServiceImpl service(
      ProjectsLogic{&tracker, &catalogue, &ledger, &summaries, feed->get()},
      &*authenticator);
  auto host = ServerHost::Start(
      *config, {{&service, v1::ProjectsService::service_full_name()}});
  if (!host.ok()) {
    spdlog::critical("msg=cannot_start error={}",
                     LogValue(host.status().message()));
    return 1;
  }
  (*host)->SetServing(true);
  spdlog::info("msg=serving database={} registry={}", database,
               registry_address);
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
  fivestar::SetDefaultPorts(50052, 9091);
  fivestar::ParseFlagsWithEnvironment(
      argc, argv,
      "fivestar-projects: practical tasks, progress and indicators of the "
      "Five-Star campaign.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>, e.g. "
      "FIVESTAR_REGISTRY_TOKEN.");
  return Run();
}
