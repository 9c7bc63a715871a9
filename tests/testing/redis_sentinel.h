// Redis Sentinel for tests: a real sentinel (redis-server <conf> --sentinel,
// its config file in a temporary directory) on a free loopback port,
// monitoring one master with quorum 1 and short timeouts, stopped by pid;
// and the smallest set-up that can fail over: a master, one replica of it
// and one such sentinel.
#ifndef FIVESTAR_TESTS_TESTING_REDIS_SENTINEL_H_
#define FIVESTAR_TESTS_TESTING_REDIS_SENTINEL_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

struct RedisSentinelOptions {
  // The master it monitors (sentinel monitor <name> 127.0.0.1 <port> 1).
  std::string master_name = "fivestar";
  int master_port = 0;
  // How long the master must not answer before it counts as down (and,
  // with quorum 1, a failover starts), and the failover timeout.
  absl::Duration down_after = absl::Milliseconds(1000);
  absl::Duration failover_timeout = absl::Milliseconds(1000);
};

class RedisSentinel {
 public:
  // Writes the config file, starts the sentinel (redis-server from PATH) and
  // waits until it names the master. UNAVAILABLE when it cannot be started
  // within a few seconds.
  static absl::StatusOr<std::unique_ptr<RedisSentinel>> Start(
      const RedisSentinelOptions& options);
  ~RedisSentinel();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  const std::string& master_name() const { return master_name_; }

  // The port of the master as the sentinel names it now
  // (SENTINEL get-master-addr-by-name); NOT_FOUND when it does not know
  // the name, UNAVAILABLE when it does not answer.
  absl::StatusOr<int> MasterPort() const;
  // How many replicas of the master the sentinel has found
  // (SENTINEL replicas).
  absl::StatusOr<int> KnownReplicas() const;

  // Stops the sentinel now (SIGTERM, then SIGKILL); later calls do nothing.
  void Stop();

 private:
  RedisSentinel() = default;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string master_name_;
  int port_ = 0;
};

// A master, one replica of it and one sentinel monitoring it (quorum 1, a
// 1 s down-after): kill the master (SIGKILL by pid) and the sentinel
// promotes the replica within a few seconds.
struct RedisFailoverGroup {
  // Starts the three and returns once the replica is in sync with the
  // master and the sentinel has found it (a replica it does not know it
  // cannot promote). UNAVAILABLE (naming what did not come up) after
  // `timeout`.
  static absl::StatusOr<RedisFailoverGroup> Start(
      const std::string& master_name,
      absl::Duration timeout = absl::Seconds(20));

  // Waits until the replica has processed every write the master had when
  // this was called (its replication offset), polling; DEADLINE_EXCEEDED
  // after `timeout`. (WAIT would not do: it counts only the writes of its
  // own connection.)
  absl::Status WaitForReplication(absl::Duration timeout = absl::Seconds(5));

  // Waits until the sentinel names the replica as the master, polling;
  // DEADLINE_EXCEEDED (naming the master it still names) after `timeout`.
  absl::Status WaitForFailover(absl::Duration timeout = absl::Seconds(20));

  std::unique_ptr<RedisServer> master;
  std::unique_ptr<RedisServer> replica;
  std::unique_ptr<RedisSentinel> sentinel;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_REDIS_SENTINEL_H_
