#include "tests/testing/service_hosts.h"

#include "tests/testing/or_die.h"
#include "tests/testing/test_server.h"

namespace fivestar::testing {
namespace {

// The options every composition root shares, set for a test.
template <typename Options>
Options TestOptions(const char* name, const std::string& database,
                    std::shared_ptr<const Authenticator> tokens,
                    const Clock* clock) {
  Options options;
  options.server = TestServerConfig();
  options.server.name = name;
  options.database = database;
  options.authenticator = std::move(tokens);
  options.clock = clock;
  return options;
}

}  // namespace

RegistryHost::RegistryHost(const std::string& database,
                           std::shared_ptr<const Authenticator> tokens,
                           const Clock* clock, const Adjust& adjust) {
  auto options = TestOptions<registry::RegistryServerOptions>(
      "registry", database, std::move(tokens), clock);
  if (adjust) adjust(options);
  server_ = OrDie(registry::RegistryServer::Start(std::move(options)),
                  "start the registry");
}

ProjectsHost::ProjectsHost(const std::string& database,
                           const std::string& registry_address,
                           const std::string& registry_token,
                           std::shared_ptr<const Authenticator> tokens,
                           const Clock* clock, const Adjust& adjust) {
  auto options = TestOptions<projects::ProjectsServerOptions>(
      "projects", database, std::move(tokens), clock);
  options.registry_address = registry_address;
  options.registry.bearer_token = registry_token;
  if (adjust) adjust(options);
  server_ = OrDie(projects::ProjectsServer::Start(std::move(options)),
                  "start project tracking");
}

ScoringHost::ScoringHost(const std::string& database,
                         const std::string& registry_address,
                         const std::string& projects_address,
                         const std::string& peer_token, int redis_port,
                         std::shared_ptr<const Authenticator> tokens,
                         const Clock* clock, const Adjust& adjust) {
  auto options = TestOptions<scoring::ScoringServerOptions>(
      "scoring", database, std::move(tokens), clock);
  options.registry_address = registry_address;
  options.projects_address = projects_address;
  options.peers.registry.bearer_token = peer_token;
  options.peers.projects.bearer_token = peer_token;
  options.feed_heartbeat = absl::Seconds(1);
  if (redis_port == 0) {
    options.redis.host.clear();
  } else {
    options.redis.host = "127.0.0.1";
    options.redis.port = redis_port;
    options.redis.probe_interval = absl::Milliseconds(100);
    options.redis.command_timeout = absl::Milliseconds(300);
  }
  if (adjust) adjust(options);
  server_ =
      OrDie(scoring::ScoringServer::Start(std::move(options)), "start scoring");
}

}  // namespace fivestar::testing
