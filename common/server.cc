#include "common/server.h"

#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/invalid_request.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/tls_flags.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on for gRPC. Loopback by default; a non-loopback "
          "address without TLS also needs --allow_plaintext_remote.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "Address of the Prometheus /metrics endpoint (plain HTTP). Loopback "
          "by default; another address is allowed and logged as a warning.");
ABSL_FLAG(bool, allow_plaintext_remote, false,
          "Allow gRPC without TLS on a non-loopback --host (e.g. 0.0.0.0 "
          "inside a container whose network is private). Logged as a "
          "warning.");
ABSL_FLAG(int, port, 50051,
          "gRPC port (0 picks a free one); each service has its own default.");
ABSL_FLAG(int, metrics_port, 9090,
          "Port of the Prometheus /metrics endpoint (each service has its own "
          "default); -1 disables it.");
ABSL_FLAG(absl::Duration, drain_delay, absl::ZeroDuration(),
          "On SIGTERM/SIGINT, how long to keep serving while health already "
          "reports NOT_SERVING, so load balancers stop sending calls first "
          "(e.g. 5s behind a load balancer or in Kubernetes).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long calls in flight may finish before "
          "they are cancelled.");
ABSL_FLAG(int, handler_threads, 16,
          "Threads that run request handlers (storage and calls to other "
          "services), apart from gRPC's own threads, so a slow peer or a "
          "long read never holds up health checks.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error or off.");
ABSL_FLAG(std::string, tokens_file, "",
          "File of bearer-token hashes and their principals, one per line: "
          "<sha256-hex> <role> <scope> <name>. Required unless "
          "--disable_auth.");
ABSL_FLAG(absl::Duration, tokens_reload_interval, absl::Seconds(2),
          "How often to check --tokens_file for a new version (0: only on "
          "SIGHUP). An invalid new version is refused and logged; the "
          "tokens in force stay.");
ABSL_FLAG(bool, disable_auth, false,
          "Serve every caller as a global admin, without tokens. For local "
          "demos only.");

namespace fivestar {

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  const std::string literal(host);
  in_addr v4;
  if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string HostPort(absl::string_view host, int port) {
  // IPv6 literals need brackets in a host:port address.
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

void SetDefaultPorts(int grpc_port, int metrics_port) {
  absl::SetFlag(&FLAGS_port, grpc_port);
  absl::SetFlag(&FLAGS_metrics_port, metrics_port);
}

absl::StatusOr<ServerConfig> ServerConfigFromFlags(const std::string& name) {
  if (absl::Status status = InitLogging(name, absl::GetFlag(FLAGS_log_level));
      !status.ok()) {
    return status;
  }
  ServerConfig config;
  config.name = name;
  const std::string host = absl::GetFlag(FLAGS_host);
  if (host.empty())
    return absl::InvalidArgumentError("host: must not be empty");
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port: must be 0..65535, got ", port));
  }
  config.listen_address = HostPort(host, port);
  const std::string metrics_host = absl::GetFlag(FLAGS_metrics_host);
  if (metrics_host.empty()) {
    return absl::InvalidArgumentError("metrics_host: must not be empty");
  }
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (metrics_port < -1 || metrics_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics_port: must be -1 (off) or 0..65535, got ", metrics_port));
  }
  if (metrics_port >= 0) {
    config.metrics_address = HostPort(metrics_host, metrics_port);
  }
  config.handler_threads = absl::GetFlag(FLAGS_handler_threads);
  if (config.handler_threads < 1 || config.handler_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "handler_threads: must be 1..1024, got ", config.handler_threads));
  }
  config.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  if (config.drain_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("drain_delay: must not be negative");
  }
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (config.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shutdown_grace: must not be negative");
  }
  ASSIGN_OR_RETURN(config.credentials, ServerCredentialsFromFlags());
  // Plaintext gRPC leaves the host only by the operator's explicit choice.
  if (config.credentials == nullptr && !IsLoopbackHost(host)) {
    if (!absl::GetFlag(FLAGS_allow_plaintext_remote)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "host: ", host,
          " is not a loopback address and TLS is off; configure TLS, or "
          "pass --allow_plaintext_remote to serve plaintext gRPC on it"));
    }
    spdlog::warn("msg={} host={}",
                 LogValue("plaintext gRPC on a non-loopback address "
                          "(--allow_plaintext_remote)"),
                 LogValue(host));
  }
  if (!config.metrics_address.empty() && !IsLoopbackHost(metrics_host)) {
    spdlog::warn("msg={} metrics_host={}",
                 LogValue("the metrics endpoint is plain HTTP on a "
                          "non-loopback address"),
                 LogValue(metrics_host));
  }
  return config;
}

absl::StatusOr<Authenticator> AuthenticatorFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_tokens_file);
  if (absl::GetFlag(FLAGS_disable_auth)) {
    if (!path.empty()) {
      return absl::InvalidArgumentError(
          "disable_auth: cannot be combined with --tokens_file");
    }
    spdlog::warn("msg={}", LogValue("authentication disabled by "
                                    "--disable_auth: every caller is admin"));
    return Authenticator::Disabled();
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "tokens_file: required (or pass --disable_auth for a local demo)");
  }
  absl::StatusOr<TokenTable> tokens = TokenTable::Load(path);
  if (!tokens.ok()) return tokens.status();
  spdlog::info("msg=tokens_loaded principals={}", tokens->size());
  return Authenticator(*std::move(tokens));
}

absl::StatusOr<CommonServerOptions> CommonServerOptionsFromFlags(
    const std::string& name) {
  CommonServerOptions options;
  ASSIGN_OR_RETURN(options.server, ServerConfigFromFlags(name));
  ASSIGN_OR_RETURN(Authenticator authenticator, AuthenticatorFromFlags());
  const absl::Duration reload = absl::GetFlag(FLAGS_tokens_reload_interval);
  if (reload < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "tokens_reload_interval: must not be negative");
  }
  if (authenticator.enabled()) {
    options.tokens_watcher = std::make_shared<TokensFileWatcher>(
        absl::GetFlag(FLAGS_tokens_file), authenticator.token_store(), reload);
  }
  options.authenticator =
      std::make_shared<const Authenticator>(std::move(authenticator));
  ASSIGN_OR_RETURN(options.peer_credentials, PeerCredentialsFromFlags());
  return options;
}

absl::StatusOr<std::unique_ptr<ServerHost>> ServerHost::Start(
    const ServerConfig& config, const std::vector<HostedService>& services,
    const ServerAudit* audit) {
#ifdef NDEBUG
  // Abseil's Mutex deadlock detection (on in the distribution's build)
  // keeps a global graph of every lock taken and every Mutex destroyed;
  // in a release server it costs every call a few percent of its CPU.
  // Debug builds (the tests) keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::unique_ptr<ServerHost> host(new ServerHost());
  host->config_ = config;
  host->metrics_ = std::make_unique<ServerMetrics>();
  if (!config.metrics_address.empty()) {
    if (absl::Status status = host->metrics_->Serve(config.metrics_address);
        !status.ok()) {
      return status;
    }
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind a
  // port that is in use and take half of its connections (to another
  // database). A busy port must fail start-up instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen_address,
                           config.credentials != nullptr
                               ? config.credentials
                               : grpc::InsecureServerCredentials(),
                           &host->port_);
  for (const HostedService& hosted : services) {
    builder.RegisterService(hosted.service);
    host->service_names_.push_back(hosted.full_name);
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  // First, so that the metrics and the call log see the status it rewrites.
  interceptors.push_back(NewInvalidRequestInterceptorFactory());
  if (audit != nullptr) {
    if (audit->store == nullptr || audit->authenticator == nullptr ||
        audit->clock == nullptr) {
      return absl::InvalidArgumentError(
          "audit: needs a store, an authenticator and a clock");
    }
    host->audit_log_ =
        std::make_unique<AuditLog>(audit->store, host->metrics_->registry());
    // After the status rewrite, so the event holds what the client gets;
    // before the metrics, whose latency then includes the audit write.
    interceptors.push_back(NewAuditInterceptorFactory(AuditPolicy{
        host->audit_log_.get(), audit->authenticator, audit->clock,
        absl::flat_hash_set<std::string>(audit->write_methods.begin(),
                                         audit->write_methods.end())}));
  }
  interceptors.push_back(host->metrics_->NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  host->server_ = builder.BuildAndStart();
  if (host->server_ == nullptr || host->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config.listen_address,
        ": the port is in use by another process, or the address is not one "
        "of this host's"));
  }
  host->SetServing(false);
  spdlog::info("msg=listening address={} port={} metrics_port={}",
               config.listen_address, host->port_,
               config.metrics_address.empty()
                   ? std::string("off")
                   : std::to_string(host->metrics_port()));
  return host;
}

ServerHost::~ServerHost() { Shutdown(); }

void ServerHost::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);
  for (const std::string& name : service_names_) {
    health->SetServingStatus(name, serving);
  }
}

void ServerHost::Shutdown(const std::function<void()>& before_stop) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  SetServing(false);
  if (config_.drain_delay > absl::ZeroDuration()) {
    spdlog::info("msg=not_serving drain_delay_ms={}",
                 absl::ToInt64Milliseconds(config_.drain_delay));
    absl::SleepFor(config_.drain_delay);
  }
  if (before_stop) before_stop();
  spdlog::info("msg=draining grace_ms={}",
               absl::ToInt64Milliseconds(config_.shutdown_grace));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
  // The audit writer runs until here: a call whose status waits for its
  // audit event is a call in flight, which Wait() waits for.
  server_->Wait();
  if (audit_log_ != nullptr) audit_log_->Stop();
  spdlog::info("msg=stopped");
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number;
}

int ServeUntilSignal(const std::function<void()>& stop,
                     TokensFileWatcher* tokens) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    int signal_number = 0;
    sigwait(&set, &signal_number);
    spdlog::info("msg=signal_received signal={}", signal_number);
    if (signal_number != SIGHUP) break;
    if (tokens == nullptr) {
      spdlog::info("msg={}", LogValue("SIGHUP: no tokens file to reload"));
    } else {
      tokens->ReloadNow().IgnoreError();  // Logged by the watcher.
    }
  }
  stop();
  return 0;
}

int StartFailed(const absl::Status& status) {
  spdlog::critical("msg=cannot_start error={}", LogValue(status.message()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace fivestar
