// A real redis-server for tests: started on a free loopback port in its own
// temporary directory, with persistence off, and stopped by pid.
#ifndef FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_
#define FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/child_process.h"
#include "tests/testing/ports.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

struct RedisServerOptions {
  // 0: a free port. Otherwise this one (a restart on the port of a server
  // that was stopped).
  int port = 0;
  // Started with --requirepass when set.
  std::string password;
};

class RedisServer {
 public:
  // Starts redis-server (from PATH) and waits until it answers PING.
  // UNAVAILABLE when it cannot be started within a few seconds.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      const RedisServerOptions& options = {});
  ~RedisServer();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // The server's process, for signals (SIGSTOP makes a hung Redis); -1 once
  // stopped.
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Stops the server now (SIGTERM, then SIGKILL); later calls do nothing.
  void Stop();

 private:
  RedisServer() = default;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_
