#include "services/scoring/leaderboards.h"

#include <algorithm>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "services/scoring/scoring_fields.h"
#include "spdlog/spdlog.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::Star;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxNeighbours = 50;
// Standings per ListStandings page while re-syncing.
constexpr int kResyncPage = 5000;

v1::LeaderboardEntry ToEntry(
    const RankedEntry& entry,
    const absl::flat_hash_map<std::string, int>& prev) {
  v1::LeaderboardEntry out;
  out.set_rank(entry.rank);
  out.set_village_id(entry.village_id);
  out.set_stars(entry.stars);
  out.set_points(entry.points);
  auto it = prev.find(entry.village_id);
  if (it != prev.end()) {
    out.set_previous_rank(it->second);
    out.set_rank_change(it->second - entry.rank);
  }
  return out;
}

absl::flat_hash_map<std::string, int> RankMap(
    const std::vector<RankedEntry>& entries) {
  absl::flat_hash_map<std::string, int> ranks;
  for (const RankedEntry& entry : entries) ranks[entry.village_id] = entry.rank;
  return ranks;
}

std::string BoardFilters(const BoardKey& board, bool snapshot) {
  return absl::StrCat("leaderboard|", board.region_id, "|", board.period, "|",
                      static_cast<int>(board.star), "|", snapshot ? 1 : 0);
}

}  // namespace

std::string PreviousMonth(const std::string& period) {
  absl::StatusOr<absl::CivilMonth> month = ParseMonth("period", period);
  if (!month.ok()) return "";
  return FormatMonth(*month - 1);
}

Leaderboards::Leaderboards(ScoringStore* store, BoardCache* cache,
                           const Jurisdiction* jurisdiction,
                           InputsSource* inputs, const Clock* clock)
    : store_(store),
      cache_(cache),
      jurisdiction_(jurisdiction),
      inputs_(inputs),
      clock_(clock),
      metrics_(std::make_shared<prometheus::Registry>()),
      degraded_reads_(
          prometheus::BuildCounter()
              .Name("fivestar_leaderboard_degraded_reads_total")
              .Help("Leaderboard reads answered from the database because "
                    "the Redis cache could not be used.")
              .Register(*metrics_)
              .Add({})),
      write_failures_(
          prometheus::BuildCounter()
              .Name("fivestar_leaderboard_cache_write_failures_total")
              .Help("Recorded evaluations whose write-through to the Redis "
                    "cache failed (the cache is then re-synced).")
              .Register(*metrics_)
              .Add({})),
      resyncs_(prometheus::BuildCounter()
                   .Name("fivestar_leaderboard_resyncs_total")
                   .Help("Complete rebuilds of the Redis leaderboard cache "
                         "from the database.")
                   .Register(*metrics_)
                   .Add({})),
      cache_up_(prometheus::BuildGauge()
                    .Name("fivestar_leaderboard_cache_up")
                    .Help("1 when the Redis leaderboard cache serves reads, "
                          "0 when reads fall back to the database.")
                    .Register(*metrics_)
                    .Add({})) {}

void Leaderboards::CacheFailed(const absl::Status& status) {
  spdlog::warn("msg={} error={}", LogValue("leaderboard cache failed"),
               LogValue(status.message()));
}

absl::StatusOr<std::vector<RankedEntry>> Leaderboards::PreviousRanks(
    const BoardKey& board, const std::vector<std::string>& ids,
    bool* degraded) {
  BoardKey previous = board;
  previous.period = PreviousMonth(board.period);
  if (previous.period.empty() || ids.empty()) {
    return std::vector<RankedEntry>();
  }
  if (cache_ != nullptr && cache_->available() && !*degraded) {
    absl::StatusOr<std::vector<RankedEntry>> ranks =
        cache_->RanksOf(previous, ids);
    if (ranks.ok()) return ranks;
    CacheFailed(ranks.status());
  }
  *degraded = true;
  return store_->RanksOf(previous, ids);
}

absl::StatusOr<Leaderboards::Ranked> Leaderboards::ReadLive(
    const BoardKey& board, int offset, int limit) {
  Ranked ranked;
  bool from_cache = false;
  if (cache_ != nullptr && cache_->available()) {
    absl::StatusOr<BoardSlice> slice = cache_->ReadBoard(board, offset, limit);
    if (slice.ok()) {
      ranked.slice = *std::move(slice);
      from_cache = true;
    } else {
      CacheFailed(slice.status());
    }
  }
  if (!from_cache) {
    ranked.degraded = true;
    ASSIGN_OR_RETURN(ranked.slice, store_->ReadBoard(board, offset, limit));
  }
  std::vector<std::string> ids;
  for (const RankedEntry& entry : ranked.slice.entries) {
    ids.push_back(entry.village_id);
  }
  ASSIGN_OR_RETURN(ranked.previous,
                   PreviousRanks(board, ids, &ranked.degraded));
  if (ranked.degraded) degraded_reads_.Increment();
  cache_up_.Set(cache_ != nullptr && cache_->available() ? 1 : 0);
  return ranked;
}

absl::StatusOr<v1::GetLeaderboardResponse> Leaderboards::GetLeaderboard(
    const Principal& principal, const v1::GetLeaderboardRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("region_id", request.region_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateStar("star", request.star(), false));
  ASSIGN_OR_RETURN(
      int page_size,
      EffectivePageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  const BoardKey board{request.region_id(), request.period(), request.star()};
  const std::string filters = BoardFilters(board, request.snapshot());
  ASSIGN_OR_RETURN(std::string after,
                   DecodePageToken(request.page_token(), filters));
  int offset = 0;
  if (!after.empty() && (!absl::SimpleAtoi(after, &offset) || offset < 0)) {
    return FieldError("page_token", "corrupt");
  }
  RETURN_IF_ERROR(jurisdiction_
                      ->AuthorizeRegion(principal, Role::kViewer,
                                        request.region_id(), "",
                                        "read the leaderboards of")
                      .status());

  v1::GetLeaderboardResponse response;
  response.set_region_id(request.region_id());
  response.set_period(request.period());
  response.set_star(request.star());
  BoardSlice slice;
  std::vector<RankedEntry> previous;
  if (request.snapshot()) {
    ASSIGN_OR_RETURN(
        *response.mutable_snapshot(),
        store_->GetSnapshot(request.region_id(), request.period()));
    ASSIGN_OR_RETURN(slice, store_->ReadFrozenBoard(board, offset, page_size));
    // Movement of a frozen board: against the previous month's frozen board
    // when there is one, else nothing (a frozen board never changes, so its
    // movement must not either).
    BoardKey prior = board;
    prior.period = PreviousMonth(board.period);
    absl::StatusOr<BoardSlice> prior_slice =
        store_->ReadFrozenBoard(prior, 0, kMaxPageSize * 1000);
    if (prior_slice.ok()) {
      previous = std::move(prior_slice->entries);
    } else if (!absl::IsNotFound(prior_slice.status())) {
      return prior_slice.status();
    }
  } else {
    ASSIGN_OR_RETURN(Ranked ranked, ReadLive(board, offset, page_size));
    slice = std::move(ranked.slice);
    previous = std::move(ranked.previous);
    response.set_degraded(ranked.degraded);
  }
  const absl::flat_hash_map<std::string, int> prev = RankMap(previous);
  response.set_total_villages(slice.total);
  for (const RankedEntry& entry : slice.entries) {
    *response.add_entries() = ToEntry(entry, prev);
  }
  const int next = offset + static_cast<int>(slice.entries.size());
  if (!slice.entries.empty() && next < slice.total) {
    response.set_next_page_token(EncodePageToken(filters, absl::StrCat(next)));
  }
  return response;
}

absl::StatusOr<std::string> Leaderboards::RankRegion(
    const std::vector<std::string>& lineage, const std::string& requested) {
  if (!requested.empty()) {
    if (std::find(lineage.begin() + 1, lineage.end(), requested) ==
        lineage.end()) {
      return FieldError(
          "region_id", absl::StrCat("region ", requested,
                                    " is not above village ", lineage.front()));
    }
    return requested;
  }
  for (size_t i = 1; i < lineage.size(); ++i) {
    ASSIGN_OR_RETURN(registry::v1::RegionKind kind,
                     jurisdiction_->directory()->RegionKindOf(lineage[i]));
    if (kind == registry::v1::TOWNSHIP) return lineage[i];
  }
  // A village outside any township (a pilot region): its own region.
  return lineage.size() > 1 ? lineage[1] : lineage.front();
}

absl::Status Leaderboards::KeepReadable(const Principal& principal,
                                        std::vector<RankedEntry>* entries) {
  std::vector<std::string> ids;
  for (const RankedEntry& entry : *entries) ids.push_back(entry.village_id);
  // One lookup for all of them (a batch for those not cached).
  ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> lineages,
                   jurisdiction_->directory()->VillageLineages(ids));
  std::vector<RankedEntry> kept;
  for (size_t i = 0; i < entries->size(); ++i) {
    // A village that has left the registry (an empty lineage) is nobody's
    // to read.
    if (absl::c_linear_search(lineages[i], principal.scope)) {
      kept.push_back(std::move((*entries)[i]));
    }
  }
  *entries = std::move(kept);
  return absl::OkStatus();
}

absl::StatusOr<v1::GetVillageRankResponse> Leaderboards::GetVillageRank(
    const Principal& principal, const v1::GetVillageRankRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  if (!request.region_id().empty()) {
    RETURN_IF_ERROR(ValidateId("region_id", request.region_id()));
  }
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateStar("star", request.star(), false));
  RETURN_IF_ERROR(
      ValidateRange("neighbours", request.neighbours(), 0, kMaxNeighbours));
  ASSIGN_OR_RETURN(
      std::vector<std::string> lineage,
      AuthorizeNamedVillage(*jurisdiction_, principal, Role::kViewer,
                            request.village_id(), "read the rank of"));
  ASSIGN_OR_RETURN(std::string region,
                   RankRegion(lineage, request.region_id()));
  const BoardKey board{region, request.period(), request.star()};

  // Not on the board means no recorded evaluation for the month, whichever
  // copy says so.
  const auto not_ranked = [&] {
    return absl::NotFoundError(absl::StrCat(
        "village ", request.village_id(), " has no recorded evaluation for ",
        request.period(), " (evaluate it first)"));
  };
  BoardNeighbourhood hood;
  bool degraded = true;
  if (cache_ != nullptr && cache_->available()) {
    absl::StatusOr<BoardNeighbourhood> cached = cache_->ReadNeighbourhood(
        board, request.village_id(), request.neighbours());
    if (cached.ok()) {
      hood = *std::move(cached);
      degraded = false;
    } else if (absl::IsNotFound(cached.status())) {
      return not_ranked();
    } else {
      CacheFailed(cached.status());
    }
  }
  if (degraded) {
    absl::StatusOr<BoardNeighbourhood> stored = store_->ReadNeighbourhood(
        board, request.village_id(), request.neighbours());
    if (absl::IsNotFound(stored.status())) return not_ranked();
    ASSIGN_OR_RETURN(hood, std::move(stored));
  }
  // A board above the principal's scope ranks villages it may not read:
  // it learns its village's place on the whole board, but of the
  // neighbours only those inside its scope.
  // (The lineage runs from the village up: a scope at or above the board's
  // region covers the whole board.)
  const auto board_at = std::find(lineage.begin(), lineage.end(), region);
  const auto scope_at =
      std::find(lineage.begin(), lineage.end(), principal.scope);
  if (!principal.is_global() && scope_at < board_at) {
    RETURN_IF_ERROR(KeepReadable(principal, &hood.above));
    RETURN_IF_ERROR(KeepReadable(principal, &hood.below));
  }
  std::vector<std::string> ids = {hood.entry.village_id};
  for (const RankedEntry& entry : hood.above) ids.push_back(entry.village_id);
  for (const RankedEntry& entry : hood.below) ids.push_back(entry.village_id);
  ASSIGN_OR_RETURN(std::vector<RankedEntry> previous,
                   PreviousRanks(board, ids, &degraded));
  if (degraded) degraded_reads_.Increment();
  const absl::flat_hash_map<std::string, int> prev = RankMap(previous);

  v1::GetVillageRankResponse response;
  response.set_region_id(region);
  response.set_period(request.period());
  response.set_star(request.star());
  response.set_total_villages(hood.total);
  *response.mutable_entry() = ToEntry(hood.entry, prev);
  for (const RankedEntry& entry : hood.above) {
    *response.add_above() = ToEntry(entry, prev);
  }
  for (const RankedEntry& entry : hood.below) {
    *response.add_below() = ToEntry(entry, prev);
  }
  response.set_degraded(degraded);
  return response;
}

absl::StatusOr<v1::LeaderboardSnapshot> Leaderboards::FreezeLeaderboard(
    const Principal& principal, const v1::FreezeLeaderboardRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("region_id", request.region_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateText("comment", request.comment(), 0, 1000));
  RETURN_IF_ERROR(jurisdiction_
                      ->AuthorizeRegion(principal, Role::kOperator,
                                        request.region_id(), "",
                                        "freeze the leaderboards of")
                      .status());
  v1::LeaderboardSnapshot snapshot;
  snapshot.set_region_id(request.region_id());
  snapshot.set_period(request.period());
  snapshot.set_creator(principal.name);
  snapshot.set_comment(request.comment());
  *snapshot.mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(clock_->Now()));
  return store_->FreezeBoards(snapshot);
}

void Leaderboards::Publish(
    const std::vector<Standing>& now,
    const std::vector<std::optional<Standing>>& previous) {
  // Not gated on available(): a cache that is down or re-syncing fails the
  // write at once and owes a re-sync, which then includes this standing.
  if (cache_ == nullptr) return;
  absl::ReaderMutexLock lock(&rebuild_mu_);
  bool failed = false;
  for (size_t i = 0; i < now.size(); ++i) {
    std::vector<Standing> before;
    if (i < previous.size() && previous[i].has_value()) {
      before.push_back(*previous[i]);
    }
    // After a failure the cache owes a re-sync and the rest fail at once;
    // they are still sent, so the near-cache drops every board they touch.
    absl::Status status = cache_->Write(now[i], before);
    if (!status.ok() && !failed) {
      failed = true;
      write_failures_.Increment();
      CacheFailed(status);
    }
  }
}

void Leaderboards::Unpublish(const std::vector<Standing>& removed) {
  if (cache_ == nullptr || removed.empty()) return;
  absl::ReaderMutexLock lock(&rebuild_mu_);
  absl::Status status = cache_->Remove(removed);
  if (!status.ok()) {
    write_failures_.Increment();
    CacheFailed(status);
  }
}

absl::Status Leaderboards::ReplaceBoardsUnder(const std::string& period,
                                              const std::string& top) {
  std::vector<Standing> standings;
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(
        std::vector<Standing> page,
        store_->ListStandingsUnder(top, period, after, kResyncPage));
    if (page.empty()) break;
    after = page.back().village_id;
    for (Standing& standing : page) standings.push_back(std::move(standing));
    if (static_cast<int>(page.size()) < kResyncPage) break;
  }
  return cache_->ReplaceBoards(period, standings);
}

void Leaderboards::RebuildBoardsUnder(
    const std::string& period, const absl::flat_hash_set<std::string>& tops) {
  if (cache_ == nullptr) return;
  absl::MutexLock lock(&rebuild_mu_);
  for (const std::string& top : tops) {
    absl::Status status = ReplaceBoardsUnder(period, top);
    if (!status.ok()) {
      write_failures_.Increment();
      CacheFailed(status);
      return;
    }
  }
}

absl::Status Leaderboards::Resync() {
  if (cache_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&rebuild_mu_);
  RETURN_IF_ERROR(cache_->Clear());
  ASSIGN_OR_RETURN(std::vector<std::string> periods, store_->StandingPeriods());
  // Top region by top region, so that what is held in memory at once is
  // one top region's boards (a province's), not a nation's.
  for (const std::string& period : periods) {
    ASSIGN_OR_RETURN(std::vector<std::string> tops,
                     store_->StandingTops(period));
    for (const std::string& top : tops) {
      RETURN_IF_ERROR(ReplaceBoardsUnder(period, top));
    }
  }
  resyncs_.Increment();
  spdlog::info("msg={} months={}",
               LogValue("leaderboard cache re-synced from the database"),
               periods.size());
  return absl::OkStatus();
}

}  // namespace fivestar::scoring
