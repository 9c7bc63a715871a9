// Storage of scoring's records, behind an interface so that the embedded
// SQLite store and a future PostgreSQL store are interchangeable: rubric
// versions, recorded evaluations (the system of record the leaderboards are
// computed from, and fall back to when Redis is unavailable), awards with
// their append-only event trail, leaderboard snapshots, and the cursors of
// the change feeds scoring follows.
//
// Every method is atomic. The store knows nothing of field rules, workflow
// rules or permissions: the logic classes above it decide, and hand it
// complete records to write; it compares etags and idempotency keys inside
// the write.
#ifndef FIVESTAR_SERVICES_SCORING_SCORING_STORE_H_
#define FIVESTAR_SERVICES_SCORING_SCORING_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/standing.h"

namespace fivestar::scoring {

// An idempotency key and the fingerprint of the request it was first used
// with; an empty `request_id` means none.
struct RequestKey {
  std::string request_id;
  std::string fingerprint;
};

// Where a follower stands in a peer's change feed: the feed's id (its
// database) and the last sequence fully applied.
struct FeedCursor {
  std::string feed_id;
  uint64_t sequence = 0;
};

// The cursor to store with a batch of results: `feed` names the followed
// feed ("projects" or "registry").
//
// `expected`, when set, fences the write: it is the cursor the batch was
// read after, and the write (the batch's results with it) fails with
// ABORTED, changing nothing, unless the stored cursor is still exactly
// that. So when two replicas follow at once for a moment (a lease holder
// that has not yet noticed it lost its lease), only one of them can apply
// each range of the feed; the other reads the stored cursor again.
struct CursorUpdate {
  std::string feed;
  FeedCursor cursor;
  std::optional<FeedCursor> expected;
};

// One evaluation to record as a village's standing for its month.
struct EvaluationRecord {
  v1::Evaluation evaluation;  // recorded = true, with its evaluate_time
  Standing standing;          // StandingOf(evaluation, lineage)
};

// What recording replaced: the village's previous standing for the month
// (its lineage tells which boards it was on), if any.
struct RecordOutcome {
  std::optional<Standing> previous;
};

// Which awards to list, ordered by (village id, star, create order), after
// `after` (the position of the last award of the previous page, empty for
// the first page), at most `limit`. Empty / unspecified filters match all.
struct AwardQuery {
  std::string village_id;
  // Only awards of villages whose lineage holds this region.
  std::string ancestor_region_id;
  fivestar::common::v1::Star star = fivestar::common::v1::STAR_UNSPECIFIED;
  v1::AwardState state = v1::AWARD_STATE_UNSPECIFIED;
  // Opaque position: what AwardPosition() gave for the last award seen.
  std::string after;
  int limit = 100;
};

// Which award events to list, in sequence order, after `after_sequence`.
struct AwardEventQuery {
  std::string award_id;
  std::string village_id;
  std::string ancestor_region_id;
  int64_t after_sequence = 0;
  int limit = 100;
};

// An award as stored, with the lineage of its village when it was created
// (for region filters) and its position in list order.
struct StoredAward {
  v1::Award award;
  std::vector<std::string> lineage;
  std::string position;  // opaque, for AwardQuery::after
};

// An award transition to write: the award after it (the store sets etag and
// update_time is the caller's), the event to append (the store assigns the
// sequence), and the etag the stored award must still have ("" = any).
struct AwardTransition {
  v1::Award award;
  v1::AwardEvent event;
  std::string expected_etag;
};

class ScoringStore {
 public:
  virtual ~ScoringStore() = default;

  // ---- Rubrics ----

  // Stores `rubric` as version (newest + 1) with its creator and
  // create_time as given; makes it active when `activate` or when it is
  // the first version. Returns it as stored.
  virtual absl::StatusOr<v1::Rubric> CreateRubric(const v1::Rubric& rubric,
                                                  bool activate) = 0;
  // One version; 0 means the active one. NOT_FOUND when there is none.
  virtual absl::StatusOr<v1::Rubric> GetRubric(int version) = 0;
  // Versions below `before_version` (0 = no bound), newest first, at most
  // `limit`.
  virtual absl::StatusOr<std::vector<v1::Rubric>> ListRubrics(
      int before_version, int limit) = 0;
  // Makes `version` the active one. NOT_FOUND when it does not exist.
  virtual absl::StatusOr<v1::Rubric> SetActiveRubric(int version) = 0;

  // ---- Evaluations and standings ----

  // Records each evaluation as its village's standing for its month,
  // replacing an earlier one, and — when `cursor` is set — stores the feed
  // cursor, all in one transaction. Returns one outcome per record, in
  // order.
  virtual absl::StatusOr<std::vector<RecordOutcome>> RecordEvaluations(
      const std::vector<EvaluationRecord>& records,
      const std::optional<CursorUpdate>& cursor) = 0;
  // Removes every recorded month of a village (it left the registry), and
  // stores `cursor` when set, in one transaction. Returns the standings
  // removed.
  virtual absl::StatusOr<std::vector<Standing>> RemoveVillage(
      const std::string& village_id,
      const std::optional<CursorUpdate>& cursor) = 0;
  // The recorded evaluation. NOT_FOUND when none.
  virtual absl::StatusOr<v1::Evaluation> GetEvaluation(
      const std::string& village_id, const std::string& period) = 0;
  // The months recorded for a village, ascending.
  virtual absl::StatusOr<std::vector<std::string>> RecordedPeriods(
      const std::string& village_id) = 0;
  // The villages with a standing whose lineage holds `region_id` (any
  // month), ascending; for re-evaluating a region that moved.
  virtual absl::StatusOr<std::vector<std::string>> VillagesWithStandings(
      const std::string& region_id) = 0;
  // Every month with at least one standing, ascending.
  virtual absl::StatusOr<std::vector<std::string>> StandingPeriods() = 0;
  // The standings of a month in village-id order after `after_village_id`,
  // at most `limit` (for re-building the cache page by page).
  virtual absl::StatusOr<std::vector<Standing>> ListStandings(
      const std::string& period, const std::string& after_village_id,
      int limit) = 0;
  // The top regions (the first of each lineage, e.g. the provinces) of a
  // month's standings, ascending.
  virtual absl::StatusOr<std::vector<std::string>> StandingTops(
      const std::string& period) = 0;
  // The same as ListStandings, of the villages on `region_id`'s board that
  // month (those whose lineage holds it): for re-building one region's
  // boards.
  virtual absl::StatusOr<std::vector<Standing>> ListStandingsUnder(
      const std::string& region_id, const std::string& period,
      const std::string& after_village_id, int limit) = 0;

  // ---- Leaderboards computed from the standings (the fallback) ----

  // Board entries `offset`..`offset + limit - 1` in board order, ranked over
  // the whole board, and the board's size.
  virtual absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board,
                                               int offset, int limit) = 0;
  // The ranks of some villages on a board; a village not on it is absent
  // from the result.
  virtual absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board, const std::vector<std::string>& village_ids) = 0;
  // A village's entry and up to `neighbours` entries on each side. NOT_FOUND
  // when the village is not on the board.
  virtual absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id, int neighbours) = 0;

  // ---- Snapshots ----

  // Freezes the region's six boards for the month as they stand (copying
  // their entries with ranks) together with `snapshot` (its
  // total_villages is set by the store). ALREADY_EXISTS when frozen before.
  virtual absl::StatusOr<v1::LeaderboardSnapshot> FreezeBoards(
      const v1::LeaderboardSnapshot& snapshot) = 0;
  // The snapshot of a region and month. NOT_FOUND when never frozen.
  virtual absl::StatusOr<v1::LeaderboardSnapshot> GetSnapshot(
      const std::string& region_id, const std::string& period) = 0;
  // Entries of a frozen board, as ReadBoard. NOT_FOUND when never frozen.
  virtual absl::StatusOr<BoardSlice> ReadFrozenBoard(const BoardKey& board,
                                                     int offset, int limit) = 0;

  // ---- Awards ----

  // Creates an award (the store assigns id, etag; create/update times are
  // the caller's) and appends its creating event, in one transaction.
  // ALREADY_EXISTS when the village holds the star (AWARDED) or has an
  // open application for it (APPLIED, TOWNSHIP_REVIEWED, COUNTY_APPROVED,
  // PUBLIC_NOTICE), or — with a request id — when the id was used with
  // another fingerprint; a retry with the same key and fingerprint returns
  // the award created the first time.
  virtual absl::StatusOr<v1::Award> CreateAward(
      const v1::Award& award, const std::vector<std::string>& lineage,
      const v1::AwardEvent& event, const RequestKey& key) = 0;
  virtual absl::StatusOr<StoredAward> GetAward(const std::string& id) = 0;
  // The award created with `request_id`; NOT_FOUND when none was.
  virtual absl::StatusOr<StoredAward> FindAwardByRequest(
      const std::string& request_id) = 0;
  // Applies a transition: ABORTED when the etag is stale; FAILED_PRECONDITION
  // when the stored state differs from `event.from_state` (a concurrent
  // transition won). Returns the award as stored (new etag).
  virtual absl::StatusOr<v1::Award> TransitionAward(
      const AwardTransition& transition) = 0;
  virtual absl::StatusOr<std::vector<StoredAward>> ListAwards(
      const AwardQuery& query) = 0;
  virtual absl::StatusOr<std::vector<v1::AwardEvent>> ListAwardEvents(
      const AwardEventQuery& query) = 0;
  // How many villages below `region_id` hold at least `min_level` AWARDED
  // stars now, counting also `extra_village_id` one star more (the award
  // being approved; empty for none).
  virtual absl::StatusOr<int> CountVillagesAtLevel(
      const std::string& region_id, int min_level,
      const std::string& extra_village_id) = 0;

  // ---- Feed cursors ----

  // The stored cursor of a followed feed; sequence 0 and an empty feed_id
  // when never stored.
  virtual absl::StatusOr<FeedCursor> GetCursor(const std::string& feed) = 0;
  // Stores a cursor alone (a batch of changes that needed no result).
  virtual absl::Status SetCursor(const CursorUpdate& cursor) = 0;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_SCORING_STORE_H_
