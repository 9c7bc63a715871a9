// One holder at a time among the processes that share a PostgreSQL
// database: replicas of a service agree which of them runs a singleton job
// (scoring's feed followers) through a session advisory lock, held on a
// connection of the lease's own. A replica that dies or loses its
// connection loses the lock with its session, and a waiting replica takes
// it at its next try.
//
// A holder learns that it lost the lock when its connection fails, at the
// latest one check interval later; in between, both may run the job, so
// the job must tolerate that (scoring's re-evaluations are idempotent). A
// process that is stopped (SIGSTOP) but whose connection stays open keeps
// the lock until PostgreSQL notices the dead peer (TCP keepalives).
#ifndef FIVESTAR_COMMON_POSTGRES_LEASE_H_
#define FIVESTAR_COMMON_POSTGRES_LEASE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/postgres.h"

namespace fivestar {

struct PostgresLeaseOptions {
  // The database, as PostgresPool takes it.
  std::string database;
  // The lease's name; every process asking for the same name on the same
  // database competes for one lock (keyed by PostgreSQL's own stable hash
  // of the name, hashtextextended).
  std::string name;
  // How often a waiting lease tries to take the lock, and a holding one
  // checks that its connection (hence the lock) is still there.
  absl::Duration check_interval = absl::Seconds(1);
  // Called on the lease's thread once the lock is taken, and once it is
  // lost or given back (Stop); never both at once, always in that order.
  std::function<void()> acquired;
  std::function<void()> released;
};

class PostgresLease {
 public:
  // Does no I/O; Start() begins trying.
  explicit PostgresLease(PostgresLeaseOptions options);
  // Stop().
  ~PostgresLease();
  PostgresLease(const PostgresLease&) = delete;
  PostgresLease& operator=(const PostgresLease&) = delete;

  // Starts the lease's thread.
  void Start();
  // Gives the lock back (calling `released` if it was held) and ends the
  // thread. Idempotent.
  void Stop();

  // Whether this process holds the lock (as of the last check).
  bool held() const { return held_.load(); }

 private:
  void Run();
  // One try or check; closes the connection when it failed.
  void Check();

  const PostgresLeaseOptions options_;
  std::unique_ptr<PostgresConnection> connection_;  // The lease's thread's.
  std::atomic<bool> held_{false};
  absl::Notification stopping_;
  std::thread thread_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_POSTGRES_LEASE_H_
