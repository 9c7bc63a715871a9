// BoardCache on Redis (hiredis): the leaderboards as sorted sets, reads as
// Lua scripts (one round trip each), writes as pipelines, bulk rebuilds
// into temporary keys swapped in atomically, and a probe thread that
// reconnects a cache that is down and re-syncs one that lost its data.
//
// Availability. The cache is "up" while its last I/O succeeded. A failed
// call (I/O error, timeout, or an error reply) marks it down and closes
// every idle connection; from then on every call fails at once with
// UNAVAILABLE "leaderboard cache unavailable: <why>" without network I/O,
// until the probe (every probe_interval) connects, authenticates and gets
// PONG.
//
// Re-sync. The cache "needs a re-sync" at Start(), when the probe or a new
// connection finds the marker key gone (Redis restarted empty, FLUSHALL), and
// after any write-through (Write, Remove, ReplaceBoards, Clear) that failed or
// was refused because the cache was down: the store committed that change, so
// the cache no longer matches it. While a re-sync is needed, available() is
// false and reads fail with UNAVAILABLE (they must not serve a half-built
// cache; the caller reads the store), but writes still go to Redis. Callers
// write through after their change is committed to the store, and the re-sync
// clears the boards and then reads the store, so a write that lands before its
// read is in the store's answer, and one that lands after the re-sync has
// rebuilt its board is on top of it. The one unsafe case is a write that lands
// between the callback's read of the store and the ReplaceBoards of that
// write's month: the rebuild would overwrite it with older data. So a write
// that overlaps a running re-sync (from any thread but the one running it) asks
// for one more re-sync, and the cache becomes available only after a re-sync
// that no write overlapped. Under a steady stream of writes this can postpone
// availability; reads then keep going to the store, which is correct.
//
// Sentinel. With RedisOptions::sentinels set, every new connection (a
// caller's or the probe's) first asks the sentinels in turn for the
// master's address and checks with ROLE that the server there is a master;
// when none answers, or the server is not a master, the connection fails
// like any other and the cache stays down until the probe finds a master.
// After a failover the old master's connections fail (it died, or the
// sentinel closed its clients when it demoted it), the cache goes down, and
// the probe reconnects to whatever master the sentinels name then. A master
// at another address than the last one asks for a re-sync: the replica that
// was promoted may lack writes the old master accepted after it last
// replicated them, and its marker, replicated with the boards, cannot tell.
//
// Connections: a pool of idle connections (at most kMaxIdleConnections);
// a call takes one or opens a new one, so there are at most as many as
// concurrent callers (handler threads of a bounded executor) plus the
// probe.
#ifndef FIVESTAR_SERVICES_SCORING_REDIS_BOARD_CACHE_H_
#define FIVESTAR_SERVICES_SCORING_REDIS_BOARD_CACHE_H_

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/scoring/board_cache.h"
#include "services/scoring/standing.h"

namespace fivestar::scoring {

// "host:port", an IPv6 address bracketed ("[::1]:6379").
std::string FormatAddress(const RedisAddress& address);
// Where the cache is, for logs: "host:port", "master \"<name>\" of sentinels
// host:port,...", or "none" when no cache is configured.
std::string DescribeRedis(const RedisOptions& options);

class RedisBoardCache final : public BoardCache {
 public:
  // Idle connections kept for reuse; more are opened when more callers
  // run at once, and closed when they come back to a full pool.
  static constexpr int kMaxIdleConnections = 8;
  // ReplaceBoards: members per ZADD and commands per pipeline, so a large
  // rebuild neither builds huge requests nor blocks Redis for long: a ZADD
  // of 250 members is a fraction of the millisecond issue 10 allows any
  // one command while boards are rebuilt (1,000 took over 1 ms under load).
  static constexpr int kMembersPerCommand = 250;
  static constexpr int kCommandsPerPipeline = 64;

  // Does no I/O; Start() begins connecting.
  explicit RedisBoardCache(RedisOptions options);
  // Stops the probe and closes every connection.
  ~RedisBoardCache() override;
  RedisBoardCache(const RedisBoardCache&) = delete;
  RedisBoardCache& operator=(const RedisBoardCache&) = delete;

  // "<prefix>:board:{<region>:<star number>}:<YYYY-MM>", star number 0 for
  // the overall board.
  static std::string KeyFor(const std::string& prefix, const BoardKey& board);

  bool available() const override;
  // Also peeks (MSG_PEEK, non-blocking) at the most recently used idle
  // connection: end of stream or an error means Redis closed it, and the
  // cache is marked down.
  bool Reachable() override;

  absl::Status Write(const Standing& now,
                     const std::vector<Standing>& previous) override;
  absl::Status Remove(const std::vector<Standing>& removed) override;
  // INVALID_ARGUMENT when a standing is of another period or its score
  // cannot be encoded (stars 0..5, points 0..999999).
  absl::Status ReplaceBoards(const std::string& period,
                             const std::vector<Standing>& standings) override;
  absl::Status Clear() override;

  // INVALID_ARGUMENT for a negative offset or limit.
  absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board, int offset,
                                       int limit) override;
  // In the order of `village_ids`, leaving out those not on the board.
  absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board,
      const std::vector<std::string>& village_ids) override;
  absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id,
      int neighbours) override;

  // Without a callback, a cache that needs a re-sync only rewrites its
  // marker and becomes available (for tests and tools).
  void SetResyncCallback(std::function<absl::Status()> resync) override;
  void Start() override;
  void Stop() override;

  // Counters for metrics: times a failed call marked the cache down (one
  // per outage, however many calls failed in it), and re-sync callbacks
  // run and succeeded.
  int64_t failures() const { return failures_.load(); }
  int64_t resyncs_started() const { return resyncs_started_.load(); }
  int64_t resyncs_succeeded() const { return resyncs_succeeded_.load(); }

 private:
  struct ReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
  using Command = std::vector<std::string>;
  // Whether a call needs a cache that is also re-synced (reads) or only a
  // reachable one (writes, and the re-sync's own Clear/ReplaceBoards).
  enum class Access { kRead, kWrite };
  struct Connection {
    redisContext* context = nullptr;
    // generation_ when opened: a connection from before a failure is not
    // put back into the pool.
    uint64_t generation = 0;
  };
  // The Lua scripts (sources in the .cc).
  enum Script { kReadBoard, kRanksOf, kNeighbourhood, kSwap, kScriptCount };

  // Where to connect, and how errors name it ("redis at host:port", with
  // the master's name and the sentinel that gave the address).
  struct Master {
    RedisAddress address;
    std::string where;
  };
  // The master: options_' host and port, or the first answer of a sentinel
  // (asked in turn). UNAVAILABLE naming the master and every sentinel tried
  // when none knows it.
  absl::StatusOr<Master> FindMaster() const;
  // A new authenticated connection to the master with the scripts loaded,
  // or why not. Asks for a re-sync when the marker is gone or the master is
  // at another address than the last connection's.
  absl::StatusOr<redisContext*> Connect();
  // "host:port" of a connection, for messages.
  static std::string AddressOf(const redisContext* context);
  // An idle or new connection; UNAVAILABLE at once when down or stopped.
  absl::StatusOr<Connection> Acquire(Access access);
  void Release(Connection connection);
  // Counts a failure, marks the cache down (closing idle connections)
  // unless the failed connection predates the last reconnect, and returns
  // UNAVAILABLE with `why`.
  absl::Status Fail(const std::string& why, uint64_t generation);
  absl::Status UnavailableNow(Access access) const;

  // Sends `commands` on `context` in one pipeline and reads every reply; a
  // non-OK status is an I/O failure (the connection is then unusable).
  static absl::Status Exchange(redisContext* context,
                               const std::vector<Command>& commands,
                               std::vector<Reply>* replies);
  // Sends `commands` in one pipeline and reads every reply. An I/O error or
  // an error reply (other than NOSCRIPT when allowed) fails the call.
  absl::StatusOr<std::vector<Reply>> RoundTrip(
      const std::vector<Command>& commands, Access access,
      bool allow_noscript = false);
  // EVALSHA, falling back to EVAL when Redis lost the script.
  absl::StatusOr<Reply> Eval(Script script,
                             const std::vector<std::string>& keys,
                             const std::vector<std::string>& args,
                             Access access);
  Command EvalCommand(Script script, const std::string& sha,
                      const std::vector<std::string>& keys,
                      const std::vector<std::string>& args) const;

  // Runs a write-through: fails fast when down, asks for a re-sync when it
  // fails or overlaps a running one.
  absl::Status WriteThrough(const std::vector<Command>& commands);
  void RequestResync();
  // Whether the caller is the thread running the re-sync callback.
  bool OnResyncThread() const;

  void ProbeLoop();
  void ProbeOnce();

  const RedisOptions options_;
  const std::string marker_key_;
  const std::string instance_id_;  // the marker's value

  std::atomic<bool> up_{false};
  std::atomic<bool> needs_resync_{true};
  std::atomic<bool> stopped_{false};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> resyncs_started_{0};
  std::atomic<int64_t> resyncs_succeeded_{0};
  // Odd while a re-sync callback runs; a write-through that sees it odd,
  // or changed, overlapped one.
  std::atomic<uint64_t> resync_phase_{0};
  std::atomic<std::thread::id> resync_thread_{};

  mutable absl::Mutex mu_;
  std::vector<Connection> idle_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::string down_reason_ ABSL_GUARDED_BY(mu_) = "not connected yet";
  // "host:port" of the master the last new connection reached; empty
  // before the first.
  std::string master_address_ ABSL_GUARDED_BY(mu_);
  // Bumped by every request for a re-sync: a re-sync clears needs_resync_
  // only when no request came while it ran.
  uint64_t resync_requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<absl::Status()> resync_ ABSL_GUARDED_BY(mu_);
  // SHA1s from SCRIPT LOAD (empty until the first connection): EVALSHA
  // sends 40 bytes instead of the script. kSwap's is not used (see
  // ReplaceBoards).
  std::string script_shas_[kScriptCount] ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread probe_;  // touched only by Start/Stop
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_REDIS_BOARD_CACHE_H_
