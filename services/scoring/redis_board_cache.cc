#include "services/scoring/redis_board_cache.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::scoring {

namespace {

using fivestar::common::v1::Star;

// Every board a standing is on: overall (0) and the five stars.
constexpr int kStarNumbers[] = {0, 1, 2, 3, 4, 5};
constexpr int64_t kStarWeight = 1'000'000;
constexpr int64_t kMaxPoints = kStarWeight - 1;

// Appends the entries of a ZRANGE ... WITHSCORES reply (`items`, starting
// at board position `first`) to `out` as member, score, competition rank.
// Only the first entry costs a ZCOUNT: after it, an entry with a new score
// is ranked by its position (everything above it scores strictly better).
constexpr char kAppendRanked[] = R"lua(
local function append_ranked(key, items, first, out)
  local rank, previous = 0, nil
  for i = 1, #items, 2 do
    local score = items[i + 1]
    if score ~= previous then
      if previous == nil then
        rank = 1 + redis.call('ZCOUNT', key, '-inf', '(' .. score)
      else
        rank = first + (i + 1) / 2
      end
      previous = score
    end
    out[#out + 1] = items[i]
    out[#out + 1] = score
    out[#out + 1] = rank
  end
  return out
end
)lua";

// KEYS[1] board; ARGV[1], ARGV[2] first and last position (none when
// last < first). {size, member, score, rank, ...}.
constexpr char kReadBoardBody[] = R"lua(
local key = KEYS[1]
local first, last = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {redis.call('ZCARD', key)}
if last < first then return out end
local items = redis.call('ZRANGE', key, first, last, 'WITHSCORES')
return append_ranked(key, items, first, out)
)lua";

// KEYS[1] board; ARGV village ids. {score or nil, rank or nil, ...}.
constexpr char kRanksOfSource[] = R"lua(
local out = {}
for i = 1, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    out[#out + 1] = score
    out[#out + 1] = 1 + redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score)
  else
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out
)lua";

// KEYS[1] board; ARGV[1] village id, ARGV[2] neighbours on each side.
// nil when the village is not on the board, else {size, first position,
// village's position, member, score, rank, ...}.
constexpr char kNeighbourhoodBody[] = R"lua(
local key = KEYS[1]
local position = redis.call('ZRANK', key, ARGV[1])
if not position then return false end
local n = tonumber(ARGV[2])
local first = position - n
if first < 0 then first = 0 end
local out = {redis.call('ZCARD', key), first, position}
local items = redis.call('ZRANGE', key, first, position + n, 'WITHSCORES')
return append_ranked(key, items, first, out)
)lua";

// KEYS[1] live board, KEYS[2] its rebuilt copy. Atomic, so a reader sees
// the old board or the new one, never none; UNLINK frees the old one in the
// background (RENAME over it would free it inline, blocking Redis for a
// large board). The copy had a TTL (so an abandoned rebuild cleans itself
// up), which RENAME carries over. Without the copy (it expired) the live
// board stays: stale beats empty, and the swap is idempotent.
constexpr char kSwapSource[] = R"lua(
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('UNLINK', KEYS[1])
redis.call('RENAME', KEYS[2], KEYS[1])
redis.call('PERSIST', KEYS[1])
return 1
)lua";

// A rebuild's temporary keys expire unless swapped in before then.
constexpr char kTemporaryTtlSeconds[] = "3600";

const std::string& ScriptSource(int script) {
  static const std::string* const kSources = new std::string[4]{
      std::string(kAppendRanked) + kReadBoardBody,
      kRanksOfSource,
      std::string(kAppendRanked) + kNeighbourhoodBody,
      kSwapSource,
  };
  return kSources[script];
}

timeval TimeoutOf(absl::Duration duration) {
  return absl::ToTimeval(std::max(duration, absl::Milliseconds(1)));
}

std::string RandomHex() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

// Board scores sort ascending in board order: most stars, then most
// points, first.
std::string EncodeScore(const BoardScore& score) {
  return absl::StrCat(-(score.stars * kStarWeight + score.points));
}

bool DecodeScore(const redisReply* reply, int* stars, int* points) {
  if (reply->type != REDIS_REPLY_STRING) return false;
  double value = 0;
  if (!absl::SimpleAtod(absl::string_view(reply->str, reply->len), &value)) {
    return false;
  }
  const int64_t encoded = -std::llround(value);
  if (encoded < 0) return false;
  *stars = static_cast<int>(encoded / kStarWeight);
  *points = static_cast<int>(encoded % kStarWeight);
  return true;
}

bool ReadInteger(const redisReply* reply, int64_t* value) {
  if (reply->type != REDIS_REPLY_INTEGER) return false;
  *value = reply->integer;
  return true;
}

// Entries of an append_ranked list: element[from], [from+1], ... in
// triples member, score, rank.
bool ReadRanked(const redisReply* reply, size_t from,
                std::vector<RankedEntry>* entries) {
  if ((reply->elements - from) % 3 != 0) return false;
  for (size_t i = from; i < reply->elements; i += 3) {
    const redisReply* member = reply->element[i];
    int64_t rank = 0;
    RankedEntry entry;
    if (member->type != REDIS_REPLY_STRING ||
        !DecodeScore(reply->element[i + 1], &entry.stars, &entry.points) ||
        !ReadInteger(reply->element[i + 2], &rank)) {
      return false;
    }
    entry.village_id.assign(member->str, member->len);
    entry.rank = static_cast<int>(rank);
    entries->push_back(std::move(entry));
  }
  return true;
}

// Checks that a standing's scores fit the encoding; `field` names it.
absl::Status ValidateStanding(const std::string& field,
                              const Standing& standing) {
  if (standing.village_id.empty()) {
    return FieldError(absl::StrCat(field, ".village_id"), "must not be empty");
  }
  RETURN_IF_ERROR(
      ValidateRange(absl::StrCat(field, ".stars"), standing.stars, 0, 5));
  RETURN_IF_ERROR(ValidateRange(absl::StrCat(field, ".points"), standing.points,
                                0, kMaxPoints));
  for (size_t i = 0; i < standing.per_star.size(); ++i) {
    RETURN_IF_ERROR(
        ValidateRange(absl::StrCat(field, ".per_star[", i, "].points"),
                      standing.per_star[i].points, 0, kMaxPoints));
  }
  return absl::OkStatus();
}

BoardKey KeyOf(const std::string& region, const std::string& period,
               int star_number) {
  return {region, period, static_cast<Star>(star_number)};
}

// `text` as a literal inside a SCAN MATCH pattern.
std::string EscapeGlob(absl::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      escaped.push_back('\\');
    }
    escaped.push_back(c);
  }
  return escaped;
}

std::string Describe(const BoardKey& board) {
  return absl::StrCat("region ", board.region_id, ", period ", board.period,
                      ", star ", static_cast<int>(board.star));
}

}  // namespace

RedisBoardCache::RedisBoardCache(RedisOptions options)
    : options_(std::move(options)),
      marker_key_(options_.key_prefix + ":marker"),
      instance_id_(RandomHex()) {}

RedisBoardCache::~RedisBoardCache() { Stop(); }

std::string RedisBoardCache::KeyFor(const std::string& prefix,
                                    const BoardKey& board) {
  return absl::StrCat(prefix, ":board:{", board.region_id, ":",
                      static_cast<int>(board.star), "}:", board.period);
}

bool RedisBoardCache::available() const {
  return up_.load() && !needs_resync_.load() && !stopped_.load();
}

bool RedisBoardCache::Reachable() {
  if (!available()) return false;
  uint64_t generation = 0;
  std::string address;
  {
    absl::MutexLock lock(&mu_);
    if (idle_.empty()) return true;
    const Connection& connection = idle_.back();
    generation = connection.generation;
    address = AddressOf(connection.context);
    char byte = 0;
    const ssize_t n =
        recv(connection.context->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                            errno == EINTR))) {
      return true;
    }
  }
  // Marks the cache down; the caller reads the store instead.
  Fail(absl::StrCat("redis at ", address, ": connection closed"), generation)
      .IgnoreError();
  return false;
}

// ---- Connections -----------------------------------------------------

namespace {

std::string ReplyText(const redisReply* reply) {
  return std::string(reply->str, reply->len);
}

}  // namespace

absl::Status RedisBoardCache::Exchange(redisContext* context,
                                       const std::vector<Command>& commands,
                                       std::vector<Reply>* replies) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const Command& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context, static_cast<int>(argv.size()),
                               argv.data(), lengths.data()) != REDIS_OK) {
      return absl::UnavailableError(context->errstr);
    }
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context, &reply) != REDIS_OK || reply == nullptr) {
      return absl::UnavailableError(context->err != 0 ? context->errstr
                                                      : "no reply");
    }
    replies->emplace_back(static_cast<redisReply*>(reply));
  }
  return absl::OkStatus();
}

namespace {

// A connection to `address` with the command timeout set; errors start
// with `where`.
absl::StatusOr<redisContext*> OpenContext(const RedisAddress& address,
                                          const std::string& where,
                                          const RedisOptions& options) {
  redisContext* context = redisConnectWithTimeout(
      address.host.c_str(), address.port, TimeoutOf(options.connect_timeout));
  if (context == nullptr) {
    return absl::UnavailableError(absl::StrCat(where, ": out of memory"));
  }
  if (context->err == 0 &&
      redisSetTimeout(context, TimeoutOf(options.command_timeout)) ==
          REDIS_OK) {
    return context;
  }
  const std::string why = absl::StrCat(where, ": ", context->errstr);
  redisFree(context);
  return absl::UnavailableError(why);
}

// The AUTH command of a password alone or an ACL user and password.
std::vector<std::string> AuthCommand(const std::string& user,
                                     const std::string& password) {
  if (user.empty()) return {"AUTH", password};
  return {"AUTH", user, password};
}

}  // namespace

std::string FormatAddress(const RedisAddress& address) {
  if (absl::StrContains(address.host, ':')) {
    return absl::StrCat("[", address.host, "]:", address.port);
  }
  return absl::StrCat(address.host, ":", address.port);
}

std::string DescribeRedis(const RedisOptions& options) {
  if (!options.sentinels.empty()) {
    std::vector<std::string> sentinels;
    for (const RedisAddress& sentinel : options.sentinels) {
      sentinels.push_back(FormatAddress(sentinel));
    }
    return absl::StrCat("master \"", options.master_name, "\" of sentinels ",
                        absl::StrJoin(sentinels, ","));
  }
  if (options.host.empty()) return "none";
  return FormatAddress({options.host, options.port});
}

std::string RedisBoardCache::AddressOf(const redisContext* context) {
  return absl::StrCat(context->tcp.host != nullptr ? context->tcp.host : "?",
                      ":", context->tcp.port);
}

absl::StatusOr<RedisBoardCache::Master> RedisBoardCache::FindMaster() const {
  if (options_.sentinels.empty()) {
    const RedisAddress address{options_.host, options_.port};
    return Master{address, absl::StrCat("redis at ", FormatAddress(address))};
  }
  std::vector<Command> commands;
  if (!options_.sentinel_password.empty()) {
    commands.push_back(AuthCommand("", options_.sentinel_password));
  }
  commands.push_back(
      {"SENTINEL", "get-master-addr-by-name", options_.master_name});
  // Each sentinel asked, and why it gave no address.
  std::vector<std::string> tried;
  for (const RedisAddress& sentinel : options_.sentinels) {
    const std::string where =
        absl::StrCat("sentinel ", FormatAddress(sentinel));
    absl::StatusOr<redisContext*> context =
        OpenContext(sentinel, where, options_);
    if (!context.ok()) {
      tried.emplace_back(context.status().message());
      continue;
    }
    std::vector<Reply> replies;
    const absl::Status io = Exchange(*context, commands, &replies);
    redisFree(*context);
    if (!io.ok()) {
      tried.push_back(absl::StrCat(where, ": ", io.message()));
      continue;
    }
    const redisReply* error = nullptr;
    for (const Reply& reply : replies) {
      if (reply->type == REDIS_REPLY_ERROR && error == nullptr) {
        error = reply.get();
      }
    }
    if (error != nullptr) {
      tried.push_back(absl::StrCat(where, ": ", ReplyText(error)));
      continue;
    }
    const redisReply* address = replies.back().get();
    if (address->type == REDIS_REPLY_NIL) {
      tried.push_back(absl::StrCat(where, ": master unknown"));
      continue;
    }
    int port = 0;
    if (address->type != REDIS_REPLY_ARRAY || address->elements != 2 ||
        address->element[0]->type != REDIS_REPLY_STRING ||
        address->element[1]->type != REDIS_REPLY_STRING ||
        !absl::SimpleAtoi(ReplyText(address->element[1]), &port)) {
      tried.push_back(absl::StrCat(
          where, ": unexpected reply to SENTINEL get-master-addr-by-name"));
      continue;
    }
    const RedisAddress master{ReplyText(address->element[0]), port};
    return Master{
        master, absl::StrCat("redis at ", FormatAddress(master), " (master \"",
                             options_.master_name, "\" by ", where, ")")};
  }
  return absl::UnavailableError(absl::StrCat(
      "no sentinel gave the address of master \"", options_.master_name, "\" (",
      absl::StrJoin(tried, "; "), ")"));
}

absl::StatusOr<redisContext*> RedisBoardCache::Connect() {
  ASSIGN_OR_RETURN(const Master master, FindMaster());
  const std::string& where = master.where;
  ASSIGN_OR_RETURN(redisContext * context,
                   OpenContext(master.address, where, options_));
  // AUTH, the scripts, a PING, the marker and (behind sentinels) the role
  // in one round trip.
  std::vector<Command> commands;
  const bool auth = !options_.password.empty();
  if (auth) commands.push_back(AuthCommand(options_.user, options_.password));
  for (int script = 0; script < kScriptCount; ++script) {
    commands.push_back({"SCRIPT", "LOAD", ScriptSource(script)});
  }
  commands.push_back({"PING"});
  commands.push_back({"EXISTS", marker_key_});
  // Only behind sentinels: a server named directly is trusted to be the
  // master, and the minimal ACL of such a deployment may not allow ROLE.
  const bool check_role = !options_.sentinels.empty();
  if (check_role) commands.push_back({"ROLE"});
  std::vector<Reply> replies;
  absl::Status io = Exchange(context, commands, &replies);
  if (!io.ok()) {
    redisFree(context);
    return absl::UnavailableError(absl::StrCat(where, ": ", io.message()));
  }
  size_t next = 0;
  if (auth && replies[next++]->type == REDIS_REPLY_ERROR) {
    // The reply names the failure (WRONGPASS ...), never the password.
    const std::string why =
        absl::StrCat(where, ": AUTH failed: ", ReplyText(replies[0].get()));
    redisFree(context);
    return absl::UnavailableError(why);
  }
  std::string shas[kScriptCount];
  for (int script = 0; script < kScriptCount; ++script) {
    const redisReply* reply = replies[next++].get();
    if (reply->type != REDIS_REPLY_STRING) {
      const std::string why = absl::StrCat(
          where, ": SCRIPT LOAD failed: ",
          reply->type == REDIS_REPLY_ERROR ? ReplyText(reply) : "no SHA1");
      redisFree(context);
      return absl::UnavailableError(why);
    }
    shas[script].assign(reply->str, reply->len);
  }
  const redisReply* pong = replies[next++].get();
  if (pong->type != REDIS_REPLY_STATUS || ReplyText(pong) != "PONG") {
    const std::string why = absl::StrCat(
        where, ": PING failed",
        pong->type == REDIS_REPLY_ERROR ? ": " + ReplyText(pong) : "");
    redisFree(context);
    return absl::UnavailableError(why);
  }
  // Checked on every new connection, not only by the probe: a connection
  // opened to a Redis that restarted empty since the probe's last look
  // must not serve its empty boards.
  int64_t marker = 0;
  if (!ReadInteger(replies[next++].get(), &marker)) {
    redisFree(context);
    return absl::UnavailableError(
        absl::StrCat(where, ": unexpected reply to EXISTS"));
  }
  if (check_role) {
    // A sentinel's answer may be stale: a master it has just demoted (now a
    // replica, or about to be) must not be written to.
    const redisReply* role = replies[next++].get();
    if (role->type != REDIS_REPLY_ARRAY || role->elements < 1 ||
        role->element[0]->type != REDIS_REPLY_STRING) {
      const std::string why = absl::StrCat(
          where, ": ROLE failed",
          role->type == REDIS_REPLY_ERROR ? ": " + ReplyText(role) : "");
      redisFree(context);
      return absl::UnavailableError(why);
    }
    const std::string name = ReplyText(role->element[0]);
    if (name != "master") {
      redisFree(context);
      return absl::UnavailableError(
          absl::StrCat(where, ": is a ", name, ", not a master"));
    }
  }
  const std::string address = FormatAddress(master.address);
  std::string previous;
  std::vector<Connection> closing;
  {
    absl::MutexLock lock(&mu_);
    for (int script = 0; script < kScriptCount; ++script) {
      script_shas_[script] = shas[script];
    }
    previous = master_address_;
    master_address_ = address;
    if (!previous.empty() && previous != address) {
      // Idle connections to the old master are not used again.
      ++generation_;
      closing.swap(idle_);
    }
  }
  for (Connection& connection : closing) redisFree(connection.context);
  if (!previous.empty() && previous != address) {
    // A failover: the new master may lack writes the old one accepted after
    // it last replicated them, and its marker (replicated too) says nothing
    // about that.
    spdlog::warn("msg=leaderboard_cache_master_changed from={} to={}",
                 LogValue(previous), LogValue(address));
    RequestResync();
  }
  if (marker == 0) RequestResync();
  return context;
}

absl::Status RedisBoardCache::UnavailableNow(Access access) const {
  if (stopped_.load()) {
    return absl::UnavailableError("leaderboard cache unavailable: stopped");
  }
  if (!up_.load()) {
    absl::MutexLock lock(&mu_);
    return absl::UnavailableError(
        absl::StrCat("leaderboard cache unavailable: ", down_reason_));
  }
  if (access == Access::kRead && needs_resync_.load()) {
    return absl::UnavailableError(
        "leaderboard cache unavailable: waiting for a re-sync");
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisBoardCache::Connection> RedisBoardCache::Acquire(
    Access access) {
  RETURN_IF_ERROR(UnavailableNow(access));
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      Connection connection = idle_.back();
      idle_.pop_back();
      return connection;
    }
    generation = generation_;
  }
  absl::StatusOr<redisContext*> context = Connect();
  if (!context.ok()) {
    return Fail(std::string(context.status().message()), generation);
  }
  const Connection connection{*context, generation};
  // Connect() may have found the marker gone.
  absl::Status now = UnavailableNow(access);
  if (!now.ok()) {
    Release(connection);
    return now;
  }
  return connection;
}

void RedisBoardCache::Release(Connection connection) {
  {
    absl::MutexLock lock(&mu_);
    if (connection.generation == generation_ && up_.load() && !stopping_ &&
        idle_.size() < kMaxIdleConnections) {
      idle_.push_back(connection);
      return;
    }
  }
  redisFree(connection.context);
}

absl::Status RedisBoardCache::Fail(const std::string& why,
                                   uint64_t generation) {
  std::vector<Connection> closing;
  {
    absl::MutexLock lock(&mu_);
    // A connection from before the last reconnect failing says nothing
    // about the new ones; concurrent failures of one outage count once.
    if (generation == generation_ && up_.load()) {
      failures_.fetch_add(1);
      up_.store(false);
      ++generation_;
      down_reason_ = why;
      closing.swap(idle_);
      spdlog::warn("msg=leaderboard_cache_down why={}", LogValue(why));
    }
  }
  for (Connection& connection : closing) redisFree(connection.context);
  return absl::UnavailableError(
      absl::StrCat("leaderboard cache unavailable: ", why));
}

absl::StatusOr<std::vector<RedisBoardCache::Reply>> RedisBoardCache::RoundTrip(
    const std::vector<Command>& commands, Access access, bool allow_noscript) {
  ASSIGN_OR_RETURN(Connection connection, Acquire(access));
  std::vector<Reply> replies;
  absl::Status io = Exchange(connection.context, commands, &replies);
  if (!io.ok()) {
    const std::string why = absl::StrCat(
        "redis at ", AddressOf(connection.context), ": ", io.message());
    redisFree(connection.context);
    return Fail(why, connection.generation);
  }
  // The connection is in step again (every reply read), whatever the
  // replies say.
  const uint64_t generation = connection.generation;
  Release(connection);
  for (const Reply& reply : replies) {
    if (reply->type != REDIS_REPLY_ERROR) continue;
    const std::string text = ReplyText(reply.get());
    if (allow_noscript && absl::StartsWith(text, "NOSCRIPT")) continue;
    // LOADING, OOM, READONLY, NOAUTH...: Redis is not serving us; the probe
    // finds out when it is again.
    return Fail(absl::StrCat("redis replied: ", text), generation);
  }
  return replies;
}

RedisBoardCache::Command RedisBoardCache::EvalCommand(
    Script script, const std::string& sha, const std::vector<std::string>& keys,
    const std::vector<std::string>& args) const {
  Command command;
  command.reserve(3 + keys.size() + args.size());
  if (sha.empty()) {
    command.push_back("EVAL");
    command.push_back(ScriptSource(script));
  } else {
    command.push_back("EVALSHA");
    command.push_back(sha);
  }
  command.push_back(absl::StrCat(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

absl::StatusOr<RedisBoardCache::Reply> RedisBoardCache::Eval(
    Script script, const std::vector<std::string>& keys,
    const std::vector<std::string>& args, Access access) {
  std::string sha;
  {
    absl::MutexLock lock(&mu_);
    sha = script_shas_[script];
  }
  ASSIGN_OR_RETURN(
      std::vector<Reply> replies,
      RoundTrip({EvalCommand(script, sha, keys, args)}, access, true));
  if (replies[0]->type != REDIS_REPLY_ERROR) return std::move(replies[0]);
  // NOSCRIPT: Redis lost its script cache (SCRIPT FLUSH); EVAL loads it
  // again.
  ASSIGN_OR_RETURN(replies,
                   RoundTrip({EvalCommand(script, "", keys, args)}, access));
  return std::move(replies[0]);
}

// ---- Writes ----------------------------------------------------------

bool RedisBoardCache::OnResyncThread() const {
  return resync_thread_.load() == std::this_thread::get_id();
}

void RedisBoardCache::RequestResync() {
  absl::MutexLock lock(&mu_);
  ++resync_requests_;
  needs_resync_.store(true);
}

absl::Status RedisBoardCache::WriteThrough(
    const std::vector<Command>& commands) {
  const bool own = OnResyncThread();
  const uint64_t phase_before = resync_phase_.load();
  absl::StatusOr<std::vector<Reply>> replies =
      RoundTrip(commands, Access::kWrite);
  const uint64_t phase_after = resync_phase_.load();
  if (!replies.ok()) {
    // The store has the change and the cache has not (or has part of it).
    RequestResync();
    return replies.status();
  }
  if (!own && (phase_before % 2 == 1 || phase_after != phase_before)) {
    // May have landed between the re-sync's read of the store and the
    // rebuild of its month, which would overwrite it.
    RequestResync();
  }
  return absl::OkStatus();
}

absl::Status RedisBoardCache::Write(const Standing& now,
                                    const std::vector<Standing>& previous) {
  RETURN_IF_ERROR(ValidateStanding("now", now));
  std::set<std::string> regions_now;
  std::vector<Command> commands;
  for (size_t i = 1; i < now.lineage.size(); ++i) {
    regions_now.insert(now.lineage[i]);
    for (int star : kStarNumbers) {
      const BoardKey board = KeyOf(now.lineage[i], now.period, star);
      commands.push_back({"ZADD", KeyFor(options_.key_prefix, board),
                          EncodeScore(ScoreOn(now, board.star)),
                          now.village_id});
    }
  }
  std::set<std::pair<std::string, std::string>> removed;  // region, period
  for (const Standing& before : previous) {
    for (size_t i = 1; i < before.lineage.size(); ++i) {
      const std::string& region = before.lineage[i];
      if (before.period == now.period && regions_now.count(region) > 0) {
        continue;
      }
      if (!removed.insert({region, before.period}).second) continue;
      for (int star : kStarNumbers) {
        commands.push_back(
            {"ZREM",
             KeyFor(options_.key_prefix, KeyOf(region, before.period, star)),
             before.village_id});
      }
    }
  }
  if (commands.empty()) return absl::OkStatus();
  return WriteThrough(commands);
}

absl::Status RedisBoardCache::Remove(const std::vector<Standing>& removed) {
  std::vector<Command> commands;
  for (const Standing& standing : removed) {
    for (size_t i = 1; i < standing.lineage.size(); ++i) {
      for (int star : kStarNumbers) {
        commands.push_back(
            {"ZREM",
             KeyFor(options_.key_prefix,
                    KeyOf(standing.lineage[i], standing.period, star)),
             standing.village_id});
      }
    }
  }
  if (commands.empty()) return absl::OkStatus();
  return WriteThrough(commands);
}

absl::Status RedisBoardCache::ReplaceBoards(
    const std::string& period, const std::vector<Standing>& standings) {
  // Board key → its star and members (positions in `standings`), in
  // memory first; a member's score and id are written out only as its
  // board's commands are built (a province's boards have a million
  // members: as strings they took about 100 MB).
  struct Members {
    Star star = {};
    std::vector<uint32_t> standings;
  };
  std::map<std::string, Members> boards;
  for (size_t s = 0; s < standings.size(); ++s) {
    const Standing& standing = standings[s];
    const std::string field = absl::StrCat("standings[", s, "]");
    RETURN_IF_ERROR(ValidateStanding(field, standing));
    if (standing.period != period) {
      return FieldError(
          absl::StrCat(field, ".period"),
          absl::StrCat("must be ", period, ", got ", standing.period));
    }
    for (size_t i = 1; i < standing.lineage.size(); ++i) {
      for (int star : kStarNumbers) {
        const BoardKey board = KeyOf(standing.lineage[i], period, star);
        Members& members = boards[KeyFor(options_.key_prefix, board)];
        members.star = board.star;
        members.standings.push_back(static_cast<uint32_t>(s));
      }
    }
  }
  if (boards.empty()) return absl::OkStatus();

  // Build every board under "<key>:tmp:<random>" (same hash tag, same
  // slot), in bounded pipelines.
  const std::string suffix = absl::StrCat(":tmp:", RandomHex());
  std::vector<Command> pipeline;
  auto flush = [&]() -> absl::Status {
    if (pipeline.empty()) return absl::OkStatus();
    absl::Status status = WriteThrough(pipeline);
    pipeline.clear();
    return status;
  };
  for (const auto& [key, members] : boards) {
    const std::string temporary = key + suffix;
    const std::vector<uint32_t>& on_board = members.standings;
    for (size_t from = 0; from < on_board.size(); from += kMembersPerCommand) {
      const size_t to =
          std::min(on_board.size(), from + size_t{kMembersPerCommand});
      Command zadd = {"ZADD", temporary};
      zadd.reserve(2 + 2 * (to - from));
      for (size_t m = from; m < to; ++m) {
        const Standing& standing = standings[on_board[m]];
        zadd.push_back(EncodeScore(ScoreOn(standing, members.star)));
        zadd.push_back(standing.village_id);
      }
      pipeline.push_back(std::move(zadd));
      if (pipeline.size() >= kCommandsPerPipeline) RETURN_IF_ERROR(flush());
    }
    pipeline.push_back({"EXPIRE", temporary, kTemporaryTtlSeconds});
    if (pipeline.size() >= kCommandsPerPipeline) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());

  // Swap each one in atomically. EVAL, not EVALSHA: a NOSCRIPT in the
  // middle of a pipeline would leave some boards unswapped, and this script
  // is short.
  for (const auto& [key, members] : boards) {
    pipeline.push_back(EvalCommand(kSwap, "", {key, key + suffix}, {}));
    if (pipeline.size() >= kCommandsPerPipeline) RETURN_IF_ERROR(flush());
  }
  return flush();
}

absl::Status RedisBoardCache::Clear() {
  const std::string pattern =
      absl::StrCat(EscapeGlob(options_.key_prefix), ":board:*");
  std::string cursor = "0";
  do {
    absl::StatusOr<std::vector<Reply>> replies = RoundTrip(
        {{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}}, Access::kWrite);
    if (!replies.ok()) {
      RequestResync();
      return replies.status();
    }
    const redisReply* reply = (*replies)[0].get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      RequestResync();
      return absl::UnavailableError(
          "leaderboard cache unavailable: unexpected reply to SCAN");
    }
    cursor = ReplyText(reply->element[0]);
    const redisReply* keys = reply->element[1];
    if (keys->elements > 0) {
      Command unlink = {"UNLINK"};
      for (size_t i = 0; i < keys->elements; ++i) {
        unlink.push_back(ReplyText(keys->element[i]));
      }
      RETURN_IF_ERROR(WriteThrough({unlink}));
    }
  } while (cursor != "0");
  return WriteThrough({{"SET", marker_key_, instance_id_}});
}

// ---- Reads -----------------------------------------------------------

absl::StatusOr<BoardSlice> RedisBoardCache::ReadBoard(const BoardKey& board,
                                                      int offset, int limit) {
  RETURN_IF_ERROR(ValidateRange("offset", offset, 0, INT32_MAX));
  RETURN_IF_ERROR(ValidateRange("limit", limit, 0, INT32_MAX));
  const int64_t last = int64_t{offset} + limit - 1;
  ASSIGN_OR_RETURN(
      Reply reply,
      Eval(kReadBoard, {KeyFor(options_.key_prefix, board)},
           {absl::StrCat(offset), absl::StrCat(last)}, Access::kRead));
  BoardSlice slice;
  int64_t total = 0;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
      !ReadInteger(reply->element[0], &total) ||
      !ReadRanked(reply.get(), 1, &slice.entries)) {
    return absl::UnavailableError(
        "leaderboard cache unavailable: unexpected reply to a board read");
  }
  slice.total = static_cast<int>(total);
  return slice;
}

absl::StatusOr<std::vector<RankedEntry>> RedisBoardCache::RanksOf(
    const BoardKey& board, const std::vector<std::string>& village_ids) {
  std::vector<RankedEntry> entries;
  if (village_ids.empty()) return entries;
  ASSIGN_OR_RETURN(Reply reply,
                   Eval(kRanksOf, {KeyFor(options_.key_prefix, board)},
                        village_ids, Access::kRead));
  if (reply->type != REDIS_REPLY_ARRAY ||
      reply->elements != 2 * village_ids.size()) {
    return absl::UnavailableError(
        "leaderboard cache unavailable: unexpected reply to a rank read");
  }
  for (size_t i = 0; i < village_ids.size(); ++i) {
    const redisReply* score = reply->element[2 * i];
    if (score->type == REDIS_REPLY_NIL) continue;
    RankedEntry entry;
    entry.village_id = village_ids[i];
    int64_t rank = 0;
    if (!DecodeScore(score, &entry.stars, &entry.points) ||
        !ReadInteger(reply->element[2 * i + 1], &rank)) {
      return absl::UnavailableError(
          "leaderboard cache unavailable: unexpected reply to a rank read");
    }
    entry.rank = static_cast<int>(rank);
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<BoardNeighbourhood> RedisBoardCache::ReadNeighbourhood(
    const BoardKey& board, const std::string& village_id, int neighbours) {
  RETURN_IF_ERROR(ValidateRange("neighbours", neighbours, 0, INT32_MAX / 2));
  ASSIGN_OR_RETURN(Reply reply,
                   Eval(kNeighbourhood, {KeyFor(options_.key_prefix, board)},
                        {village_id, absl::StrCat(neighbours)}, Access::kRead));
  if (reply->type == REDIS_REPLY_NIL) {
    return absl::NotFoundError(absl::StrCat(
        "village ", village_id, " is not on the board of ", Describe(board)));
  }
  int64_t total = 0, first = 0, position = 0;
  std::vector<RankedEntry> entries;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
      !ReadInteger(reply->element[0], &total) ||
      !ReadInteger(reply->element[1], &first) ||
      !ReadInteger(reply->element[2], &position) ||
      !ReadRanked(reply.get(), 3, &entries) || position < first ||
      position - first >= static_cast<int64_t>(entries.size())) {
    return absl::UnavailableError(
        "leaderboard cache unavailable: unexpected reply to a neighbour "
        "read");
  }
  BoardNeighbourhood result;
  result.total = static_cast<int>(total);
  const size_t index = static_cast<size_t>(position - first);
  result.entry = entries[index];
  result.above.assign(entries.begin(), entries.begin() + index);
  result.below.assign(entries.begin() + index + 1, entries.end());
  return result;
}

// ---- Probe -----------------------------------------------------------

void RedisBoardCache::SetResyncCallback(std::function<absl::Status()> resync) {
  absl::MutexLock lock(&mu_);
  resync_ = std::move(resync);
}

void RedisBoardCache::Start() {
  if (probe_.joinable() || stopped_.load()) return;
  probe_ = std::thread([this] { ProbeLoop(); });
}

void RedisBoardCache::Stop() {
  std::vector<Connection> closing;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    stopped_.store(true);
    closing.swap(idle_);
  }
  if (probe_.joinable()) probe_.join();
  for (Connection& connection : closing) redisFree(connection.context);
  // Connections in use when Stop() ran are freed by Release().
}

void RedisBoardCache::ProbeLoop() {
  while (true) {
    ProbeOnce();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                             options_.probe_interval)) {
      return;
    }
  }
}

void RedisBoardCache::ProbeOnce() {
  if (stopped_.load()) return;
  if (!up_.load()) {
    absl::StatusOr<redisContext*> context = Connect();
    absl::MutexLock lock(&mu_);
    if (!context.ok()) {
      down_reason_ = std::string(context.status().message());
      return;
    }
    if (stopping_) {
      redisFree(*context);
      return;
    }
    idle_.push_back({*context, generation_});
    up_.store(true);
    spdlog::info("msg=leaderboard_cache_up");
  }
  absl::StatusOr<std::vector<Reply>> marker =
      RoundTrip({{"EXISTS", marker_key_}}, Access::kWrite);
  if (!marker.ok()) return;
  int64_t exists = 0;
  if (!ReadInteger((*marker)[0].get(), &exists)) return;
  if (exists == 0) {
    spdlog::warn("msg=leaderboard_cache_lost_data why={}",
                 LogValue("marker key missing (restarted empty or flushed)"));
    RequestResync();
  }
  // Down again meanwhile (another caller's failure): the re-sync would fail.
  if (!needs_resync_.load() || !up_.load()) return;

  std::function<absl::Status()> resync;
  uint64_t requests = 0;
  {
    absl::MutexLock lock(&mu_);
    resync = resync_;
    requests = resync_requests_;
  }
  absl::Status status;
  if (!resync) {
    status = WriteThrough({{"SET", marker_key_, instance_id_}});
  } else {
    resyncs_started_.fetch_add(1);
    resync_thread_.store(std::this_thread::get_id());
    resync_phase_.fetch_add(1);  // odd: running
    status = resync();
    resync_phase_.fetch_add(1);
    resync_thread_.store(std::thread::id());
  }
  if (!status.ok()) {
    spdlog::warn("msg=leaderboard_cache_resync_failed why={}",
                 LogValue(status.ToString()));
    return;
  }
  if (resync) resyncs_succeeded_.fetch_add(1);
  absl::MutexLock lock(&mu_);
  // A write that overlapped, or a failure during, asked for another.
  if (resync_requests_ == requests) needs_resync_.store(false);
}

}  // namespace fivestar::scoring
