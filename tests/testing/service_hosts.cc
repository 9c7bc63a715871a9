#include "tests/testing/service_hosts.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/or_die.h"
#include "tests/testing/test_server.h"

namespace fivestar::testing {
namespace {

std::string LoopbackAddress(int port) {
  return absl::StrCat("127.0.0.1:", port);
}

}  // namespace

RegistryHost::RegistryHost(const std::string& database,
                           std::shared_ptr<const Authenticator> tokens,
                           const Clock* clock, const Adjust& adjust) {
  registry::RegistryServerOptions options;
  options.server = TestServerConfig();
  options.server.name = "registry";
  options.database = database;
  options.authenticator = std::move(tokens);
  options.clock = clock;
  if (adjust) adjust(options);
  server_ = OrDie(registry::RegistryServer::Start(std::move(options)),
                  "start the registry");
}

std::string RegistryHost::address() const {
  return LoopbackAddress(server_->port());
}

std::shared_ptr<grpc::Channel> RegistryHost::NewChannel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

ProjectsHost::ProjectsHost(const std::string& database,
                           const std::string& registry_address,
                           const std::string& registry_token,
                           std::shared_ptr<const Authenticator> tokens,
                           const Clock* clock, const Adjust& adjust) {
  projects::ProjectsServerOptions options;
  options.server = TestServerConfig();
  options.server.name = "projects";
  options.database = database;
  options.authenticator = std::move(tokens);
  options.clock = clock;
  options.registry_address = registry_address;
  options.registry.bearer_token = registry_token;
  if (adjust) adjust(options);
  server_ = OrDie(projects::ProjectsServer::Start(std::move(options)),
                  "start project tracking");
}

std::string ProjectsHost::address() const {
  return LoopbackAddress(server_->port());
}

std::shared_ptr<grpc::Channel> ProjectsHost::NewChannel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

}  // namespace fivestar::testing
