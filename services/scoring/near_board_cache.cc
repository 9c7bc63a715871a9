#include "services/scoring/near_board_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fivestar::scoring {
namespace {

// Cost of an answer in max_entries units: its entries, plus one for the
// answer itself.
size_t CostOf(const BoardSlice& slice) { return slice.entries.size() + 1; }
size_t CostOf(const std::vector<RankedEntry>& ranks) {
  return ranks.size() + 1;
}
size_t CostOf(const absl::StatusOr<BoardNeighbourhood>& hood) {
  return hood.ok() ? hood->above.size() + hood->below.size() + 2 : 1;
}

}  // namespace

size_t NearBoardCache::CostOfGroup(const Group& group) {
  size_t cost = 1;
  for (const auto& [key, slice] : group.slices) cost += CostOf(slice);
  for (const auto& [key, ranks] : group.ranks) cost += CostOf(ranks);
  for (const auto& [key, hood] : group.hoods) cost += CostOf(hood);
  return cost;
}

NearBoardCache::NearBoardCache(std::unique_ptr<BoardCache> inner,
                               NearCacheOptions options)
    : inner_(std::move(inner)),
      options_(options),
      metrics_(std::make_shared<prometheus::Registry>()),
      reads_(prometheus::BuildCounter()
                 .Name("fivestar_leaderboard_near_cache_reads_total")
                 .Help("Leaderboard cache reads by answer: hit (from the "
                       "near-cache in memory) or miss (from Redis).")
                 .Register(*metrics_)),
      hits_(reads_.Add({{"answer", "hit"}})),
      misses_(reads_.Add({{"answer", "miss"}})),
      overflows_(prometheus::BuildCounter()
                     .Name("fivestar_leaderboard_near_cache_overflows_total")
                     .Help("Times the near-cache filled up "
                           "(--board_near_cache_entries) and dropped "
                           "everything it held.")
                     .Register(*metrics_)
                     .Add({})),
      entries_(prometheus::BuildGauge()
                   .Name("fivestar_leaderboard_near_cache_entries")
                   .Help("Ranked entries the near-cache holds (plus one per "
                         "answer and per board group), of "
                         "--board_near_cache_entries.")
                   .Register(*metrics_)
                   .Add({})) {}

void NearBoardCache::SetHeld(size_t held) {
  held_ = held;
  entries_.Set(static_cast<double>(held));
}

bool NearBoardCache::available() const { return inner_->available(); }

bool NearBoardCache::Reachable() { return inner_->Reachable(); }

// ---- Lookups and fills ----------------------------------------------------

template <typename Value>
bool NearBoardCache::Lookup(
    const BoardKey& board, const std::string& key,
    absl::flat_hash_map<std::string, Value> Group::*field, Value* out,
    uint64_t* epoch) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto period = groups_.find(board.period);
    if (period != groups_.end()) {
      auto group = period->second.find(board.region_id);
      if (group != period->second.end()) {
        const auto& answers = group->second.*field;
        auto it = answers.find(key);
        if (it != answers.end()) {
          *out = it->second;
          return true;
        }
        *epoch = group->second.epoch;
        return false;
      }
    }
  }
  absl::MutexLock lock(&mu_);
  Group& group = groups_[board.period][board.region_id];
  if (group.epoch == 0) {
    group.epoch = ++next_epoch_;
    // An empty group costs one, so reads alone cannot grow it.
    SetHeld(held_ + 1);
  }
  // Filled by another reader meanwhile?
  const auto& answers = group.*field;
  auto it = answers.find(key);
  if (it != answers.end()) {
    *out = it->second;
    return true;
  }
  *epoch = group.epoch;
  return false;
}

template <typename Value>
void NearBoardCache::Fill(const BoardKey& board, const std::string& key,
                          absl::flat_hash_map<std::string, Value> Group::*field,
                          uint64_t epoch, Value value, size_t cost) {
  absl::MutexLock lock(&mu_);
  auto period = groups_.find(board.period);
  if (period == groups_.end()) return;
  auto group = period->second.find(board.region_id);
  // Dropped (and perhaps registered again) since the read began: what it
  // read may predate the write that dropped it.
  if (group == period->second.end() || group->second.epoch != epoch) return;
  if (held_ + cost > options_.max_entries) {
    // Full: start over rather than track recency on every hit.
    groups_.clear();
    SetHeld(0);
    overflows_.Increment();
    return;
  }
  if ((group->second.*field).insert_or_assign(key, std::move(value)).second) {
    SetHeld(held_ + cost);
  }
}

absl::StatusOr<BoardSlice> NearBoardCache::ReadBoard(const BoardKey& board,
                                                     int offset, int limit) {
  if (options_.max_entries == 0 || !inner_->available()) {
    return inner_->ReadBoard(board, offset, limit);
  }
  const std::string key =
      absl::StrCat(static_cast<int>(board.star), ":", offset, ":", limit);
  BoardSlice slice;
  uint64_t epoch = 0;
  if (Lookup(board, key, &Group::slices, &slice, &epoch) &&
      inner_->Reachable()) {
    hits_.Increment();
    return slice;
  }
  misses_.Increment();
  absl::StatusOr<BoardSlice> read = inner_->ReadBoard(board, offset, limit);
  if (read.ok()) Fill(board, key, &Group::slices, epoch, *read, CostOf(*read));
  return read;
}

absl::StatusOr<std::vector<RankedEntry>> NearBoardCache::RanksOf(
    const BoardKey& board, const std::vector<std::string>& village_ids) {
  if (options_.max_entries == 0 || village_ids.empty() ||
      !inner_->available()) {
    return inner_->RanksOf(board, village_ids);
  }
  // Ids never hold a newline (ValidateId).
  const std::string key = absl::StrCat(static_cast<int>(board.star), ":",
                                       absl::StrJoin(village_ids, "\n"));
  std::vector<RankedEntry> ranks;
  uint64_t epoch = 0;
  if (Lookup(board, key, &Group::ranks, &ranks, &epoch) &&
      inner_->Reachable()) {
    hits_.Increment();
    return ranks;
  }
  misses_.Increment();
  absl::StatusOr<std::vector<RankedEntry>> read =
      inner_->RanksOf(board, village_ids);
  if (read.ok()) Fill(board, key, &Group::ranks, epoch, *read, CostOf(*read));
  return read;
}

absl::StatusOr<BoardNeighbourhood> NearBoardCache::ReadNeighbourhood(
    const BoardKey& board, const std::string& village_id, int neighbours) {
  if (options_.max_entries == 0 || !inner_->available()) {
    return inner_->ReadNeighbourhood(board, village_id, neighbours);
  }
  const std::string key = absl::StrCat(static_cast<int>(board.star), ":",
                                       neighbours, ":", village_id);
  absl::StatusOr<BoardNeighbourhood> hood;
  uint64_t epoch = 0;
  if (Lookup(board, key, &Group::hoods, &hood, &epoch) && inner_->Reachable()) {
    hits_.Increment();
    return hood;
  }
  misses_.Increment();
  absl::StatusOr<BoardNeighbourhood> read =
      inner_->ReadNeighbourhood(board, village_id, neighbours);
  if (read.ok() || absl::IsNotFound(read.status())) {
    Fill(board, key, &Group::hoods, epoch, read, CostOf(read));
  }
  return read;
}

// ---- Writes and invalidation ----------------------------------------------

absl::Status NearBoardCache::Write(const Standing& now,
                                   const std::vector<Standing>& previous) {
  absl::Status status = inner_->Write(now, previous);
  InvalidateLineages({now});
  InvalidateLineages(previous);
  return status;
}

absl::Status NearBoardCache::Remove(const std::vector<Standing>& removed) {
  absl::Status status = inner_->Remove(removed);
  InvalidateLineages(removed);
  return status;
}

absl::Status NearBoardCache::ReplaceBoards(
    const std::string& period, const std::vector<Standing>& standings) {
  absl::Status status = inner_->ReplaceBoards(period, standings);
  InvalidatePeriod(period);
  return status;
}

absl::Status NearBoardCache::Clear() {
  absl::Status status = inner_->Clear();
  InvalidateAll();
  return status;
}

void NearBoardCache::InvalidateLineages(
    const std::vector<Standing>& standings) {
  absl::MutexLock lock(&mu_);
  for (const Standing& standing : standings) {
    auto period = groups_.find(standing.period);
    if (period == groups_.end()) continue;
    // lineage[0] is the village, which has no board; dropping it is
    // harmless.
    for (const std::string& region : standing.lineage) {
      auto group = period->second.find(region);
      if (group == period->second.end()) continue;
      SetHeld(held_ - std::min(held_, CostOfGroup(group->second)));
      period->second.erase(group);
    }
    if (period->second.empty()) groups_.erase(period);
  }
}

void NearBoardCache::Invalidate(const std::string& region_id,
                                const std::string& period) {
  Standing standing;
  standing.period = period;
  standing.lineage = {region_id};
  InvalidateLineages({standing});
}

void NearBoardCache::InvalidatePeriod(const std::string& period) {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(period);
  if (it == groups_.end()) return;
  for (const auto& [region, group] : it->second) {
    SetHeld(held_ - std::min(held_, CostOfGroup(group)));
  }
  groups_.erase(it);
}

void NearBoardCache::InvalidateAll() {
  absl::MutexLock lock(&mu_);
  groups_.clear();
  SetHeld(0);
}

// ---- Forwarded --------------------------------------------------------

void NearBoardCache::SetResyncCallback(std::function<absl::Status()> resync) {
  inner_->SetResyncCallback(std::move(resync));
}

void NearBoardCache::Start() { inner_->Start(); }

void NearBoardCache::Stop() { inner_->Stop(); }

}  // namespace fivestar::scoring
