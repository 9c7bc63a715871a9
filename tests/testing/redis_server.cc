#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testing/ports.h"

namespace fivestar::testing {

namespace {

bool Pings(int port, const std::string& password) {
  timeval timeout{0, 200'000};
  redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeout);
  if (context == nullptr) return false;
  bool ok = false;
  if (context->err == 0 && !password.empty()) {
    auto* auth = static_cast<redisReply*>(
        redisCommand(context, "AUTH %b", password.data(), password.size()));
    if (auth != nullptr) freeReplyObject(auth);
  }
  if (context->err == 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
    ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS &&
         std::string(reply->str, reply->len) == "PONG";
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(context);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    const RedisServerOptions& options) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  // Another process may take the port between picking and binding; retry.
  // A given port is retried too: the old server's socket may linger.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(200));
    absl::StatusOr<int> port =
        options.port != 0 ? options.port : PickFreePort();
    if (!port.ok()) return port.status();
    const std::string port_text = std::to_string(*port);
    const std::string log = server->dir_.File("redis.log");
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     port_text,
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     server->dir_.path(),
                                     "--logfile",
                                     log,
                                     "--daemonize",
                                     "no"};
    if (!options.password.empty()) {
      args.push_back("--requirepass");
      args.push_back(options.password);
    }
    // Built before fork(): the child of a multithreaded process may only
    // call async-signal-safe functions, so no allocation there.
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return absl::UnavailableError("fork failed");
    if (pid == 0) {
      execvp("redis-server", argv.data());
      _exit(127);
    }
    server->pid_ = pid;
    server->port_ = *port;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      if (Pings(*port, options.password)) return server;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        server->pid_ = -1;  // Exited: most likely the port was taken.
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    server->Stop();
  }
  return absl::UnavailableError(
      "redis-server did not start (is it installed and on PATH?)");
}

RedisServer::~RedisServer() { Stop(); }

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  // A stopped (SIGSTOP) server would not act on SIGTERM.
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
}

}  // namespace fivestar::testing
