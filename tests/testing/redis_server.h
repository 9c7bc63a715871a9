// A real redis-server for tests: started on a free loopback port in its own
// temporary directory, with persistence off, optionally as a replica of
// another, and stopped by pid.
#ifndef FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_
#define FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
  // When not 0, started as a replica of the Redis on this loopback port
  // (--replicaof 127.0.0.1 <port>).
  int replica_of = 0;
};

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// Sends one command to the Redis (or sentinel) on 127.0.0.1:`port` over a
// new connection and returns its reply, an error reply included;
// UNAVAILABLE when there is none (cannot connect, I/O error, timeout).
absl::StatusOr<RedisReply> RedisCommand(
    int port, const std::vector<std::string>& command,
    absl::Duration timeout = absl::Seconds(2));

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
  // Kills the server (SIGKILL by pid, as a crash) and reaps it, so its
  // port is closed when this returns; later calls do nothing.
  void Kill();

 private:
  RedisServer() = default;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_REDIS_SERVER_H_
