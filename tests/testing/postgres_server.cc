#include "tests/testing/postgres_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/ports.h"

namespace fivestar::testing {

namespace {

// Where Debian's postgresql-15 keeps its server programs, unless
// FIVESTAR_POSTGRES_BINDIR names another.
std::string BinDir() {
  const char* dir = std::getenv("FIVESTAR_POSTGRES_BINDIR");
  return dir != nullptr ? dir : "/usr/lib/postgresql/15/bin";
}

// Runs a program to its end; its log in the status when it fails.
absl::Status RunToEnd(std::vector<std::string> argv, const std::string& user,
                      const std::string& log) {
  ChildProcessOptions options;
  options.argv = std::move(argv);
  options.user = user;
  options.log_path = log;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(options);
  if (!child.ok()) return child.status();
  absl::StatusOr<int> status = (*child)->Wait(absl::Seconds(60));
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::UnavailableError(absl::StrCat(options.argv[0], " failed (",
                                               DescribeWaitStatus(*status),
                                               "): ", (*child)->Log()));
  }
  return absl::OkStatus();
}

absl::Status ChangeOwner(const std::string& path, const std::string& user) {
  if (user.empty()) return absl::OkStatus();
  const passwd* entry = getpwnam(user.c_str());
  if (entry == nullptr || chown(path.c_str(), entry->pw_uid, entry->pw_gid)) {
    return absl::UnavailableError(
        absl::StrCat("cannot give ", path, " to ", user));
  }
  return absl::OkStatus();
}

// Where data directories go: /dev/shm when it is a writable directory
// with at least 1 GiB free, else $TMPDIR (or /tmp).
std::string DataBase() {
  static const std::string base = [] {
    struct statvfs memory;
    if (access("/dev/shm", W_OK) == 0 && statvfs("/dev/shm", &memory) == 0 &&
        static_cast<uint64_t>(memory.f_bavail) * memory.f_frsize >=
            (uint64_t{1} << 30)) {
      return std::string("/dev/shm");
    }
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp");
  }();
  return base;
}

// The template cluster, made by initdb once per machine and user: an
// initdb costs about a second, a copy of its result a tenth of that. Test
// processes that start together take turns on a lock file; the template
// appears under its name only once complete.
absl::StatusOr<std::string> Template(const std::string& user) {
  const std::string path = absl::StrCat(DataBase(), "/fivestar-postgres-",
                                        "template-15-", geteuid());
  const std::string lock_path = path + ".lock";
  const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    if (lock >= 0) close(lock);
    return absl::UnavailableError(absl::StrCat("cannot lock ", lock_path));
  }
  absl::Status made = absl::OkStatus();
  if (!std::filesystem::exists(path + "/PG_VERSION")) {
    const std::string building = absl::StrCat(path, ".building-", getpid());
    std::error_code ignored;
    std::filesystem::remove_all(building, ignored);
    std::filesystem::create_directory(building, ignored);
    made = ChangeOwner(building, user);
    if (made.ok()) {
      made = RunToEnd({BinDir() + "/initdb", "-D", building, "-U", "postgres",
                       "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync",
                       "--no-instructions", "--wal-segsize=1"},
                      user, building + ".log");
    }
    if (made.ok() && rename(building.c_str(), path.c_str()) != 0) {
      made = absl::UnavailableError(absl::StrCat("cannot rename ", building));
    }
    std::filesystem::remove(building + ".log", ignored);
    if (!made.ok()) std::filesystem::remove_all(building, ignored);
  }
  flock(lock, LOCK_UN);
  close(lock);
  if (!made.ok()) return made;
  return path;
}

std::string ConnInfo(int port, const std::string& database) {
  return absl::StrCat("host=127.0.0.1 port=", port,
                      " user=postgres connect_timeout=2 dbname=", database);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  if (geteuid() == 0) server->user_ = "postgres";
  if (!std::filesystem::exists(BinDir() + "/postgres")) {
    return absl::UnavailableError(
        absl::StrCat("no PostgreSQL server in ", BinDir(),
                     " (scripts/install-deps.sh installs postgresql-15; "
                     "FIVESTAR_POSTGRES_BINDIR names another)"));
  }
  absl::StatusOr<std::string> source = Template(server->user_);
  if (!source.ok()) return source.status();
  if (absl::Status owned = ChangeOwner(server->dir_.path(), server->user_);
      !owned.ok()) {
    return owned;
  }
  server->data_dir_ = server->dir_.File("data");
  if (absl::Status copied =
          RunToEnd({"cp", "-a", *source, server->data_dir_}, server->user_,
                   server->dir_.File("cp.log"));
      !copied.ok()) {
    return copied;
  }
  // Another process may take the picked port before the server binds it.
  absl::Status launched = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    launched = server->Launch();
    if (launched.ok()) return server;
  }
  return launched;
}

absl::Status PostgresServer::Launch() {
  ChildProcessOptions options;
  options.argv = {BinDir() + "/postgres",
                  "-D",
                  data_dir_,
                  "-p",
                  std::to_string(port_),
                  "-c",
                  "listen_addresses=127.0.0.1",
                  "-c",
                  "unix_socket_directories=",
                  "-c",
                  "fsync=off"};
  options.user = user_;
  options.log_path = dir_.File("postgres.log");
  // A test process that crashes or is killed takes its server with it
  // (fast shutdown) instead of leaving it running.
  options.parent_death_signal = SIGINT;
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Spawn(options);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  const std::string conninfo = ConnInfo(port_, "postgres");
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return absl::OkStatus();
    if (process_->Exited().has_value()) break;  // Most likely the port.
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string log = process_->Log();
  Stop();
  return absl::UnavailableError(
      absl::StrCat("PostgreSQL did not start on port ", port_, ": ", log));
}

PostgresServer::PostgresServer() : dir_(DataBase()) {}

PostgresServer::~PostgresServer() { Stop(); }

std::string PostgresServer::Uri(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  const std::string name = absl::StrCat("test_", ++databases_);
  PGconn* conn = PQconnectdb(ConnInfo(port_, "postgres").c_str());
  absl::Status status = absl::OkStatus();
  if (PQstatus(conn) != CONNECTION_OK) {
    status = absl::UnavailableError(PQerrorMessage(conn));
  } else {
    // ICU's root collation orders text unlike its bytes ("a" < "B"), as
    // a province's database in a real locale would: a store whose text
    // keys do not compare bytewise (COLLATE "C") pages wrongly here.
    PGresult* result =
        PQexec(conn, absl::StrCat("CREATE DATABASE ", name,
                                  " TEMPLATE template0 LOCALE_PROVIDER icu "
                                  "ICU_LOCALE 'und' LOCALE 'C.UTF-8'")
                         .c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = absl::InternalError(PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQfinish(conn);
  if (!status.ok()) return status;
  return Uri(name);
}

void PostgresServer::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGINT);  // Fast shutdown: ends the sessions.
  if (!process_->Wait(absl::Seconds(10)).ok()) process_->Kill();
  process_.reset();
}

absl::Status PostgresServer::Restart() {
  if (process_ != nullptr) {
    return absl::FailedPreconditionError("the server is still running");
  }
  // The old socket may linger a moment.
  absl::Status launched = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(200));
    launched = Launch();
    if (launched.ok()) return launched;
  }
  return launched;
}

}  // namespace fivestar::testing
