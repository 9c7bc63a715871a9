// A fivestar server as a real process, for tests that kill, stop or hang a
// whole service (SIGKILL, SIGTERM, SIGSTOP): the binary the build made
// (services/<name>/fivestar-<name>), on 127.0.0.1 at a free port, metrics
// off, its output in a log file. Start returns once health says SERVING.
#ifndef FIVESTAR_TESTS_TESTING_SERVICE_PROCESS_H_
#define FIVESTAR_TESTS_TESTING_SERVICE_PROCESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"

namespace fivestar::testing {

struct ServiceProcessOptions {
  // "registry", "projects" or "scoring".
  std::string service;
  // Flags beyond --host, --port and --metrics_port, e.g. --database=...,
  // --tokens_file=... (or --disable_auth), --registry=..., --redis=....
  std::vector<std::string> flags;
  // 0: a free port. Otherwise this one.
  int port = 0;
  // Where the server's output goes (appended across restarts); /dev/null
  // when empty.
  std::string log_path;
  // How long Start waits for SERVING.
  absl::Duration serving_within = absl::Seconds(20);
};

// The path of the server binary for `service` in this build tree.
std::string ServiceBinary(const std::string& service);

class ServiceProcess {
 public:
  // Starts the server and waits until grpc.health.v1 says SERVING for the
  // whole server. UNAVAILABLE (with the end of its log) when it exits or
  // does not serve within options.serving_within.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      const ServiceProcessOptions& options);
  // Kills the process if it still runs.
  ~ServiceProcess() = default;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const;
  // A fresh plaintext channel to the server.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  ChildProcess& process() { return *process_; }

  // Starts the server again with the same options on the same port, after
  // the previous process ended (it is killed first if it still runs), and
  // waits for SERVING.
  absl::Status Restart();

 private:
  ServiceProcess() = default;
  absl::Status Launch();

  ServiceProcessOptions options_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Whether the server at `address` answers grpc.health.v1 Check for the
// whole server ("") with SERVING within `deadline`.
bool IsServing(const std::string& address, absl::Duration deadline);

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_SERVICE_PROCESS_H_
