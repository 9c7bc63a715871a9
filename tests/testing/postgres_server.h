// A real PostgreSQL server for tests: Debian's postgresql-15, started on a
// free loopback port from a data directory of its own (a copy of a template
// cluster that initdb makes once per machine), TCP only, and stopped by
// pid. Run as root, the server runs as the "postgres" user (it refuses to
// run as root); otherwise as the caller.
//
// Start it from a thread that lives as long as the server should (the
// test's own): the server gets SIGINT when that thread ends, so that a
// test process that crashed or was killed by its timeout leaves no server
// behind.
//
// The data directories (and the template) live in memory (/dev/shm) when
// it has room: copying a cluster to this machine's disk costs ten times as
// much.
//
// fsync is off: a test kills a service process, never the database server,
// so what PostgreSQL itself syncs is not what these tests check, and each
// commit would otherwise wait for the disk.
#ifndef FIVESTAR_TESTS_TESTING_POSTGRES_SERVER_H_
#define FIVESTAR_TESTS_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/child_process.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

class PostgresServer {
 public:
  // Starts the server and waits until it accepts connections. UNAVAILABLE
  // when it cannot be started within a few seconds (with its log).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  int port() const { return port_; }
  // "postgresql://postgres@127.0.0.1:<port>/<database>".
  std::string Uri(const std::string& database = "postgres") const;
  // Creates a database of a fresh name and returns its URI. Its default
  // collation is ICU's root locale, which does not order text bytewise.
  absl::StatusOr<std::string> CreateDatabase();

  // The server's postmaster process; -1 once stopped.
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Stops the server (SIGINT: PostgreSQL's fast shutdown, which ends the
  // sessions), waiting for it to exit; later calls do nothing.
  void Stop();
  // Starts it again on the same port and data (after Stop): a database
  // that went away and came back.
  absl::Status Restart();

 private:
  PostgresServer();
  absl::Status Launch();

  TempDir dir_;
  std::string data_dir_;
  std::string user_;  // Whom the server runs as ("" = this process's user).
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_POSTGRES_SERVER_H_
