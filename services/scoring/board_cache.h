// The leaderboards' cache: one Redis sorted set per board (region × month ×
// overall or one star), written through on every recorded evaluation and
// rebuilt in bulk from the store. Never the only copy: scoring's database
// is the system of record, and every read falls back to it when the cache
// fails (the caller then answers "degraded").
//
// Keys carry a hash tag so a board and its previous month share a slot
// (Redis Cluster): "fivestar:board:{<region>:<star number>}:<YYYY-MM>".
// A member is a village id; its score is −(stars × 1,000,000 + points), so
// ZRANGE in ascending order is board order (most stars, then most points,
// then village id ascending, as Redis orders equal scores by member), and a
// village's competition rank is 1 + the members with a strictly lower
// score.
//
// Thread-safe. Every call has a connect and a command timeout; after a
// failure the cache is "down" and calls fail at once (UNAVAILABLE) without
// touching the network until a background probe reconnects, so a hung
// Redis costs one timeout, not one per call. A probe also notices a Redis
// that restarted empty or was flushed (a marker key is gone) and calls the
// resync callback, which rebuilds the boards from the store.
#ifndef FIVESTAR_SERVICES_SCORING_BOARD_CACHE_H_
#define FIVESTAR_SERVICES_SCORING_BOARD_CACHE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/scoring/standing.h"

namespace fivestar::scoring {

// A Redis server's or a sentinel's address.
struct RedisAddress {
  std::string host;
  int port = 0;
};

struct RedisOptions {
  // The Redis server, when no sentinels are given; an empty host (and no
  // sentinels) runs without a cache.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Redis Sentinel: when not empty, host and port are not used. Every new
  // connection asks these sentinels in turn for the address of
  // `master_name` (SENTINEL get-master-addr-by-name) and checks with ROLE
  // that the server there is a master. A master at another address than
  // the last one used (a failover) may lack writes the old one accepted,
  // so the boards are re-synced from the store.
  std::vector<RedisAddress> sentinels;
  std::string master_name;
  // AUTH for the sentinels (requirepass of the sentinel); empty for none.
  std::string sentinel_password;
  // AUTH: password alone, or ACL user and password; empty for none.
  std::string user;
  std::string password;
  absl::Duration connect_timeout = absl::Milliseconds(500);
  absl::Duration command_timeout = absl::Milliseconds(500);
  // How often the probe checks a cache that is down, or the marker of one
  // that is up.
  absl::Duration probe_interval = absl::Seconds(1);
  // Key prefix, so several deployments (or tests) can share one Redis.
  std::string key_prefix = "fivestar";

  // Whether a cache is configured at all (a host or sentinels).
  bool enabled() const { return !sentinels.empty() || !host.empty(); }
};

class BoardCache {
 public:
  virtual ~BoardCache() = default;

  // Whether the cache is believed usable now (no network I/O).
  virtual bool available() const = 0;
  // available(), checked more closely without a round trip (a connection
  // the server has closed counts, and marks the cache down). Asked before
  // an answer is served from memory (NearBoardCache), which would
  // otherwise not notice a Redis that has just gone.
  virtual bool Reachable() { return available(); }

  // Puts `now` on every board of every region of its lineage (overall and
  // per star) and removes the village from the boards of `previous`'s
  // regions that are not in `now`'s lineage, in one pipelined round trip.
  virtual absl::Status Write(const Standing& now,
                             const std::vector<Standing>& previous) = 0;
  // Removes a village from every board of `removed`'s lineages and months.
  virtual absl::Status Remove(const std::vector<Standing>& removed) = 0;

  // Replaces every board of `period` whose region appears in some
  // standing's lineage with exactly the given standings (all standings of
  // the month below those regions), each board built under a temporary key
  // and renamed over the live one, the old one freed without blocking Redis
  // (UNLINK). `standings` may be large; they are sent in bounded pipelines.
  virtual absl::Status ReplaceBoards(
      const std::string& period, const std::vector<Standing>& standings) = 0;
  // Drops every board key of the cache and writes the marker (a re-sync
  // starts with this).
  virtual absl::Status Clear() = 0;

  // Entries offset..offset+limit-1 of a board with ranks, and its size, in
  // one round trip.
  virtual absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board,
                                               int offset, int limit) = 0;
  // The ranks of some villages on a board (absent when not on it), in one
  // round trip.
  virtual absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board, const std::vector<std::string>& village_ids) = 0;
  // A village's entry with neighbours, in one round trip. NOT_FOUND when
  // the village is not on the board.
  virtual absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id, int neighbours) = 0;

  // Called on the probe's thread when the cache came back empty or was
  // flushed, and once at start; the callback re-syncs (Clear +
  // ReplaceBoards per month) and returns its status (on error the probe
  // calls it again later). Set before Start().
  virtual void SetResyncCallback(std::function<absl::Status()> resync) = 0;
  // Starts the probe thread.
  virtual void Start() = 0;
  // Stops the probe thread; later calls fail with UNAVAILABLE.
  virtual void Stop() = 0;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_BOARD_CACHE_H_
