#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

absl::StatusOr<RedisReply> RedisCommand(int port,
                                        const std::vector<std::string>& command,
                                        absl::Duration timeout) {
  const timeval limit = absl::ToTimeval(timeout);
  redisContext* context = redisConnectWithTimeout("127.0.0.1", port, limit);
  if (context == nullptr || context->err != 0) {
    const std::string why =
        context == nullptr ? "out of memory" : context->errstr;
    if (context != nullptr) redisFree(context);
    return absl::UnavailableError(
        absl::StrCat("127.0.0.1:", port, ": cannot connect: ", why));
  }
  redisSetTimeout(context, limit);
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  RedisReply reply(static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  const std::string why = context->errstr;
  redisFree(context);
  if (reply == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("127.0.0.1:", port, ": no reply: ", why));
  }
  return reply;
}

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
    // A replica's first sync starts at once, not after the 5 s Redis waits
    // by default for more replicas to share it.
    args.push_back("--repl-diskless-sync-delay");
    args.push_back("0");
    if (options.replica_of != 0) {
      args.push_back("--replicaof");
      args.push_back("127.0.0.1");
      args.push_back(std::to_string(options.replica_of));
    }
    ChildProcessOptions spawn;
    spawn.argv = args;
    absl::StatusOr<std::unique_ptr<ChildProcess>> process =
        ChildProcess::Spawn(spawn);
    if (!process.ok()) return process.status();
    server->process_ = *std::move(process);
    server->port_ = *port;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      if (Pings(*port, options.password)) return server;
      // Exited: most likely the port was taken.
      if (server->process_->Exited().has_value()) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    server->Stop();
  }
  return absl::UnavailableError(
      "redis-server did not start (is it installed and on PATH?)");
}

RedisServer::~RedisServer() { Stop(); }

void RedisServer::Stop() {
  if (process_ != nullptr) process_->Stop();
  process_.reset();
}

void RedisServer::Kill() {
  if (process_ != nullptr) process_->Kill();
  process_.reset();
}

}  // namespace fivestar::testing
