// The one way every fivestar server starts and stops: gRPC with the health
// service (grpc.health.v1) and reflection, Prometheus metrics, structured
// logs, and graceful shutdown on SIGTERM/SIGINT.
//
// main.cc of a service reads its configuration with
// CommonServerOptionsFromFlags() (ServerConfigFromFlags() and
// AuthenticatorFromFlags()) and its own flags, builds its service objects,
// starts them with ServerHost::Start(), marks itself serving, and waits for a
// signal. Tests start the same ServerHost on port 0.
#ifndef FIVESTAR_COMMON_SERVER_H_
#define FIVESTAR_COMMON_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/audit.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/tokens_file_watcher.h"

namespace fivestar {

// How to run one server.
struct ServerConfig {
  // Short name for logs and the default database file, e.g. "registry".
  std::string name;
  // gRPC listen address; port 0 picks a free port.
  std::string listen_address = "127.0.0.1:0";
  // Prometheus listen address; empty serves no metrics.
  std::string metrics_address;
  // On shutdown, how long to keep taking calls while health already says
  // NOT_SERVING, so load balancers stop routing here before the port closes.
  absl::Duration drain_delay = absl::ZeroDuration();
  // How long calls in flight may run on after the server stops taking calls.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Threads of the executor that runs request handlers (see
  // common/executor.h); the composition root creates it.
  int handler_threads = 16;
  // Transport security; insecure when null. ServerConfigFromFlags() sets
  // it from the TLS flags (common/tls_flags.h).
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

// A gRPC service to host together with the full name health reports it under
// (e.g. "fivestar.registry.v1.RegistryService").
struct HostedService {
  grpc::Service* service;  // Not owned; must outlive the host.
  std::string full_name;
};

// A server's audit log (common/audit.h): where its events go and which of
// its methods are writes. Nothing is owned; all outlive the server.
struct ServerAudit {
  AuditStore* store = nullptr;
  // Tells who each caller is, as the handlers do.
  const Authenticator* authenticator = nullptr;
  // The time of each event.
  const Clock* clock = Clock::System();
  // Full names of the methods to record, e.g.
  // "/fivestar.registry.v1.RegistryService/CreateVillage": every write of
  // the hosted services, no read.
  std::vector<std::string> write_methods;
};

// Whether `host` names this host's loopback interface: "localhost", an IPv4
// address in 127.0.0.0/8, or ::1 (bracketed or not, or v4-mapped). Any other
// name or address, 0.0.0.0 and :: included, is not.
bool IsLoopbackHost(absl::string_view host);

// "host:port", with an IPv6 literal bracketed ("[::1]:50051").
std::string HostPort(absl::string_view host, int port);

// Sets the defaults of --port and --metrics_port for this binary, so that
// the services can run side by side on one host with no flags (registry
// 50051/9090, projects 50052/9091, scoring 50053/9092). Call before
// ParseFlagsWithEnvironment; the environment and command line still win.
void SetDefaultPorts(int grpc_port, int metrics_port);

// Reads the common server flags (--host, --port, --metrics_host,
// --metrics_port, --allow_plaintext_remote, --handler_threads, --drain_delay,
// --shutdown_grace, --log_level) and sets up logging for `name`. Both
// listeners default to loopback; a non-loopback --host without TLS is
// INVALID_ARGUMENT unless --allow_plaintext_remote (then a warning).
absl::StatusOr<ServerConfig> ServerConfigFromFlags(const std::string& name);

// Reads --tokens_file / --disable_auth. Authentication is on unless
// --disable_auth is given; then --tokens_file is required.
absl::StatusOr<Authenticator> AuthenticatorFromFlags();

// What every server's main.cc reads from the common flags.
struct CommonServerOptions {
  ServerConfig server;
  std::shared_ptr<const Authenticator> authenticator;
  // How this server dials its peers (--peer_tls_*); null for plaintext.
  // Only project tracking and scoring have peers.
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials;
  // Keeps the authenticator's tokens in step with --tokens_file (checked
  // every --tokens_reload_interval, and on SIGHUP); null when
  // authentication is off. main.cc keeps it alive while serving.
  std::shared_ptr<TokensFileWatcher> tokens_watcher;
};

// ServerConfigFromFlags(name), then AuthenticatorFromFlags() and its tokens
// watcher, then PeerCredentialsFromFlags(): all, or the first error (a bad
// configuration).
absl::StatusOr<CommonServerOptions> CommonServerOptionsFromFlags(
    const std::string& name);

// A running gRPC server with health, reflection and metrics.
class ServerHost {
 public:
  // Builds and starts the server. Every hosted service, and the server as a
  // whole (""), reports NOT_SERVING until SetServing(true). With `audit`,
  // every call of audit->write_methods is recorded in audit->store before
  // its status is sent (see common/audit.h).
  static absl::StatusOr<std::unique_ptr<ServerHost>> Start(
      const ServerConfig& config, const std::vector<HostedService>& services,
      const ServerAudit* audit = nullptr);

  ~ServerHost();

  // The bound gRPC port.
  int port() const { return port_; }
  // The bound metrics port, or 0 when metrics are off.
  int metrics_port() const { return metrics_->port(); }
  ServerMetrics& metrics() { return *metrics_; }
  // The audit log's writer, or null without an audit log.
  AuditLog* audit_log() { return audit_log_.get(); }

  // Sets the health status of every hosted service and of "".
  void SetServing(bool serving);

  // Drains: reports NOT_SERVING, keeps taking calls for the drain delay,
  // stops taking calls, lets calls in flight finish within the grace period,
  // then cancels what is left; last, writes the audit events still queued.
  // Idempotent; blocks until done.
  // `before_stop`, when given, runs after the drain delay and before the
  // server stops taking calls: the place to end long-lived streams.
  void Shutdown(const std::function<void()>& before_stop = nullptr);

 private:
  ServerHost() = default;

  ServerConfig config_;
  std::vector<std::string> service_names_;
  std::unique_ptr<ServerMetrics> metrics_;
  // Before server_, whose interceptors use it, so destroyed after it.
  std::unique_ptr<AuditLog> audit_log_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and in every
// thread started after it, so that ServeUntilSignal receives them; call first
// thing in main.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

// What every server's main() does once its server started: waits for
// SIGTERM or SIGINT, logs it, calls `stop` (which drains and stops) and
// returns main's exit code, 0. Meanwhile each SIGHUP re-reads the tokens
// file through `tokens` (when not null).
int ServeUntilSignal(const std::function<void()>& stop,
                     TokensFileWatcher* tokens = nullptr);

// main()'s exit code when its server could not start: logs why and returns
// 2 for bad configuration (INVALID_ARGUMENT), 1 otherwise.
int StartFailed(const absl::Status& status);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SERVER_H_
