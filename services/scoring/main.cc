// fivestar-scoring: the scoring server (rubric, evaluations, award
// workflow, incentives, leaderboards cached in Redis). Flags (or FIVESTAR_*
// environment variables) configure it; see --help. Flags become
// ScoringServerOptions; scoring_server.cc wires everything.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/server.h"
#include "services/scoring/scoring_server.h"

ABSL_FLAG(std::string, database, "scoring.db",
          "Where scoring keeps its records: an SQLite database file "
          "(created when missing), or a PostgreSQL connection URI "
          "(postgresql://user@host:port/dbname?...; the database must exist, "
          "its tables are created at start-up). A password is best given "
          "through PGPASSFILE or PGPASSWORD, not in the URI.");
ABSL_FLAG(std::string, rubric_file, "",
          "Rubric (protobuf text format) stored as version 1 and made active "
          "when the database holds no rubric yet; empty means the built-in "
          "default (data/rubrics/default.textproto, DESIGN §5). Start-up fails "
          "when the file does not parse or breaks a rule, naming the line or "
          "field.");
ABSL_FLAG(std::string, registry, "127.0.0.1:50051",
          "Address (host:port) of the village registry.");
ABSL_FLAG(std::string, registry_token, "",
          "Bearer token presented to the registry; its principal needs the "
          "viewer role with global scope. Prefer FIVESTAR_REGISTRY_TOKEN.");
ABSL_FLAG(std::string, projects, "127.0.0.1:50052",
          "Address (host:port) of project tracking.");
ABSL_FLAG(std::string, projects_token, "",
          "Bearer token presented to project tracking; its principal needs "
          "the viewer role with global scope. Prefer FIVESTAR_PROJECTS_TOKEN.");
ABSL_FLAG(absl::Duration, peer_deadline, absl::Seconds(5),
          "Deadline of each call to the registry or project tracking.");
ABSL_FLAG(int, peer_max_in_flight, 8,
          "Most calls to each peer waiting at once; beyond it calls that need "
          "the peer fail with UNAVAILABLE, at once, or for the registry's "
          "answers used for permission checks after waiting at most a "
          "quarter of --peer_deadline for a place. Keep it below "
          "--handler_threads.");
ABSL_FLAG(absl::Duration, registry_cache_ttl, absl::Seconds(60),
          "How long the registry's answers used for permission checks are "
          "reused; 0 disables the cache.");
ABSL_FLAG(std::string, redis, "127.0.0.1:6379",
          "Address (host:port) of the Redis server caching the leaderboards; "
          "empty runs without a cache (boards computed from the database). "
          "The password comes from FIVESTAR_REDIS_PASSWORD and an ACL user "
          "from FIVESTAR_REDIS_USER, never from the command line. Not used "
          "with --redis_sentinels.");
ABSL_FLAG(std::string, redis_sentinels, "",
          "Redis Sentinel: comma-separated addresses (host:port,host:port) of "
          "the sentinels that name the cache's master (--redis_master_name); "
          "when set, --redis is not used. Every new connection asks them in "
          "turn for the master's address and checks with ROLE that the server "
          "there is a master; after a failover the boards are re-synced from "
          "the database. A sentinel password comes from "
          "FIVESTAR_REDIS_SENTINEL_PASSWORD.");
ABSL_FLAG(std::string, redis_master_name, "",
          "Name of the master the sentinels monitor (sentinel monitor <name> "
          "...); required with --redis_sentinels, and only with it.");
ABSL_FLAG(absl::Duration, redis_connect_timeout, absl::Milliseconds(500),
          "Timeout of connecting to Redis.");
ABSL_FLAG(absl::Duration, redis_command_timeout, absl::Milliseconds(500),
          "Timeout of each Redis round trip; a slower Redis counts as down "
          "and reads fall back to the database.");
ABSL_FLAG(std::string, redis_key_prefix, "fivestar",
          "Prefix of every Redis key, so deployments can share a Redis.");
ABSL_FLAG(int64_t, board_near_cache_entries, 0,
          "Most leaderboard entries the in-process near-cache in front of "
          "Redis keeps (repeated board and rank reads answered without a "
          "Redis round trip), e.g. 200000; 0 (the default) turns it off. "
          "With it on, a read while Redis hangs unnoticed is answered from "
          "memory, not marked degraded.");
ABSL_FLAG(bool, follow_feeds, true,
          "Follow the change feeds of project tracking and the registry, "
          "re-evaluating the villages they name.");

namespace {

using fivestar::scoring::RedisAddress;
using fivestar::scoring::RedisOptions;

// "host:port", split at the last colon (an IPv6 literal may be bracketed:
// "[::1]:6379"), with a port 1..65535; nullopt otherwise.
std::optional<RedisAddress> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  absl::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(text.substr(colon + 1), &port) ||
      port < 1 || port > 65535) {
    return std::nullopt;
  }
  return RedisAddress{std::string(host), port};
}

// The Redis flags (and FIVESTAR_REDIS_* secrets) as options;
// INVALID_ARGUMENT naming the flag and the rule.
absl::Status RedisOptionsFromFlags(RedisOptions& options) {
  options.host.clear();
  const std::string sentinels = absl::GetFlag(FLAGS_redis_sentinels);
  const std::string master_name = absl::GetFlag(FLAGS_redis_master_name);
  if (!sentinels.empty()) {
    for (absl::string_view item : absl::StrSplit(sentinels, ',')) {
      std::optional<RedisAddress> address = ParseHostPort(item);
      if (!address.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--redis_sentinels: must be host:port,host:port,... with ports "
            "1..65535, got \"",
            item, "\" in ", sentinels));
      }
      options.sentinels.push_back(*std::move(address));
    }
    if (master_name.empty()) {
      return absl::InvalidArgumentError(
          "--redis_master_name: required with --redis_sentinels");
    }
    options.master_name = master_name;
  } else if (!master_name.empty()) {
    return absl::InvalidArgumentError(
        "--redis_master_name: only with --redis_sentinels, which is empty");
  } else if (const std::string redis = absl::GetFlag(FLAGS_redis);
             !redis.empty()) {
    std::optional<RedisAddress> address = ParseHostPort(redis);
    if (!address.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--redis: must be host:port with a port 1..65535, got ", redis));
    }
    options.host = address->host;
    options.port = address->port;
  }
  if (const char* user = std::getenv("FIVESTAR_REDIS_USER")) {
    options.user = user;
  }
  if (const char* password = std::getenv("FIVESTAR_REDIS_PASSWORD")) {
    options.password = password;
  }
  if (const char* password = std::getenv("FIVESTAR_REDIS_SENTINEL_PASSWORD")) {
    options.sentinel_password = password;
  }
  options.connect_timeout = absl::GetFlag(FLAGS_redis_connect_timeout);
  options.command_timeout = absl::GetFlag(FLAGS_redis_command_timeout);
  options.key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  return absl::OkStatus();
}

int Run() {
  using namespace fivestar;
  using namespace fivestar::scoring;
  ScoringServerOptions options;
  absl::StatusOr<CommonServerOptions> common =
      CommonServerOptionsFromFlags("scoring");
  if (!common.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(common.status().message()));
    return 2;
  }
  options.server = std::move(common->server);
  options.authenticator = std::move(common->authenticator);
  options.peer_credentials = std::move(common->peer_credentials);
  options.database = absl::GetFlag(FLAGS_database);
  options.rubric_file = absl::GetFlag(FLAGS_rubric_file);
  options.registry_address = absl::GetFlag(FLAGS_registry);
  options.projects_address = absl::GetFlag(FLAGS_projects);
  options.peers.registry.bearer_token = absl::GetFlag(FLAGS_registry_token);
  options.peers.projects.bearer_token = absl::GetFlag(FLAGS_projects_token);
  for (PeerOptions* peer : {&options.peers.registry, &options.peers.projects}) {
    peer->deadline = absl::GetFlag(FLAGS_peer_deadline);
    peer->max_in_flight = absl::GetFlag(FLAGS_peer_max_in_flight);
  }
  options.registry_cache_ttl = absl::GetFlag(FLAGS_registry_cache_ttl);
  options.follow_feeds = absl::GetFlag(FLAGS_follow_feeds);

  if (absl::Status redis = RedisOptionsFromFlags(options.redis); !redis.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(redis.message()));
    return 2;
  }
  const int64_t near_entries = absl::GetFlag(FLAGS_board_near_cache_entries);
  if (near_entries < 0) {
    spdlog::critical(
        "msg=bad_configuration error={}",
        LogValue(absl::StrCat("--board_near_cache_entries: must be 0 or more, "
                              "got ",
                              near_entries)));
    return 2;
  }
  options.near_cache.max_entries = static_cast<size_t>(near_entries);
  for (const auto& [flag, token] :
       {std::pair{"--registry_token", options.peers.registry.bearer_token},
        std::pair{"--projects_token", options.peers.projects.bearer_token}}) {
    if (token.empty()) {
      spdlog::warn("msg={} flag={}",
                   LogValue("no peer token: calls carry no credentials"), flag);
    }
  }

  absl::StatusOr<std::unique_ptr<ScoringServer>> server =
      ScoringServer::Start(std::move(options));
  if (!server.ok()) return StartFailed(server.status());
  return ServeUntilSignal([&server] { (*server)->Stop(); },
                          common->tokens_watcher.get());
}

}  // namespace

int main(int argc, char** argv) {
  fivestar::BlockTerminationSignals();
  fivestar::SetDefaultPorts(50053, 9092);
  fivestar::ParseFlagsWithEnvironment(
      argc, argv,
      "fivestar-scoring: rubric, evaluations, award workflow, incentives and "
      "leaderboards of the Five-Star campaign.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>, e.g. "
      "FIVESTAR_PROJECTS_TOKEN.");
  return Run();
}
