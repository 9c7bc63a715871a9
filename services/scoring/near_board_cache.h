// An in-process near-cache of leaderboard reads in front of another
// BoardCache (Redis): answers a repeated read (a board's page, a village's
// neighbourhood, the ranks of some villages) from memory, without a Redis
// round trip.
//
// Correctness. Every write of this process reaches Redis through this
// object (Write, Remove, ReplaceBoards, Clear: the write-throughs, region
// rebuilds and re-syncs), and each one, when the inner call returns
// (whether it succeeded or failed), drops the cached answers of every board
// the call touched: the (region, month) pairs of the standings' lineages
// for Write and Remove, every board of the month for ReplaceBoards,
// everything for Clear. A read that misses registers its (region, month)
// under an epoch before it asks the inner cache, and stores the answer only
// if no drop of that (region, month) happened meanwhile (the epoch is
// unchanged), so an answer read from Redis before a write landed is never
// stored after the write's drop. Hence: once a write-through, rebuild or
// re-sync has returned, no read of this process is answered with what the
// boards held before it. Reads go to the inner cache (and nothing is
// stored) whenever it is not available(): down, stopped, or waiting for a
// re-sync (the caller then reads the store, "degraded"); and before an
// answer is served from memory the inner cache is asked Reachable() (for
// Redis, a non-blocking peek at a pooled connection), so a Redis that has
// just closed its connections is noticed as the first read without the
// near-cache would.
//
// Several replicas (later): another process's writes reach Redis without
// passing through here. The one addition needed is a signal per write: the
// writer PUBLISHes the (region, month) pairs it touched on a channel in the
// same pipeline as its write-through, and each replica's subscriber thread
// calls Invalidate / InvalidatePeriod / InvalidateAll with them (all when
// its subscription was lost and re-established, since messages may have
// been missed); until then this cache assumes a single writer.
//
// Bounded: at most `max_entries` ranked entries are held over all answers;
// storing past that first drops everything (then refills from Redis).
// Thread-safe; lookups take a shared lock.
//
// Metrics (metrics()): fivestar_leaderboard_near_cache_reads_total by
// answer (hit: from memory; miss: from the inner cache while it was
// available), fivestar_leaderboard_near_cache_overflows_total (times it
// filled up and dropped everything) and
// fivestar_leaderboard_near_cache_entries (what it holds, in max_entries
// units).
#ifndef FIVESTAR_SERVICES_SCORING_NEAR_BOARD_CACHE_H_
#define FIVESTAR_SERVICES_SCORING_NEAR_BOARD_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/scoring/board_cache.h"

namespace fivestar::scoring {

struct NearCacheOptions {
  // Most RankedEntry values kept over all cached answers (an answer costs
  // its entries plus one). 0 turns the near-cache off (every read goes to
  // the inner cache).
  size_t max_entries = 200'000;
};

class NearBoardCache final : public BoardCache {
 public:
  // `inner` is the cache every call is forwarded to.
  NearBoardCache(std::unique_ptr<BoardCache> inner, NearCacheOptions options);

  // The inner cache's availability.
  bool available() const override;
  bool Reachable() override;

  // Forwarded; then the boards the call touched are dropped, whatever the
  // inner cache answered.
  absl::Status Write(const Standing& now,
                     const std::vector<Standing>& previous) override;
  absl::Status Remove(const std::vector<Standing>& removed) override;
  absl::Status ReplaceBoards(const std::string& period,
                             const std::vector<Standing>& standings) override;
  absl::Status Clear() override;

  // From memory when cached (and the inner cache is available), else from
  // the inner cache, whose OK answer (and NOT_FOUND for a neighbourhood) is
  // kept.
  absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board, int offset,
                                       int limit) override;
  absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board,
      const std::vector<std::string>& village_ids) override;
  absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id,
      int neighbours) override;

  // Forwarded.
  void SetResyncCallback(std::function<absl::Status()> resync) override;
  void Start() override;
  void Stop() override;

  // Drops the cached answers of every board of `region_id` for `period`
  // (overall and per star).
  void Invalidate(const std::string& region_id, const std::string& period);
  // Drops the cached answers of every board of `period`.
  void InvalidatePeriod(const std::string& period);
  // Drops every cached answer.
  void InvalidateAll();

  // Reads answered from memory, and reads that went to the inner cache
  // while it was available; times it filled up and dropped everything.
  int64_t hits() const { return static_cast<int64_t>(hits_.Value()); }
  int64_t misses() const { return static_cast<int64_t>(misses_.Value()); }
  int64_t overflows() const { return static_cast<int64_t>(overflows_.Value()); }
  // The metrics above, to expose on the server's /metrics.
  std::weak_ptr<prometheus::Collectable> metrics() const { return metrics_; }
  // The inner cache, for tests that look at Redis itself.
  BoardCache* inner() { return inner_.get(); }

 private:
  // The cached answers of one region's boards (every star) for one month.
  struct Group {
    // Set when the group is created, from a counter that never repeats: a
    // fill stores its answer only into the group it registered with.
    uint64_t epoch = 0;
    absl::flat_hash_map<std::string, BoardSlice> slices;
    absl::flat_hash_map<std::string, std::vector<RankedEntry>> ranks;
    // A neighbourhood, or NOT_FOUND (the village is not on the board).
    absl::flat_hash_map<std::string, absl::StatusOr<BoardNeighbourhood>> hoods;
  };
  // period → region → group.
  using Groups =
      absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Group>>;

  // The answer cached under `key` in `board`'s group (copied into `out`),
  // else the epoch of the group (created when missing) a fill must find
  // unchanged. `Field` is one of Group's maps.
  template <typename Value>
  bool Lookup(const BoardKey& board, const std::string& key,
              absl::flat_hash_map<std::string, Value> Group::*field, Value* out,
              uint64_t* epoch);
  // Stores `value` under `key` unless `board`'s group was dropped since
  // `epoch` was read.
  template <typename Value>
  void Fill(const BoardKey& board, const std::string& key,
            absl::flat_hash_map<std::string, Value> Group::*field,
            uint64_t epoch, Value value, size_t cost);
  // What `group` holds, in max_entries units.
  static size_t CostOfGroup(const Group& group);
  // Drops the groups of `standings`' lineages (each region above the
  // village) for their months.
  void InvalidateLineages(const std::vector<Standing>& standings);
  // Sets held_ and its gauge.
  void SetHeld(size_t held) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<BoardCache> inner_;
  const NearCacheOptions options_;

  absl::Mutex mu_;
  Groups groups_ ABSL_GUARDED_BY(mu_);
  uint64_t next_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // RankedEntry values (plus one per answer) held in groups_.
  size_t held_ ABSL_GUARDED_BY(mu_) = 0;

  std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Family<prometheus::Counter>& reads_;
  prometheus::Counter& hits_;
  prometheus::Counter& misses_;
  prometheus::Counter& overflows_;
  prometheus::Gauge& entries_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_NEAR_BOARD_CACHE_H_
