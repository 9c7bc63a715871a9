// The services as production runs them, for tests: each started through its
// composition root (RegistryServer::Start, ProjectsServer::Start,
// ScoringServer::Start) on
// 127.0.0.1 port 0 with a real SQLite file, so a test exercises exactly
// what main.cc wires. Every later test (scoring, cross-service) starts its
// peers here.
#ifndef FIVESTAR_TESTS_TESTING_SERVICE_HOSTS_H_
#define FIVESTAR_TESTS_TESTING_SERVICE_HOSTS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "common/auth.h"
#include "common/clock.h"
#include "common/server.h"
#include "services/projects/projects_server.h"
#include "services/registry/registry_server.h"
#include "services/scoring/scoring_server.h"

namespace fivestar::testing {

// What every host offers: the address and channels of its server, the
// server itself, and the production shutdown sequence.
template <typename Server>
class ServiceHost {
 public:
  std::string address() const {
    return "127.0.0.1:" + std::to_string(server_->port());
  }
  std::shared_ptr<grpc::Channel> NewChannel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }
  Server& server() { return *server_; }
  // Drains and stops as on SIGTERM (calls then fail with UNAVAILABLE).
  void Stop() { server_->Stop(); }

 protected:
  std::unique_ptr<Server> server_;
};

// The village registry, real, in-process.
class RegistryHost : public ServiceHost<registry::RegistryServer> {
 public:
  using Adjust = std::function<void(registry::RegistryServerOptions&)>;

  // Starts a registry on `database`; `adjust`, when given, changes the
  // options first. Aborts the test binary if it cannot start.
  RegistryHost(const std::string& database,
               std::shared_ptr<const Authenticator> tokens, const Clock* clock,
               const Adjust& adjust = nullptr);

  registry::Registry& registry() { return server_->registry(); }
};

// Project tracking, real, in-process.
class ProjectsHost : public ServiceHost<projects::ProjectsServer> {
 public:
  using Adjust = std::function<void(projects::ProjectsServerOptions&)>;

  // Starts project tracking on `database`, calling the registry at
  // `registry_address` with `registry_token`; `adjust`, when given, changes
  // the options first. Aborts the test binary if it cannot start.
  ProjectsHost(const std::string& database, const std::string& registry_address,
               const std::string& registry_token,
               std::shared_ptr<const Authenticator> tokens, const Clock* clock,
               const Adjust& adjust = nullptr);
};

// Scoring, real, in-process.
class ScoringHost : public ServiceHost<scoring::ScoringServer> {
 public:
  using Adjust = std::function<void(scoring::ScoringServerOptions&)>;

  // Starts scoring on `database` with the built-in default rubric, calling the
  // registry and project tracking at their addresses with `peer_token`, and
  // Redis at `redis_port` on 127.0.0.1 (0: no Redis); `adjust`, when given,
  // changes the options first. Aborts the test binary if it cannot start.
  ScoringHost(const std::string& database, const std::string& registry_address,
              const std::string& projects_address,
              const std::string& peer_token, int redis_port,
              std::shared_ptr<const Authenticator> tokens, const Clock* clock,
              const Adjust& adjust = nullptr);
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_SERVICE_HOSTS_H_
