#include "tests/testing/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fivestar::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const ChildProcessOptions& options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("argv: must name a program");
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->log_path_ = options.log_path;
  // Everything the child needs is made before fork(): the child of a
  // multithreaded process may only call async-signal-safe functions.
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  uid_t uid = 0;
  gid_t gid = 0;
  if (!options.user.empty()) {
    const passwd* entry = getpwnam(options.user.c_str());
    if (entry == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("user: no user named \"", options.user, "\""));
    }
    uid = entry->pw_uid;
    gid = entry->pw_gid;
  }
  const std::string log =
      options.log_path.empty() ? "/dev/null" : options.log_path;
  const int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open log ", log));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::UnavailableError("fork failed");
  }
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    // The test may block signals in its threads; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!options.user.empty() &&
        (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
      _exit(126);
    }
    // After the change of user, which clears it; and if the parent is
    // already gone, the signal will never come.
    if (options.parent_death_signal != 0 &&
        (prctl(PR_SET_PDEATHSIG, options.parent_death_signal) != 0 ||
         getppid() != parent)) {
      _exit(125);
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  child->pid_ = pid;
  return child;
}

ChildProcess::~ChildProcess() { Kill(); }

void ChildProcess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

std::optional<int> ChildProcess::Exited() {
  if (pid_ <= 0) return exit_status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = status;
  }
  return exit_status_;
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (std::optional<int> status = Exited()) return *status;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "pid ", pid_, " still runs after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

namespace {

// Whether every thread of `pid` is in state T (stopped) or t (traced).
bool AllThreadsStopped(pid_t pid) {
  std::error_code error;
  const std::filesystem::path tasks = absl::StrCat("/proc/", pid, "/task");
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    // "<tid> (<comm>) <state> ...": comm may hold spaces and parentheses.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;
    const char state = stat[close + 2];
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any && !error;
}

}  // namespace

absl::Status ChildProcess::WaitStopped(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (Exited().has_value()) {
      return absl::FailedPreconditionError("the process has exited");
    }
    if (AllThreadsStopped(pid_)) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "pid ", pid_, " not stopped after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  kill(pid_, SIGCONT);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = status;
  pid_ = -1;
}

void ChildProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  if (!Wait(grace).ok()) Kill();
}

std::string ChildProcess::Log() const {
  if (log_path_.empty()) return "";
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return absl::StrCat("wait status ", status);
}

}  // namespace fivestar::testing
