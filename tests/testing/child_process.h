// A child process for tests: started with fork/exec (argv built before the
// fork, so the child only calls async-signal-safe functions), its output
// sent to a log file, signalled and reaped by pid. Real servers (the
// fivestar binaries, redis-server) run this way when a test needs to kill,
// stop or hang a whole process.
#ifndef FIVESTAR_TESTS_TESTING_CHILD_PROCESS_H_
#define FIVESTAR_TESTS_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fivestar::testing {

struct ChildProcessOptions {
  // argv[0] is looked up on PATH when it has no '/'.
  std::vector<std::string> argv;
  // Where the child's stdout and stderr go (appended); /dev/null if empty.
  std::string log_path;
  // When set, the child runs as this user (its uid, primary gid and no
  // supplementary groups): a test running as root starts PostgreSQL, which
  // refuses to run as root, as "postgres". Needs the privilege to switch.
  std::string user;
  // When not 0, the signal the child gets if the thread that started it
  // ends (Linux's parent-death signal): a server a test started must not
  // outlive a test process that crashed or was killed by its timeout.
  // Start such a child from a thread that lives as long as it should.
  int parent_death_signal = 0;
};

class ChildProcess {
 public:
  // Starts the process. UNAVAILABLE when fork fails; a program that cannot
  // be executed exits 127 (see Wait).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const ChildProcessOptions& options);
  // Kill()s the process if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Whether the process has not been reaped yet (it may be a zombie until
  // the next Exited or Wait).
  bool running() const { return pid_ > 0; }

  // Sends `signal` (SIGKILL, SIGTERM, SIGSTOP, SIGCONT, ...). Does nothing
  // once the process was reaped.
  void Signal(int signal);

  // Reaps the process if it has exited, without waiting: its wait status
  // (see <sys/wait.h>), or nullopt while it runs.
  std::optional<int> Exited();

  // Waits up to `timeout` for the process to exit and returns its wait
  // status; DEADLINE_EXCEEDED if it still runs then (it is left running).
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // Waits up to `timeout` until every thread of the process is stopped
  // (after SIGSTOP: Linux stops a process's threads one by one, and a
  // thread may still answer a call or two after kill() returned).
  // DEADLINE_EXCEEDED if some thread still runs then; FAILED_PRECONDITION
  // once the process was reaped. Reads /proc/<pid>/task/*/stat.
  absl::Status WaitStopped(absl::Duration timeout);

  // SIGKILL (and SIGCONT, for a stopped process) and reap. Does nothing
  // once the process was reaped.
  void Kill();

  // SIGCONT and SIGTERM; SIGKILL if it has not exited within `grace`.
  void Stop(absl::Duration grace = absl::Seconds(5));

  // The log's content so far ("" without a log), for failure messages.
  std::string Log() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_status_;
};

// "exit 0", "exit 2", "killed by signal 9": a wait status for messages.
std::string DescribeWaitStatus(int status);

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_CHILD_PROCESS_H_
