// The leaderboards: GetLeaderboard, GetVillageRank and FreezeLeaderboard,
// and the write-through of recorded evaluations to the Redis cache.
//
// The store is the system of record; the cache (Redis sorted sets) answers
// reads in one round trip when it can. When it cannot (down, hung, being
// re-synced) the same answer is computed from the store and marked
// `degraded`. A write whose write-through fails is safe in the store; the
// cache is then re-synced from the store (Resync) before it serves again.
#ifndef FIVESTAR_SERVICES_SCORING_LEADERBOARDS_H_
#define FIVESTAR_SERVICES_SCORING_LEADERBOARDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/scoring/board_cache.h"
#include "services/scoring/inputs_source.h"
#include "services/scoring/scoring_store.h"

namespace fivestar::scoring {

class Leaderboards {
 public:
  // `cache` may be null (no Redis configured: every read is computed from
  // the store, and says so). Everything must outlive the object.
  Leaderboards(ScoringStore* store, BoardCache* cache,
               const Jurisdiction* jurisdiction, InputsSource* inputs,
               const Clock* clock);

  absl::StatusOr<v1::GetLeaderboardResponse> GetLeaderboard(
      const Principal& principal, const v1::GetLeaderboardRequest& request);
  absl::StatusOr<v1::GetVillageRankResponse> GetVillageRank(
      const Principal& principal, const v1::GetVillageRankRequest& request);
  absl::StatusOr<v1::LeaderboardSnapshot> FreezeLeaderboard(
      const Principal& principal, const v1::FreezeLeaderboardRequest& request);

  // Puts recorded standings on their boards (and off the boards their
  // previous lineage put them on). Never fails: the store already holds
  // them; a cache failure is counted and leads to a re-sync.
  void Publish(const std::vector<Standing>& now,
               const std::vector<std::optional<Standing>>& previous);
  // Takes removed standings off their boards.
  void Unpublish(const std::vector<Standing>& removed);

  // Rebuilds every board of the cache from the store: the cache's resync
  // callback.
  absl::Status Resync();
  // Rebuilds from the store the boards of one month under each of `tops`
  // (after a region evaluation: the top regions of the lineages it wrote,
  // old and new), each board swapped in whole. Boards under other top
  // regions are left as they are, so evaluating one province of a nation
  // rebuilds that province's boards only. A cache failure is counted, not
  // returned: the store holds the results.
  void RebuildBoardsUnder(const std::string& period,
                          const absl::flat_hash_set<std::string>& tops);

  // Counters and gauges for ServerMetrics::Expose:
  // fivestar_leaderboard_degraded_reads_total,
  // fivestar_leaderboard_cache_write_failures_total,
  // fivestar_leaderboard_resyncs_total, fivestar_leaderboard_cache_up.
  std::weak_ptr<prometheus::Collectable> metrics() const { return metrics_; }

 private:
  // A slice of a board with previous-month ranks, from the cache or else
  // from the store; `degraded` set when the store answered.
  struct Ranked {
    BoardSlice slice;
    std::vector<RankedEntry> previous;
    bool degraded = false;
  };
  absl::StatusOr<Ranked> ReadLive(const BoardKey& board, int offset, int limit);
  // Ranks of `ids` on the previous month's board.
  absl::StatusOr<std::vector<RankedEntry>> PreviousRanks(
      const BoardKey& board, const std::vector<std::string>& ids,
      bool* degraded);
  // The board's region for GetVillageRank: the given one (which must be
  // above the village) or the village's township.
  absl::StatusOr<std::string> RankRegion(
      const std::vector<std::string>& lineage, const std::string& requested);
  // Drops from `entries` the villages outside the scope of `principal` (a
  // scoped one), which it may not read.
  absl::Status KeepReadable(const Principal& principal,
                            std::vector<RankedEntry>* entries);
  void CacheFailed(const absl::Status& status);
  // Sends the standings of `period` on the board of `top` (a top region)
  // to the cache, which replaces every board under it (under rebuild_mu_).
  absl::Status ReplaceBoardsUnder(const std::string& period,
                                  const std::string& top)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rebuild_mu_);

  ScoringStore* const store_;
  BoardCache* const cache_;
  const Jurisdiction* const jurisdiction_;
  InputsSource* const inputs_;
  const Clock* const clock_;

  // A rebuild reads standings from the store and swaps boards; a
  // write-through landing between the two would be undone by the swap. So
  // write-throughs (shared) and rebuilds (exclusive) exclude each other; a
  // write committed before a rebuild's read is in what it reads.
  absl::Mutex rebuild_mu_;

  std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Counter& degraded_reads_;
  prometheus::Counter& write_failures_;
  prometheus::Counter& resyncs_;
  prometheus::Gauge& cache_up_;
};

// The month before `period` ("YYYY-MM"), or "" when `period` is malformed.
std::string PreviousMonth(const std::string& period);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_LEADERBOARDS_H_
