// ScoringStore on an SQL database: an embedded SQLite file (the default)
// or a PostgreSQL server. One code for both engines, instantiated for
// SqlitePool and PostgresPool.
#ifndef FIVESTAR_SERVICES_SCORING_SQL_SCORING_STORE_H_
#define FIVESTAR_SERVICES_SCORING_SQL_SCORING_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/postgres_pool.h"
#include "common/sql_audit.h"
#include "common/sqlite_pool.h"
#include "services/scoring/scoring_store.h"

namespace fivestar::scoring {

// Each row holds its record as serialized protobuf (so new optional fields
// need no migration) beside the indexed columns that queries filter and
// rank on. A standing is one row per (village, month) with its overall and
// per-star scores in columns, plus one board_members row per region of its
// lineage: a board is then an index range of board_members joined to the
// standings, ranked with window functions (cheap for a township, a full
// pass over the board for a province: this is the fallback when Redis is
// down, not the main read path). Frozen boards are copies with their ranks
// and positions, so reading them pages by primary key. Reads run on the
// pool's readers beside the writer; writes are group-committed (on
// SQLite).
//
// `Pool` is SqlitePool or PostgresPool (instantiated for both in the .cc).
template <typename Pool>
class SqlScoringStore final : public ScoringStore {
 public:
  using Database = typename Pool::Database;
  using Statement = typename Pool::Statement;

  // Opens `database` (an SQLite file's path or a PostgreSQL URI, as Pool
  // takes it) and brings its schema up to date. Every time the store
  // writes is its caller's; `clock` is kept for parity with the other
  // stores (and future expiry of request ids).
  static absl::StatusOr<std::unique_ptr<SqlScoringStore>> Open(
      const std::string& database, const Clock* clock);

  // The audit log kept in this store's database (its audit_events table),
  // sharing its writer so that audit events commit with the store's
  // writes.
  AuditStore* audit_store() { return &audit_; }

  // The connection set, for tests that hold a reader or the writer busy.
  Pool* pool_for_testing() { return pool_.get(); }

  absl::StatusOr<v1::Rubric> CreateRubric(const v1::Rubric& rubric,
                                          bool activate) override;
  absl::StatusOr<v1::Rubric> GetRubric(int version) override;
  absl::StatusOr<std::vector<v1::Rubric>> ListRubrics(int before_version,
                                                      int limit) override;
  absl::StatusOr<v1::Rubric> SetActiveRubric(int version) override;

  absl::StatusOr<std::vector<RecordOutcome>> RecordEvaluations(
      const std::vector<EvaluationRecord>& records,
      const std::optional<CursorUpdate>& cursor) override;
  absl::StatusOr<std::vector<Standing>> RemoveVillage(
      const std::string& village_id,
      const std::optional<CursorUpdate>& cursor) override;
  absl::StatusOr<v1::Evaluation> GetEvaluation(
      const std::string& village_id, const std::string& period) override;
  absl::StatusOr<std::vector<std::string>> RecordedPeriods(
      const std::string& village_id) override;
  absl::StatusOr<std::vector<std::string>> VillagesWithStandings(
      const std::string& region_id) override;
  absl::StatusOr<std::vector<std::string>> StandingPeriods() override;
  absl::StatusOr<std::vector<Standing>> ListStandings(
      const std::string& period, const std::string& after_village_id,
      int limit) override;
  absl::StatusOr<std::vector<std::string>> StandingTops(
      const std::string& period) override;
  absl::StatusOr<std::vector<Standing>> ListStandingsUnder(
      const std::string& region_id, const std::string& period,
      const std::string& after_village_id, int limit) override;

  absl::StatusOr<BoardSlice> ReadBoard(const BoardKey& board, int offset,
                                       int limit) override;
  absl::StatusOr<std::vector<RankedEntry>> RanksOf(
      const BoardKey& board,
      const std::vector<std::string>& village_ids) override;
  absl::StatusOr<BoardNeighbourhood> ReadNeighbourhood(
      const BoardKey& board, const std::string& village_id,
      int neighbours) override;

  absl::StatusOr<v1::LeaderboardSnapshot> FreezeBoards(
      const v1::LeaderboardSnapshot& snapshot) override;
  absl::StatusOr<v1::LeaderboardSnapshot> GetSnapshot(
      const std::string& region_id, const std::string& period) override;
  absl::StatusOr<BoardSlice> ReadFrozenBoard(const BoardKey& board, int offset,
                                             int limit) override;

  absl::StatusOr<v1::Award> CreateAward(const v1::Award& award,
                                        const std::vector<std::string>& lineage,
                                        const v1::AwardEvent& event,
                                        const RequestKey& key) override;
  absl::StatusOr<StoredAward> GetAward(const std::string& id) override;
  absl::StatusOr<StoredAward> FindAwardByRequest(
      const std::string& request_id) override;
  absl::StatusOr<v1::Award> TransitionAward(
      const AwardTransition& transition) override;
  absl::StatusOr<std::vector<StoredAward>> ListAwards(
      const AwardQuery& query) override;
  absl::StatusOr<std::vector<v1::AwardEvent>> ListAwardEvents(
      const AwardEventQuery& query) override;
  absl::StatusOr<int> CountVillagesAtLevel(
      const std::string& region_id, int min_level,
      const std::string& extra_village_id) override;

  absl::StatusOr<FeedCursor> GetCursor(const std::string& feed) override;
  absl::Status SetCursor(const CursorUpdate& cursor) override;

 private:
  SqlScoringStore(std::unique_ptr<Pool> pool, const Clock* clock)
      : pool_(std::move(pool)), clock_(clock) {}

  const std::unique_ptr<Pool> pool_;
  SqlAuditStore<Pool> audit_{pool_.get()};
  [[maybe_unused]] const Clock* clock_;
};

extern template class SqlScoringStore<SqlitePool>;
extern template class SqlScoringStore<PostgresPool>;

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_SQL_SCORING_STORE_H_
