#include "tests/testing/redis_sentinel.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/testing/ports.h"

namespace fivestar::testing {

namespace {

std::string ReplyText(const redisReply* reply) {
  return std::string(reply->str, reply->len);
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Whether the Redis on `port` is a replica whose link to its master is up
// and whose first full sync is done.
bool InSync(int port) {
  absl::StatusOr<RedisReply> info = RedisCommand(port, {"INFO", "replication"});
  if (!info.ok() || (*info)->type != REDIS_REPLY_STRING) return false;
  const std::string text = ReplyText(info->get());
  return absl::StrContains(text, "role:slave") &&
         absl::StrContains(text, "master_link_status:up") &&
         absl::StrContains(text, "master_sync_in_progress:0");
}

// The value of `field` in the INFO replication of the Redis on `port`, as
// an integer; -1 when there is none.
int64_t ReplicationInfo(int port, absl::string_view field) {
  absl::StatusOr<RedisReply> info = RedisCommand(port, {"INFO", "replication"});
  if (!info.ok() || (*info)->type != REDIS_REPLY_STRING) return -1;
  for (absl::string_view line :
       absl::StrSplit(ReplyText(info->get()), "\r\n")) {
    int64_t value = 0;
    if (absl::ConsumePrefix(&line, field) && absl::ConsumePrefix(&line, ":") &&
        absl::SimpleAtoi(line, &value)) {
      return value;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisSentinel>> RedisSentinel::Start(
    const RedisSentinelOptions& options) {
  std::unique_ptr<RedisSentinel> sentinel(new RedisSentinel());
  sentinel->master_name_ = options.master_name;
  const std::string& name = options.master_name;
  // Another process may take the port between picking and binding; retry.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(200));
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    // Written anew each attempt: the sentinel rewrites its file as it
    // learns about replicas and failovers.
    const std::string conf = sentinel->dir_.File("sentinel.conf");
    if (absl::Status written = WriteFile(
            conf, absl::StrCat(
                      "port ", *port, "\nbind 127.0.0.1\ndaemonize no\ndir ",
                      sentinel->dir_.path(), "\nlogfile ",
                      sentinel->dir_.File("sentinel.log"),
                      "\nsentinel resolve-hostnames no\n", "sentinel monitor ",
                      name, " 127.0.0.1 ", options.master_port, " 1\n",
                      "sentinel down-after-milliseconds ", name, " ",
                      absl::ToInt64Milliseconds(options.down_after), "\n",
                      "sentinel failover-timeout ", name, " ",
                      absl::ToInt64Milliseconds(options.failover_timeout), "\n",
                      "sentinel parallel-syncs ", name, " 1\n"));
        !written.ok()) {
      return written;
    }
    ChildProcessOptions spawn;
    // redis-server is the sentinel binary too (Debian's redis-sentinel
    // package adds only a service wrapper).
    spawn.argv = {"redis-server", conf, "--sentinel"};
    absl::StatusOr<std::unique_ptr<ChildProcess>> process =
        ChildProcess::Spawn(spawn);
    if (!process.ok()) return process.status();
    sentinel->process_ = *std::move(process);
    sentinel->port_ = *port;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      if (sentinel->MasterPort().ok()) return sentinel;
      // Exited: most likely the port was taken.
      if (sentinel->process_->Exited().has_value()) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    sentinel->Stop();
  }
  return absl::UnavailableError(
      "redis-server --sentinel did not start (is redis-server installed and "
      "on PATH?)");
}

RedisSentinel::~RedisSentinel() { Stop(); }

void RedisSentinel::Stop() {
  if (process_ != nullptr) process_->Stop();
  process_.reset();
}

absl::StatusOr<int> RedisSentinel::MasterPort() const {
  absl::StatusOr<RedisReply> reply = RedisCommand(
      port_, {"SENTINEL", "get-master-addr-by-name", master_name_});
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type == REDIS_REPLY_NIL) {
    return absl::NotFoundError(
        absl::StrCat("sentinel does not know master ", master_name_));
  }
  int port = 0;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[1]->type != REDIS_REPLY_STRING ||
      !absl::SimpleAtoi(ReplyText(r->element[1]), &port)) {
    return absl::UnavailableError(
        "unexpected reply to SENTINEL get-master-addr-by-name");
  }
  return port;
}

absl::StatusOr<int> RedisSentinel::KnownReplicas() const {
  absl::StatusOr<RedisReply> reply =
      RedisCommand(port_, {"SENTINEL", "replicas", master_name_});
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_ARRAY) {
    return absl::UnavailableError("unexpected reply to SENTINEL replicas");
  }
  return static_cast<int>((*reply)->elements);
}

absl::StatusOr<RedisFailoverGroup> RedisFailoverGroup::Start(
    const std::string& master_name, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  RedisFailoverGroup group;
  absl::StatusOr<std::unique_ptr<RedisServer>> master = RedisServer::Start();
  if (!master.ok()) return master.status();
  group.master = *std::move(master);
  RedisServerOptions replica_options;
  replica_options.replica_of = group.master->port();
  absl::StatusOr<std::unique_ptr<RedisServer>> replica =
      RedisServer::Start(replica_options);
  if (!replica.ok()) return replica.status();
  group.replica = *std::move(replica);
  // In sync before the sentinel starts: its first look at the master (INFO)
  // then lists the replica; a later one comes only every 10 s.
  while (!InSync(group.replica->port())) {
    if (absl::Now() > deadline) {
      return absl::UnavailableError(
          "the replica did not get in sync with the master");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  RedisSentinelOptions sentinel_options;
  sentinel_options.master_name = master_name;
  sentinel_options.master_port = group.master->port();
  absl::StatusOr<std::unique_ptr<RedisSentinel>> sentinel =
      RedisSentinel::Start(sentinel_options);
  if (!sentinel.ok()) return sentinel.status();
  group.sentinel = *std::move(sentinel);
  while (true) {
    absl::StatusOr<int> replicas = group.sentinel->KnownReplicas();
    if (replicas.ok() && *replicas >= 1) break;
    if (absl::Now() > deadline) {
      return absl::UnavailableError("the sentinel did not find the replica");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return group;
}

absl::Status RedisFailoverGroup::WaitForReplication(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const int64_t written = ReplicationInfo(master->port(), "master_repl_offset");
  if (written < 0) {
    return absl::UnavailableError("no replication offset from the master");
  }
  while (ReplicationInfo(replica->port(), "slave_repl_offset") < written) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the replica did not reach the master's replication offset ", written,
          " within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::OkStatus();
}

absl::Status RedisFailoverGroup::WaitForFailover(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> named = sentinel->MasterPort();
  while (!named.ok() || *named != replica->port()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("the sentinel did not promote the replica (127.0.0.1:",
                       replica->port(), ") within ",
                       absl::FormatDuration(timeout), "; it names ",
                       named.ok() ? absl::StrCat("127.0.0.1:", *named)
                                  : std::string(named.status().message())));
    }
    absl::SleepFor(absl::Milliseconds(50));
    named = sentinel->MasterPort();
  }
  return absl::OkStatus();
}

}  // namespace fivestar::testing
