#include "tests/testing/service_process.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/ports.h"

namespace fivestar::testing {

std::string ServiceBinary(const std::string& service) {
  return absl::StrCat(FIVESTAR_BINARY_DIR, "/services/", service, "/fivestar-",
                      service);
}

bool IsServing(const std::string& address, absl::Duration deadline) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const ServiceProcessOptions& options) {
  std::unique_ptr<ServiceProcess> server(new ServiceProcess());
  server->options_ = options;
  server->port_ = options.port;
  // Another process may take a picked port before the server binds it;
  // a new free port is tried then (a given port is retried as it is: the
  // old server's socket may linger).
  absl::Status status;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (options.port == 0) {
      absl::StatusOr<int> port = PickFreePort();
      if (!port.ok()) return port.status();
      server->port_ = *port;
    }
    status = server->Launch();
    if (status.ok()) return server;
  }
  return status;
}

std::string ServiceProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::shared_ptr<grpc::Channel> ServiceProcess::NewChannel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

absl::Status ServiceProcess::Restart() {
  if (process_ != nullptr) process_->Kill();
  absl::Status status;
  // The old process's listening socket is gone once it was reaped, but a
  // restart right after may still race the kernel; retry a few times.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(200));
    status = Launch();
    if (status.ok()) return status;
  }
  return status;
}

absl::Status ServiceProcess::Launch() {
  ChildProcessOptions spawn;
  spawn.argv = {ServiceBinary(options_.service), "--host=127.0.0.1",
                absl::StrCat("--port=", port_), "--metrics_port=-1"};
  spawn.argv.insert(spawn.argv.end(), options_.flags.begin(),
                    options_.flags.end());
  spawn.log_path = options_.log_path;
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Spawn(spawn);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  const absl::Time deadline = absl::Now() + options_.serving_within;
  while (absl::Now() < deadline) {
    if (IsServing(address(), absl::Milliseconds(500))) {
      return absl::OkStatus();
    }
    if (std::optional<int> exited = process_->Exited()) {
      return absl::UnavailableError(absl::StrCat(options_.service, " exited (",
                                                 DescribeWaitStatus(*exited),
                                                 "): ", process_->Log()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  process_->Kill();
  return absl::UnavailableError(absl::StrCat(
      options_.service, " did not serve on ", address(), " within ",
      absl::FormatDuration(options_.serving_within), ": ", process_->Log()));
}

}  // namespace fivestar::testing
