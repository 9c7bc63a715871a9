#include "services/scoring/sql_scoring_store.h"

#include <google/protobuf/util/time_util.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/change_feed.h"
#include "common/check.h"
#include "common/output_fields.h"
#include "common/sql_audit.h"
#include "common/status.h"
#include "common/versioned_resource.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::Star;
using ::google::protobuf::util::TimeUtil;

// Award states as stored (AwardState numbers): an application is open in
// APPLIED (1) .. PUBLIC_NOTICE (4); AWARDED (5) is a held star. At most one
// award per village and star is in 1..5, which the partial unique index
// enforces beneath the explicit check CreateAward makes for its message.
const SchemaMigration kSqliteMigrations[] = {
    {1, "rubrics, standings and boards, snapshots, awards, feed cursors",
     R"sql(
CREATE TABLE rubrics (
  version INTEGER PRIMARY KEY,
  body BLOB NOT NULL
);
CREATE TABLE active_rubric (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  version INTEGER NOT NULL REFERENCES rubrics(version)
);
CREATE TABLE standings (
  village_id TEXT NOT NULL,
  period TEXT NOT NULL,
  rubric_version INTEGER NOT NULL,
  lineage_path TEXT NOT NULL,
  stars INTEGER NOT NULL,
  points INTEGER NOT NULL,
  earned_1 INTEGER NOT NULL, points_1 INTEGER NOT NULL,
  earned_2 INTEGER NOT NULL, points_2 INTEGER NOT NULL,
  earned_3 INTEGER NOT NULL, points_3 INTEGER NOT NULL,
  earned_4 INTEGER NOT NULL, points_4 INTEGER NOT NULL,
  earned_5 INTEGER NOT NULL, points_5 INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (village_id, period)
) WITHOUT ROWID;
CREATE INDEX standings_by_period ON standings(period, village_id);
CREATE TABLE board_members (
  region_id TEXT NOT NULL,
  period TEXT NOT NULL,
  village_id TEXT NOT NULL,
  PRIMARY KEY (region_id, period, village_id)
) WITHOUT ROWID;
CREATE INDEX board_members_by_village ON board_members(village_id, period);
CREATE TABLE snapshots (
  region_id TEXT NOT NULL,
  period TEXT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (region_id, period)
) WITHOUT ROWID;
CREATE TABLE snapshot_entries (
  region_id TEXT NOT NULL,
  period TEXT NOT NULL,
  star INTEGER NOT NULL,
  position INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  village_id TEXT NOT NULL,
  stars INTEGER NOT NULL,
  points INTEGER NOT NULL,
  PRIMARY KEY (region_id, period, star, position)
) WITHOUT ROWID;
CREATE TABLE awards (
  position INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  village_id TEXT NOT NULL,
  star INTEGER NOT NULL,
  state INTEGER NOT NULL,
  lineage_path TEXT NOT NULL,
  request_id TEXT UNIQUE,
  request_fingerprint TEXT,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX awards_in_order ON awards(village_id, star, position);
CREATE INDEX awards_by_state ON awards(state, village_id);
CREATE UNIQUE INDEX awards_one_live_per_star ON awards(village_id, star)
  WHERE state BETWEEN 1 AND 5;
CREATE TABLE award_events (
  sequence INTEGER PRIMARY KEY,
  award_id TEXT NOT NULL REFERENCES awards(id),
  village_id TEXT NOT NULL,
  lineage_path TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX award_events_by_award ON award_events(award_id, sequence);
CREATE INDEX award_events_by_village ON award_events(village_id, sequence);
CREATE TABLE feed_cursors (
  feed TEXT PRIMARY KEY,
  feed_id TEXT NOT NULL,
  sequence INTEGER NOT NULL
);
)sql"},
    {2, "audit log (append-only)", kAuditEventsSchema},
};

// The same schema on PostgreSQL, in one step: no PostgreSQL database
// predates it. Text keys compare bytewise (COLLATE "C"), as SQLite's do,
// so orders and paging are the same on both engines.
const SchemaMigration kPostgresMigrations[] = {
    {1, "rubrics, standings and boards, snapshots, awards, feed cursors",
     R"sql(
CREATE TABLE rubrics (
  version bigint PRIMARY KEY,
  body bytea NOT NULL
);
CREATE TABLE active_rubric (
  singleton integer PRIMARY KEY CHECK (singleton = 1),
  version bigint NOT NULL REFERENCES rubrics(version)
);
CREATE TABLE standings (
  village_id text COLLATE "C" NOT NULL,
  period text COLLATE "C" NOT NULL,
  rubric_version bigint NOT NULL,
  lineage_path text COLLATE "C" NOT NULL,
  stars integer NOT NULL,
  points bigint NOT NULL,
  earned_1 integer NOT NULL, points_1 bigint NOT NULL,
  earned_2 integer NOT NULL, points_2 bigint NOT NULL,
  earned_3 integer NOT NULL, points_3 bigint NOT NULL,
  earned_4 integer NOT NULL, points_4 bigint NOT NULL,
  earned_5 integer NOT NULL, points_5 bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (village_id, period)
);
CREATE INDEX standings_by_period ON standings(period, village_id);
CREATE TABLE board_members (
  region_id text COLLATE "C" NOT NULL,
  period text COLLATE "C" NOT NULL,
  village_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (region_id, period, village_id)
);
CREATE INDEX board_members_by_village ON board_members(village_id, period);
CREATE TABLE snapshots (
  region_id text COLLATE "C" NOT NULL,
  period text COLLATE "C" NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (region_id, period)
);
CREATE TABLE snapshot_entries (
  region_id text COLLATE "C" NOT NULL,
  period text COLLATE "C" NOT NULL,
  star integer NOT NULL,
  position bigint NOT NULL,
  rank bigint NOT NULL,
  village_id text COLLATE "C" NOT NULL,
  stars integer NOT NULL,
  points bigint NOT NULL,
  PRIMARY KEY (region_id, period, star, position)
);
CREATE TABLE awards (
  position bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL UNIQUE,
  village_id text COLLATE "C" NOT NULL,
  star integer NOT NULL,
  state integer NOT NULL,
  lineage_path text COLLATE "C" NOT NULL,
  request_id text COLLATE "C" UNIQUE,
  request_fingerprint text,
  version bigint NOT NULL,
  create_time_us bigint NOT NULL,
  update_time_us bigint NOT NULL,
  body bytea NOT NULL
);
CREATE INDEX awards_in_order ON awards(village_id, star, position);
CREATE INDEX awards_by_state ON awards(state, village_id);
CREATE UNIQUE INDEX awards_one_live_per_star ON awards(village_id, star)
  WHERE state BETWEEN 1 AND 5;
CREATE TABLE award_events (
  sequence bigint PRIMARY KEY,
  award_id text COLLATE "C" NOT NULL REFERENCES awards(id),
  village_id text COLLATE "C" NOT NULL,
  lineage_path text COLLATE "C" NOT NULL,
  body bytea NOT NULL
);
CREATE INDEX award_events_by_award ON award_events(award_id, sequence);
CREATE INDEX award_events_by_village ON award_events(village_id, sequence);
CREATE TABLE feed_cursors (
  feed text COLLATE "C" PRIMARY KEY,
  feed_id text NOT NULL,
  sequence bigint NOT NULL
);
)sql"},
    {2, "audit log (append-only)", kPostgresAuditEventsSchema},
};

constexpr int kAwarded = v1::AWARDED;

int64_t Micros(const google::protobuf::Timestamp& timestamp) {
  return TimeUtil::TimestampToMicroseconds(timestamp);
}

std::string StarName(Star star) {
  return fivestar::common::v1::Star_Name(star);
}

// --- Rubrics ---------------------------------------------------------------

// The stored body: the rubric without the fields derived on read.
std::string RubricBody(const v1::Rubric& rubric) {
  v1::Rubric copy = rubric;
  copy.clear_version();
  copy.clear_active();
  return DeterministicBytes(copy);
}

// Columns (version, body, is active).
template <typename Statement>
absl::StatusOr<v1::Rubric> ReadRubric(const Statement& stmt) {
  v1::Rubric rubric;
  if (!rubric.ParseFromString(stmt.ColumnBlob(1))) {
    return absl::DataLossError("stored rubric does not parse");
  }
  rubric.set_version(static_cast<int32_t>(stmt.ColumnInt64(0)));
  rubric.set_active(stmt.ColumnInt64(2) != 0);
  return rubric;
}

constexpr char kSelectRubric[] =
    "SELECT version, body, "
    "CASE WHEN version = (SELECT version FROM active_rubric) THEN 1 ELSE 0 "
    "END FROM rubrics ";

template <typename Database>
absl::StatusOr<v1::Rubric> LoadRubric(Database& db, int version) {
  ASSIGN_OR_RETURN(auto stmt,
                   db.Prepare(absl::StrCat(
                       kSelectRubric,
                       "WHERE version = CASE WHEN ?1 = 0 THEN "
                       "(SELECT version FROM active_rubric) ELSE ?1 END")));
  stmt.Bind(1, version);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    if (version == 0) return absl::NotFoundError("no rubric is active yet");
    return absl::NotFoundError(
        absl::StrCat("rubric version ", version, " not found"));
  }
  return ReadRubric(stmt);
}

template <typename Database>
absl::Status Activate(Database& db, int version) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare("INSERT INTO active_rubric(singleton, version) VALUES(1, ?) "
                 "ON CONFLICT(singleton) DO UPDATE SET version = "
                 "excluded.version"));
  return stmt.Bind(1, version).Run();
}

// --- Cursors -----------------------------------------------------------------

// The stored cursor of `feed`; sequence 0 and an empty feed_id when never
// stored.
template <typename Database>
absl::StatusOr<FeedCursor> ReadCursor(Database& db, const std::string& feed) {
  ASSIGN_OR_RETURN(auto stmt,
                   db.Prepare("SELECT feed_id, sequence FROM feed_cursors "
                              "WHERE feed = ?"));
  stmt.Bind(1, feed);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  FeedCursor cursor;
  if (row) {
    cursor.feed_id = stmt.ColumnText(0);
    cursor.sequence = static_cast<uint64_t>(stmt.ColumnInt64(1));
  }
  return cursor;
}

template <typename Database>
absl::Status WriteCursor(Database& db, const CursorUpdate& cursor) {
  if (cursor.expected.has_value()) {
    // In the write's transaction, under the writer lock: no other write
    // can move the cursor between this check and the update.
    ASSIGN_OR_RETURN(FeedCursor now, ReadCursor(db, cursor.feed));
    if (now.feed_id != cursor.expected->feed_id ||
        now.sequence != cursor.expected->sequence) {
      return absl::AbortedError(absl::StrCat(
          "feed ", cursor.feed, ": the stored cursor is at ", now.sequence,
          " of feed \"", now.feed_id, "\", not at ", cursor.expected->sequence,
          " of \"", cursor.expected->feed_id,
          "\" where this batch began: another follower applied it "
          "meanwhile"));
    }
  }
  ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare("INSERT INTO feed_cursors(feed, feed_id, sequence) "
                 "VALUES(?, ?, ?) ON CONFLICT(feed) DO UPDATE SET "
                 "feed_id = excluded.feed_id, sequence = excluded.sequence"));
  return stmt.Bind(1, cursor.feed)
      .Bind(2, cursor.cursor.feed_id)
      .Bind(3, static_cast<int64_t>(cursor.cursor.sequence))
      .Run();
}

// --- Standings and boards ----------------------------------------------------

constexpr char kStandingColumns[] =
    "village_id, period, rubric_version, lineage_path, stars, points, "
    "earned_1, points_1, earned_2, points_2, earned_3, points_3, "
    "earned_4, points_4, earned_5, points_5";

// Columns kStandingColumns from `first`.
template <typename Statement>
Standing ReadStanding(const Statement& stmt, int first = 0) {
  Standing standing;
  standing.village_id = stmt.ColumnText(first);
  standing.period = stmt.ColumnText(first + 1);
  standing.rubric_version = static_cast<int>(stmt.ColumnInt64(first + 2));
  standing.lineage = LineageOfPath(stmt.ColumnText(first + 3));
  standing.stars = static_cast<int>(stmt.ColumnInt64(first + 4));
  standing.points = static_cast<int>(stmt.ColumnInt64(first + 5));
  for (int i = 0; i < 5; ++i) {
    standing.per_star[i].earned = stmt.ColumnInt64(first + 6 + 2 * i) != 0;
    standing.per_star[i].points =
        static_cast<int>(stmt.ColumnInt64(first + 7 + 2 * i));
  }
  return standing;
}

template <typename Statement>
absl::StatusOr<std::vector<Standing>> ReadStandings(Statement& stmt) {
  std::vector<Standing> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(ReadStanding(stmt));
  }
  return out;
}

template <typename Statement>
absl::StatusOr<std::vector<std::string>> ReadTexts(Statement& stmt) {
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.ColumnText(0));
  }
  return out;
}

// The (stars, points) columns of a board of `star` on the standings aliased
// `s`: overall, or (earned ? 1 : 0, that star's points) for one star.
absl::StatusOr<std::string> ScoreColumns(Star star) {
  if (star == fivestar::common::v1::STAR_UNSPECIFIED) {
    return std::string("s.stars, s.points");
  }
  const int number = static_cast<int>(star);
  if (number < 1 || number > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "board.star: must be a star or STAR_UNSPECIFIED, got ", number));
  }
  return absl::StrCat("s.earned_", number, ", s.points_", number);
}

// A WITH clause defining `ranked(village_id, stars, points, rank, pos)`: the
// live board of region ?1 and month ?2 in board order, pos counting from 1.
// ?3 is the frozen variant's (the star); statements number their own
// parameters from ?4.
absl::StatusOr<std::string> LiveRankedSql(Star star) {
  ASSIGN_OR_RETURN(std::string score, ScoreColumns(star));
  // MATERIALIZED: the neighbourhood query reads `ranked` twice, and ranking
  // a province's board twice would double the cost of the fallback.
  return absl::StrCat(
      "WITH board(village_id, stars, points) AS (SELECT s.village_id, ", score,
      " FROM board_members m JOIN standings s ON s.village_id = m.village_id "
      "AND s.period = m.period WHERE m.region_id = ?1 AND m.period = ?2), "
      "ranked AS MATERIALIZED (SELECT village_id, stars, points, "
      "RANK() OVER (ORDER BY stars DESC, points DESC) AS rank, "
      "ROW_NUMBER() OVER (ORDER BY stars DESC, points DESC, village_id) "
      "AS pos FROM board) ");
}

// As LiveRankedSql, from the frozen copy of the board of star ?3.
std::string FrozenRankedSql() {
  return "WITH ranked AS (SELECT village_id, stars, points, rank, "
         "position AS pos FROM snapshot_entries WHERE region_id = ?1 AND "
         "period = ?2 AND star = ?3) ";
}

absl::StatusOr<std::string> RankedSql(const BoardKey& board, bool frozen) {
  if (frozen) {
    // Still reject a bad star, as the live board does.
    RETURN_IF_ERROR(ScoreColumns(board.star).status());
    return FrozenRankedSql();
  }
  return LiveRankedSql(board.star);
}

// Binds ?1 and ?2, and ?3 for a frozen board (a live board's statements
// leave ?3 out, the star being in the SQL).
template <typename Statement>
void BindBoard(Statement& stmt, const BoardKey& board, bool frozen) {
  stmt.Bind(1, board.region_id).Bind(2, board.period);
  if (frozen) stmt.Bind(3, static_cast<int>(board.star));
}

// Columns (rank, village_id, stars, points) from `first`.
template <typename Statement>
RankedEntry ReadEntry(const Statement& stmt, int first = 0) {
  RankedEntry entry;
  entry.rank = static_cast<int>(stmt.ColumnInt64(first));
  entry.village_id = stmt.ColumnText(first + 1);
  entry.stars = static_cast<int>(stmt.ColumnInt64(first + 2));
  entry.points = static_cast<int>(stmt.ColumnInt64(first + 3));
  return entry;
}

template <typename Database>
absl::StatusOr<int> BoardSize(Database& db, const BoardKey& board,
                              bool frozen) {
  ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare(frozen ? "SELECT COUNT(*) FROM snapshot_entries WHERE "
                          "region_id = ?1 AND period = ?2 AND star = ?3"
                        : "SELECT COUNT(*) FROM board_members WHERE "
                          "region_id = ?1 AND period = ?2"));
  BindBoard(stmt, board, frozen);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  FIVESTAR_CHECK(row, "COUNT(*) returned no row");
  return static_cast<int>(stmt.ColumnInt64(0));
}

template <typename Database>
absl::StatusOr<BoardSlice> ReadSlice(Database& db, const BoardKey& board,
                                     bool frozen, int offset, int limit) {
  BoardSlice slice;
  ASSIGN_OR_RETURN(slice.total, BoardSize(db, board, frozen));
  if (limit <= 0 || offset >= slice.total) return slice;
  ASSIGN_OR_RETURN(std::string ranked, RankedSql(board, frozen));
  ASSIGN_OR_RETURN(auto stmt, db.Prepare(absl::StrCat(
                                  ranked,
                                  "SELECT rank, village_id, stars, points FROM "
                                  "ranked WHERE pos > ?4 AND pos <= ?4 + ?5 "
                                  "ORDER BY pos")));
  BindBoard(stmt, board, frozen);
  stmt.Bind(4, static_cast<int64_t>(offset < 0 ? 0 : offset))
      .Bind(5, static_cast<int64_t>(limit));
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    slice.entries.push_back(ReadEntry(stmt));
  }
  return slice;
}

// Where a board lives, for messages.
std::string BoardName(const BoardKey& board) {
  return absl::StrCat("the ",
                      board.star == fivestar::common::v1::STAR_UNSPECIFIED
                          ? std::string("overall")
                          : StarName(board.star),
                      " board of region ", board.region_id, " for ",
                      board.period);
}

// --- Snapshots ---------------------------------------------------------------

template <typename Database>
absl::StatusOr<v1::LeaderboardSnapshot> LoadSnapshot(
    Database& db, const std::string& region_id, const std::string& period) {
  ASSIGN_OR_RETURN(auto stmt,
                   db.Prepare("SELECT body FROM snapshots WHERE region_id = ? "
                              "AND period = ?"));
  stmt.Bind(1, region_id).Bind(2, period);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("the boards of region ", region_id,
                                            " for ", period,
                                            " were never frozen"));
  }
  v1::LeaderboardSnapshot snapshot;
  if (!snapshot.ParseFromString(stmt.ColumnBlob(0))) {
    return absl::DataLossError("stored snapshot does not parse");
  }
  return snapshot;
}

// --- Awards ------------------------------------------------------------------

constexpr char kSelectAward[] =
    "SELECT body, version, create_time_us, update_time_us, lineage_path, "
    "position, request_fingerprint FROM awards ";

// The stored body: the award without the fields kept in columns.
std::string AwardBody(const v1::Award& award) {
  v1::Award copy = award;
  ClearVersionFields(&copy);
  return DeterministicBytes(copy);
}

// Columns as kSelectAward.
template <typename Statement>
absl::StatusOr<StoredAward> ReadAward(const Statement& stmt) {
  StoredAward stored;
  ASSIGN_OR_RETURN(stored.award, ReadVersionedResource<v1::Award>(stmt));
  stored.lineage = LineageOfPath(stmt.ColumnText(4));
  stored.position = absl::StrCat(stmt.ColumnInt64(5));
  return stored;
}

template <typename Database>
absl::StatusOr<StoredAward> LoadAward(Database& db, const std::string& id) {
  ASSIGN_OR_RETURN(auto stmt,
                   db.Prepare(absl::StrCat(kSelectAward, "WHERE id = ?")));
  stmt.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat("award ", id, " not found"));
  return ReadAward(stmt);
}

// Appends `event` of `award` to the trail; returns its sequence.
template <typename Database>
absl::StatusOr<int64_t> AppendEvent(Database& db, const v1::Award& award,
                                    const std::string& lineage_path,
                                    v1::AwardEvent event) {
  event.clear_sequence();
  event.set_award_id(award.id());
  event.set_village_id(award.village_id());
  event.set_star(award.star());
  ASSIGN_OR_RETURN(
      auto stmt,
      db.Prepare("INSERT INTO award_events(sequence, award_id, village_id, "
                 "lineage_path, body) VALUES((SELECT COALESCE(MAX(sequence), "
                 "0) + 1 FROM award_events), ?, ?, ?, ?) RETURNING sequence"));
  stmt.Bind(1, award.id())
      .Bind(2, award.village_id())
      .Bind(3, lineage_path)
      .BindBlob(4, DeterministicBytes(event));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  FIVESTAR_CHECK(row, "award event insert returned no sequence");
  return stmt.ColumnInt64(0);
}

}  // namespace

template <typename Pool>
absl::StatusOr<std::unique_ptr<SqlScoringStore<Pool>>>
SqlScoringStore<Pool>::Open(const std::string& database, const Clock* clock) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<Pool> pool,
      Pool::Open(database, MigrationsFor(Pool::kEngine, kSqliteMigrations,
                                         kPostgresMigrations)));
  return std::unique_ptr<SqlScoringStore>(
      new SqlScoringStore(std::move(pool), clock));
}

// --- Rubrics -----------------------------------------------------------------

template <typename Pool>
absl::StatusOr<v1::Rubric> SqlScoringStore<Pool>::CreateRubric(
    const v1::Rubric& rubric, bool activate) {
  return pool_->Write([&](Database& db) -> absl::StatusOr<v1::Rubric> {
    // Numbered inside the write: writes run one at a time, so two creates
    // never pick the same version.
    ASSIGN_OR_RETURN(
        Statement insert,
        db.Prepare("INSERT INTO rubrics(version, body) VALUES("
                   "(SELECT COALESCE(MAX(version), 0) + 1 FROM rubrics), ?) "
                   "RETURNING version"));
    insert.BindBlob(1, RubricBody(rubric));
    ASSIGN_OR_RETURN(bool row, insert.Step());
    FIVESTAR_CHECK(row, "rubric insert returned no version");
    const int version = static_cast<int>(insert.ColumnInt64(0));
    ASSIGN_OR_RETURN(Statement active,
                     db.Prepare("SELECT COUNT(*) FROM active_rubric"));
    ASSIGN_OR_RETURN(row, active.Step());
    FIVESTAR_CHECK(row, "COUNT(*) returned no row");
    if (activate || active.ColumnInt64(0) == 0) {
      RETURN_IF_ERROR(Activate(db, version));
    }
    return LoadRubric(db, version);
  });
}

template <typename Pool>
absl::StatusOr<v1::Rubric> SqlScoringStore<Pool>::GetRubric(int version) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<v1::Rubric> {
    return LoadRubric(db, version);
  });
}

template <typename Pool>
absl::StatusOr<std::vector<v1::Rubric>> SqlScoringStore<Pool>::ListRubrics(
    int before_version, int limit) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<v1::Rubric>> {
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(kSelectRubric,
                                    "WHERE ?1 = 0 OR version < ?1 "
                                    "ORDER BY version DESC LIMIT ?2")));
        stmt.Bind(1, before_version).Bind(2, limit);
        std::vector<v1::Rubric> out;
        while (true) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          ASSIGN_OR_RETURN(v1::Rubric rubric, ReadRubric(stmt));
          out.push_back(std::move(rubric));
        }
        return out;
      });
}

template <typename Pool>
absl::StatusOr<v1::Rubric> SqlScoringStore<Pool>::SetActiveRubric(int version) {
  return pool_->Write([&](Database& db) -> absl::StatusOr<v1::Rubric> {
    if (version <= 0) {
      return absl::NotFoundError(
          absl::StrCat("rubric version ", version, " not found"));
    }
    RETURN_IF_ERROR(LoadRubric(db, version).status());
    RETURN_IF_ERROR(Activate(db, version));
    return LoadRubric(db, version);
  });
}

// --- Evaluations and standings -----------------------------------------------

template <typename Pool>
absl::StatusOr<std::vector<RecordOutcome>>
SqlScoringStore<Pool>::RecordEvaluations(
    const std::vector<EvaluationRecord>& records,
    const std::optional<CursorUpdate>& cursor) {
  return pool_->Write([&](Database& db)
                          -> absl::StatusOr<std::vector<RecordOutcome>> {
    std::vector<RecordOutcome> outcomes;
    outcomes.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const v1::Evaluation& evaluation = records[i].evaluation;
      const Standing& standing = records[i].standing;
      // The caller builds both with StandingOf; a mismatch is its bug, and
      // writing it would put the village on boards it is not on.
      if (standing.village_id.empty() ||
          standing.village_id != evaluation.village_id() ||
          standing.period != evaluation.period() || standing.lineage.empty() ||
          standing.lineage.front() != standing.village_id) {
        return absl::InternalError(absl::StrCat(
            "records[", i, "]: the standing (village ", standing.village_id,
            ", ", standing.period, ", lineage of ", standing.lineage.size(),
            ") does not match its evaluation (village ",
            evaluation.village_id(), ", ", evaluation.period(), ")"));
      }
      const std::string path = LineagePath(standing.lineage);

      RecordOutcome outcome;
      ASSIGN_OR_RETURN(
          Statement previous,
          db.Prepare(absl::StrCat("SELECT ", kStandingColumns,
                                  " FROM standings WHERE village_id = ? AND "
                                  "period = ?")));
      previous.Bind(1, standing.village_id).Bind(2, standing.period);
      ASSIGN_OR_RETURN(bool found, previous.Step());
      if (found) outcome.previous = ReadStanding(previous);

      ASSIGN_OR_RETURN(
          Statement put,
          db.Prepare(absl::StrCat(
              "INSERT INTO standings(", kStandingColumns,
              ", body) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
              "?) ON CONFLICT(village_id, period) DO UPDATE SET "
              "rubric_version = excluded.rubric_version, "
              "lineage_path = excluded.lineage_path, stars = excluded.stars, "
              "points = excluded.points, earned_1 = excluded.earned_1, "
              "points_1 = excluded.points_1, earned_2 = excluded.earned_2, "
              "points_2 = excluded.points_2, earned_3 = excluded.earned_3, "
              "points_3 = excluded.points_3, earned_4 = excluded.earned_4, "
              "points_4 = excluded.points_4, earned_5 = excluded.earned_5, "
              "points_5 = excluded.points_5, body = excluded.body")));
      put.Bind(1, standing.village_id)
          .Bind(2, standing.period)
          .Bind(3, standing.rubric_version)
          .Bind(4, path)
          .Bind(5, standing.stars)
          .Bind(6, standing.points);
      for (int s = 0; s < 5; ++s) {
        put.Bind(7 + 2 * s, standing.per_star[s].earned ? 1 : 0)
            .Bind(8 + 2 * s, standing.per_star[s].points);
      }
      put.BindBlob(17, DeterministicBytes(evaluation));
      RETURN_IF_ERROR(put.Run());

      // The board memberships change only when the lineage did.
      const bool moved = !outcome.previous.has_value() ||
                         outcome.previous->lineage != standing.lineage;
      if (moved) {
        ASSIGN_OR_RETURN(Statement leave,
                         db.Prepare("DELETE FROM board_members WHERE "
                                    "village_id = ? AND period = ?"));
        RETURN_IF_ERROR(
            leave.Bind(1, standing.village_id).Bind(2, standing.period).Run());
        for (size_t r = 1; r < standing.lineage.size(); ++r) {
          ASSIGN_OR_RETURN(
              Statement join,
              db.Prepare("INSERT INTO board_members(region_id, period, "
                         "village_id) VALUES(?, ?, ?) ON CONFLICT DO NOTHING"));
          RETURN_IF_ERROR(join.Bind(1, standing.lineage[r])
                              .Bind(2, standing.period)
                              .Bind(3, standing.village_id)
                              .Run());
        }
      }
      outcomes.push_back(std::move(outcome));
    }
    if (cursor.has_value()) RETURN_IF_ERROR(WriteCursor(db, *cursor));
    return outcomes;
  });
}

template <typename Pool>
absl::StatusOr<std::vector<Standing>> SqlScoringStore<Pool>::RemoveVillage(
    const std::string& village_id, const std::optional<CursorUpdate>& cursor) {
  return pool_->Write(
      [&](Database& db) -> absl::StatusOr<std::vector<Standing>> {
        ASSIGN_OR_RETURN(
            Statement select,
            db.Prepare(absl::StrCat("SELECT ", kStandingColumns,
                                    " FROM standings WHERE village_id = ? "
                                    "ORDER BY period")));
        select.Bind(1, village_id);
        ASSIGN_OR_RETURN(std::vector<Standing> removed, ReadStandings(select));
        ASSIGN_OR_RETURN(
            Statement leave,
            db.Prepare("DELETE FROM board_members WHERE village_id = ?"));
        RETURN_IF_ERROR(leave.Bind(1, village_id).Run());
        ASSIGN_OR_RETURN(
            Statement drop,
            db.Prepare("DELETE FROM standings WHERE village_id = ?"));
        RETURN_IF_ERROR(drop.Bind(1, village_id).Run());
        if (cursor.has_value()) RETURN_IF_ERROR(WriteCursor(db, *cursor));
        return removed;
      });
}

template <typename Pool>
absl::StatusOr<v1::Evaluation> SqlScoringStore<Pool>::GetEvaluation(
    const std::string& village_id, const std::string& period) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<v1::Evaluation> {
    ASSIGN_OR_RETURN(Statement stmt,
                     db.Prepare("SELECT body FROM standings WHERE "
                                "village_id = ? AND period = ?"));
    stmt.Bind(1, village_id).Bind(2, period);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::NotFoundError(absl::StrCat(
          "village ", village_id, " has no recorded evaluation for ", period));
    }
    v1::Evaluation evaluation;
    if (!evaluation.ParseFromString(stmt.ColumnBlob(0))) {
      return absl::DataLossError("stored evaluation does not parse");
    }
    return evaluation;
  });
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>> SqlScoringStore<Pool>::RecordedPeriods(
    const std::string& village_id) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<std::string>> {
        ASSIGN_OR_RETURN(Statement stmt,
                         db.Prepare("SELECT period FROM standings WHERE "
                                    "village_id = ? ORDER BY period"));
        stmt.Bind(1, village_id);
        return ReadTexts(stmt);
      });
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>>
SqlScoringStore<Pool>::VillagesWithStandings(const std::string& region_id) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<std::string>> {
        ASSIGN_OR_RETURN(Statement stmt,
                         db.Prepare("SELECT DISTINCT village_id FROM "
                                    "board_members WHERE region_id = ? "
                                    "ORDER BY village_id"));
        stmt.Bind(1, region_id);
        return ReadTexts(stmt);
      });
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>>
SqlScoringStore<Pool>::StandingPeriods() {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<std::string>> {
        // One index seek per month (to the first standing after the previous
        // month) rather than a DISTINCT over every standing ever recorded.
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare("WITH RECURSIVE months(period) AS ("
                       "SELECT MIN(period) FROM standings UNION ALL "
                       "SELECT (SELECT MIN(period) FROM standings s "
                       "WHERE s.period > months.period) FROM months "
                       "WHERE months.period IS NOT NULL) "
                       "SELECT period FROM months WHERE period IS NOT NULL"));
        return ReadTexts(stmt);
      });
}

template <typename Pool>
absl::StatusOr<std::vector<Standing>> SqlScoringStore<Pool>::ListStandings(
    const std::string& period, const std::string& after_village_id, int limit) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<Standing>> {
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(
                "SELECT ", kStandingColumns,
                " FROM standings WHERE period = ? AND village_id > ? "
                "ORDER BY village_id LIMIT ?")));
        stmt.Bind(1, period).Bind(2, after_village_id).Bind(3, limit);
        return ReadStandings(stmt);
      });
}

template <typename Pool>
absl::StatusOr<std::vector<std::string>> SqlScoringStore<Pool>::StandingTops(
    const std::string& period) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<std::string>> {
        // lineage_path is "/<top>/.../<village>/" (LineagePath).
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(
                "SELECT DISTINCT ",
                Pool::kEngine == SqlEngine::kSqlite
                    ? "substr(lineage_path, 2, "
                      "instr(substr(lineage_path, 2), '/') - 1)"
                    : "split_part(lineage_path, '/', 2)",
                " AS top FROM standings WHERE period = ? ORDER BY top")));
        stmt.Bind(1, period);
        return ReadTexts(stmt);
      });
}

template <typename Pool>
absl::StatusOr<std::vector<Standing>> SqlScoringStore<Pool>::ListStandingsUnder(
    const std::string& region_id, const std::string& period,
    const std::string& after_village_id, int limit) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<Standing>> {
        // The board's members are one range of board_members' key; each
        // standing is then one lookup by its own key.
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(
                "SELECT ", kStandingColumns,
                " FROM standings WHERE period = ?1 AND village_id IN ("
                "SELECT village_id FROM board_members WHERE region_id = ?2 "
                "AND period = ?1 AND village_id > ?3 ORDER BY village_id "
                "LIMIT ?4) ORDER BY village_id")));
        stmt.Bind(1, period)
            .Bind(2, region_id)
            .Bind(3, after_village_id)
            .Bind(4, limit);
        return ReadStandings(stmt);
      });
}

// --- Leaderboards ------------------------------------------------------------

template <typename Pool>
absl::StatusOr<BoardSlice> SqlScoringStore<Pool>::ReadBoard(
    const BoardKey& board, int offset, int limit) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<BoardSlice> {
    return ReadSlice(db, board, /*frozen=*/false, offset, limit);
  });
}

template <typename Pool>
absl::StatusOr<std::vector<RankedEntry>> SqlScoringStore<Pool>::RanksOf(
    const BoardKey& board, const std::vector<std::string>& village_ids) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<RankedEntry>> {
        std::vector<RankedEntry> out;
        if (village_ids.empty()) return out;
        ASSIGN_OR_RETURN(std::string ranked, LiveRankedSql(board.star));
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(
                ranked,
                "SELECT rank, village_id, stars, points FROM ranked WHERE "
                "village_id IN ",
                JsonTextList(Pool::kEngine, 4),
                " "
                "ORDER BY pos")));
        BindBoard(stmt, board, /*frozen=*/false);
        stmt.Bind(4, SqliteJsonArray(village_ids));
        while (true) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          out.push_back(ReadEntry(stmt));
        }
        return out;
      });
}

template <typename Pool>
absl::StatusOr<BoardNeighbourhood> SqlScoringStore<Pool>::ReadNeighbourhood(
    const BoardKey& board, const std::string& village_id, int neighbours) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<BoardNeighbourhood> {
    BoardNeighbourhood out;
    ASSIGN_OR_RETURN(out.total, BoardSize(db, board, /*frozen=*/false));
    ASSIGN_OR_RETURN(std::string ranked, LiveRankedSql(board.star));
    ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare(absl::StrCat(
            ranked,
            ", me AS (SELECT pos FROM ranked WHERE village_id = ?4) "
            "SELECT r.rank, r.village_id, r.stars, r.points, "
            "r.pos - me.pos FROM ranked r, me WHERE r.pos BETWEEN "
            "me.pos - ?5 AND me.pos + ?5 ORDER BY r.pos")));
    BindBoard(stmt, board, /*frozen=*/false);
    stmt.Bind(4, village_id)
        .Bind(5, static_cast<int64_t>(neighbours < 0 ? 0 : neighbours));
    bool found = false;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      const int64_t offset = stmt.ColumnInt64(4);
      if (offset < 0) {
        out.above.push_back(ReadEntry(stmt));
      } else if (offset == 0) {
        out.entry = ReadEntry(stmt);
        found = true;
      } else {
        out.below.push_back(ReadEntry(stmt));
      }
    }
    if (!found) {
      return absl::NotFoundError(absl::StrCat("village ", village_id,
                                              " is not on ", BoardName(board)));
    }
    return out;
  });
}

// --- Snapshots ---------------------------------------------------------------

template <typename Pool>
absl::StatusOr<v1::LeaderboardSnapshot> SqlScoringStore<Pool>::FreezeBoards(
    const v1::LeaderboardSnapshot& snapshot) {
  return pool_->Write(
      [&](Database& db) -> absl::StatusOr<v1::LeaderboardSnapshot> {
        BoardKey overall{snapshot.region_id(), snapshot.period(),
                         fivestar::common::v1::STAR_UNSPECIFIED};
        v1::LeaderboardSnapshot stored = snapshot;
        ASSIGN_OR_RETURN(int total, BoardSize(db, overall, /*frozen=*/false));
        stored.set_total_villages(total);
        ASSIGN_OR_RETURN(Statement insert,
                         db.Prepare("INSERT INTO snapshots(region_id, period, "
                                    "body) VALUES(?, ?, ?)"));
        absl::Status status = insert.Bind(1, stored.region_id())
                                  .Bind(2, stored.period())
                                  .BindBlob(3, DeterministicBytes(stored))
                                  .Run();
        if (absl::IsAlreadyExists(status)) {
          return absl::AlreadyExistsError(
              absl::StrCat("the boards of region ", stored.region_id(), " for ",
                           stored.period(), " are already frozen"));
        }
        RETURN_IF_ERROR(status);
        for (int number = 0; number <= 5; ++number) {
          BoardKey board = overall;
          board.star = static_cast<Star>(number);
          ASSIGN_OR_RETURN(std::string ranked, LiveRankedSql(board.star));
          ASSIGN_OR_RETURN(
              Statement copy,
              db.Prepare(absl::StrCat(
                  ranked,
                  "INSERT INTO snapshot_entries(region_id, period, star, "
                  "position, rank, village_id, stars, points) SELECT ?1, ?2, "
                  "CAST(?3 AS INTEGER), pos, rank, village_id, stars, points "
                  "FROM ranked")));
          BindBoard(copy, board, /*frozen=*/false);
          copy.Bind(3, number);
          RETURN_IF_ERROR(copy.Run());
        }
        return stored;
      });
}

template <typename Pool>
absl::StatusOr<v1::LeaderboardSnapshot> SqlScoringStore<Pool>::GetSnapshot(
    const std::string& region_id, const std::string& period) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<v1::LeaderboardSnapshot> {
        return LoadSnapshot(db, region_id, period);
      });
}

template <typename Pool>
absl::StatusOr<BoardSlice> SqlScoringStore<Pool>::ReadFrozenBoard(
    const BoardKey& board, int offset, int limit) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<BoardSlice> {
    RETURN_IF_ERROR(LoadSnapshot(db, board.region_id, board.period).status());
    return ReadSlice(db, board, /*frozen=*/true, offset, limit);
  });
}

// --- Awards ------------------------------------------------------------------

template <typename Pool>
absl::StatusOr<v1::Award> SqlScoringStore<Pool>::CreateAward(
    const v1::Award& award, const std::vector<std::string>& lineage,
    const v1::AwardEvent& event, const RequestKey& key) {
  return pool_->Write([&](Database& db) -> absl::StatusOr<v1::Award> {
    // The request id is looked up inside the write, so a retry racing its
    // first attempt finds it committed or not at all: no second award.
    if (!key.request_id.empty()) {
      ASSIGN_OR_RETURN(
          Statement earlier,
          db.Prepare(absl::StrCat(kSelectAward, "WHERE request_id = ?")));
      earlier.Bind(1, key.request_id);
      ASSIGN_OR_RETURN(bool row, earlier.Step());
      if (row) {
        ASSIGN_OR_RETURN(StoredAward stored, ReadAward(earlier));
        if (earlier.ColumnText(6) != key.fingerprint) {
          return absl::AlreadyExistsError(absl::StrCat(
              "request_id ", key.request_id, " was already used for award ",
              stored.award.id(), " with a different request"));
        }
        return std::move(stored.award);
      }
    }
    ASSIGN_OR_RETURN(
        Statement live,
        db.Prepare("SELECT id, state FROM awards WHERE village_id = ? AND "
                   "star = ? AND state BETWEEN 1 AND 5"));
    live.Bind(1, award.village_id()).Bind(2, static_cast<int>(award.star()));
    ASSIGN_OR_RETURN(bool held, live.Step());
    if (held) {
      const std::string id = live.ColumnText(0);
      if (live.ColumnInt64(1) == kAwarded) {
        return absl::AlreadyExistsError(
            absl::StrCat("village ", award.village_id(), " already holds star ",
                         StarName(award.star()), " (award ", id, ")"));
      }
      return absl::AlreadyExistsError(absl::StrCat(
          "village ", award.village_id(),
          " already has an open application for star ", StarName(award.star()),
          " (award ", id, ", ",
          v1::AwardState_Name(static_cast<v1::AwardState>(live.ColumnInt64(1))),
          ")"));
    }

    v1::Award stored = award;
    // 80 random bits: collisions are negligible, and the UNIQUE constraint
    // catches one anyway.
    ASSIGN_OR_RETURN(Statement random, db.Prepare(RandomIdSql(Pool::kEngine)));
    RETURN_IF_ERROR(random.Step().status());
    stored.set_id(absl::StrCat("aw-", random.ColumnText(0)));
    const int64_t create_us = Micros(award.create_time());
    const int64_t update_us = Micros(award.update_time());
    const std::string path = LineagePath(lineage);
    ASSIGN_OR_RETURN(
        Statement insert,
        db.Prepare("INSERT INTO awards(id, village_id, star, state, "
                   "lineage_path, request_id, request_fingerprint, version, "
                   "create_time_us, update_time_us, body) VALUES(?, ?, ?, ?, "
                   "?, NULLIF(?, ''), NULLIF(?, ''), 1, ?, ?, ?)"));
    insert.Bind(1, stored.id())
        .Bind(2, stored.village_id())
        .Bind(3, static_cast<int>(stored.star()))
        .Bind(4, static_cast<int>(stored.state()))
        .Bind(5, path)
        .Bind(6, key.request_id)
        .Bind(7, key.fingerprint)
        .Bind(8, create_us)
        .Bind(9, update_us)
        .BindBlob(10, AwardBody(stored));
    RETURN_IF_ERROR(insert.Run());
    RETURN_IF_ERROR(AppendEvent(db, stored, path, event).status());
    SetVersionFields(&stored, 1, create_us, update_us);
    return stored;
  });
}

template <typename Pool>
absl::StatusOr<StoredAward> SqlScoringStore<Pool>::GetAward(
    const std::string& id) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<StoredAward> {
    return LoadAward(db, id);
  });
}

template <typename Pool>
absl::StatusOr<StoredAward> SqlScoringStore<Pool>::FindAwardByRequest(
    const std::string& request_id) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<StoredAward> {
    ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare(absl::StrCat(kSelectAward, "WHERE request_id = ?")));
    stmt.Bind(1, request_id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no award was created with request_id ", request_id));
    }
    return ReadAward(stmt);
  });
}

template <typename Pool>
absl::StatusOr<v1::Award> SqlScoringStore<Pool>::TransitionAward(
    const AwardTransition& transition) {
  return pool_->Write([&](Database& db) -> absl::StatusOr<v1::Award> {
    const v1::Award& award = transition.award;
    ASSIGN_OR_RETURN(StoredAward current, LoadAward(db, award.id()));
    RETURN_IF_ERROR(CheckEtag("award", award.id(), transition.expected_etag,
                              current.award.etag()));
    if (current.award.state() != transition.event.from_state()) {
      return absl::FailedPreconditionError(
          absl::StrCat("award ", award.id(), " is ",
                       v1::AwardState_Name(current.award.state()), ", not ",
                       v1::AwardState_Name(transition.event.from_state()),
                       " (a concurrent transition won); read it again"));
    }
    if (award.village_id() != current.award.village_id() ||
        award.star() != current.award.star()) {
      return absl::InternalError(absl::StrCat("a transition of award ",
                                              award.id(),
                                              " changes its village or star"));
    }
    const int64_t update_us = Micros(award.update_time());
    ASSIGN_OR_RETURN(
        Statement update,
        db.Prepare("UPDATE awards SET state = ?2, version = version + 1, "
                   "update_time_us = ?3, body = ?4 WHERE id = ?1 "
                   "RETURNING version, create_time_us, lineage_path"));
    update.Bind(1, award.id())
        .Bind(2, static_cast<int>(award.state()))
        .Bind(3, update_us)
        .BindBlob(4, AwardBody(award));
    ASSIGN_OR_RETURN(bool row, update.Step());
    FIVESTAR_CHECK(row, "the award read in this write is gone");
    v1::Award stored = award;
    SetVersionFields(&stored, update.ColumnInt64(0), update.ColumnInt64(1),
                     update_us);
    const std::string path = update.ColumnText(2);
    RETURN_IF_ERROR(AppendEvent(db, stored, path, transition.event).status());
    return stored;
  });
}

template <typename Pool>
absl::StatusOr<std::vector<StoredAward>> SqlScoringStore<Pool>::ListAwards(
    const AwardQuery& query) {
  return pool_->Read(
      [&](Database& db) -> absl::StatusOr<std::vector<StoredAward>> {
        // The position is the award's creation number; the list resumes
        // after that award's (village, star, position), looked up here.
        std::string after_village;
        int64_t after_star = -1;
        int64_t after_position = -1;
        if (!query.after.empty()) {
          int64_t position = 0;
          if (!absl::SimpleAtoi(query.after, &position)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "after: not an award position, got \"", query.after, "\""));
          }
          ASSIGN_OR_RETURN(Statement at,
                           db.Prepare("SELECT village_id, star FROM awards "
                                      "WHERE position = ?"));
          at.Bind(1, position);
          ASSIGN_OR_RETURN(bool row, at.Step());
          if (!row) {
            return absl::InvalidArgumentError(
                absl::StrCat("after: no award at position ", query.after));
          }
          after_village = at.ColumnText(0);
          after_star = at.ColumnInt64(1);
          after_position = position;
        }
        ASSIGN_OR_RETURN(
            Statement stmt,
            db.Prepare(absl::StrCat(
                kSelectAward,
                // An equality the planner can see when filtering by village
                // (so the index range is the village's, not the rest of the
                // table); "?1 = '' OR" would hide it.
                query.village_id.empty() ? "WHERE ?1 = '' "
                                         : "WHERE village_id = ?1 ",
                "AND (?2 = '' OR ", PositionFunction(Pool::kEngine),
                "(lineage_path, ?2) > 0) "
                "AND (?3 = 0 OR star = ?3) AND (?4 = 0 OR state = ?4) "
                "AND (village_id, star, position) > (?5, ?6, ?7) "
                "ORDER BY village_id, star, position LIMIT ?8")));
        stmt.Bind(1, query.village_id)
            .Bind(2, query.ancestor_region_id.empty()
                         ? std::string()
                         : PathComponent(query.ancestor_region_id))
            .Bind(3, static_cast<int>(query.star))
            .Bind(4, static_cast<int>(query.state))
            .Bind(5, after_village)
            .Bind(6, after_star)
            .Bind(7, after_position)
            .Bind(8, query.limit);
        std::vector<StoredAward> out;
        while (true) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          ASSIGN_OR_RETURN(StoredAward award, ReadAward(stmt));
          out.push_back(std::move(award));
        }
        return out;
      });
}

template <typename Pool>
absl::StatusOr<std::vector<v1::AwardEvent>>
SqlScoringStore<Pool>::ListAwardEvents(const AwardEventQuery& query) {
  return pool_->Read([&](Database& db)
                         -> absl::StatusOr<std::vector<v1::AwardEvent>> {
    ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare(absl::StrCat(
            "SELECT sequence, body FROM award_events WHERE sequence > ?1 ",
            // Equalities the planner can see pick the award's or the
            // village's index instead of a scan of the whole trail.
            query.award_id.empty() ? "AND ?2 = '' " : "AND award_id = ?2 ",
            query.village_id.empty() ? "AND ?3 = '' " : "AND village_id = ?3 ",
            "AND (?4 = '' OR ", PositionFunction(Pool::kEngine),
            "(lineage_path, ?4) > 0) ORDER BY sequence LIMIT ?5")));
    stmt.Bind(1, query.after_sequence)
        .Bind(2, query.award_id)
        .Bind(3, query.village_id)
        .Bind(4, query.ancestor_region_id.empty()
                     ? std::string()
                     : PathComponent(query.ancestor_region_id))
        .Bind(5, query.limit);
    std::vector<v1::AwardEvent> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      v1::AwardEvent event;
      if (!event.ParseFromString(stmt.ColumnBlob(1))) {
        return absl::DataLossError("stored award event does not parse");
      }
      event.set_sequence(stmt.ColumnInt64(0));
      out.push_back(std::move(event));
    }
    return out;
  });
}

template <typename Pool>
absl::StatusOr<int> SqlScoringStore<Pool>::CountVillagesAtLevel(
    const std::string& region_id, int min_level,
    const std::string& extra_village_id) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<int> {
    // A village's level is its AWARDED awards; the extra village counts one
    // more, and is below the region when one of its awards (the one being
    // approved, at least) is.
    ASSIGN_OR_RETURN(
        Statement stmt,
        db.Prepare(absl::StrCat(
            "SELECT COUNT(*) FROM (SELECT village_id, "
            "SUM(CASE WHEN state = ?4 THEN 1 ELSE 0 END) "
            "+ MAX(CASE WHEN village_id = ?3 THEN 1 ELSE 0 END) AS level "
            "FROM awards WHERE (state = ?4 OR village_id = ?3) AND ",
            PositionFunction(Pool::kEngine),
            "(lineage_path, ?1) > 0 GROUP BY village_id) AS levels "
            "WHERE level >= ?2")));
    stmt.Bind(1, PathComponent(region_id))
        .Bind(2, min_level)
        .Bind(3, extra_village_id)
        .Bind(4, kAwarded);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    FIVESTAR_CHECK(row, "COUNT(*) returned no row");
    return static_cast<int>(stmt.ColumnInt64(0));
  });
}

// --- Feed cursors ------------------------------------------------------------

template <typename Pool>
absl::StatusOr<FeedCursor> SqlScoringStore<Pool>::GetCursor(
    const std::string& feed) {
  return pool_->Read([&](Database& db) -> absl::StatusOr<FeedCursor> {
    return ReadCursor(db, feed);
  });
}

template <typename Pool>
absl::Status SqlScoringStore<Pool>::SetCursor(const CursorUpdate& cursor) {
  return pool_->Write(
      [&](Database& db) -> absl::Status { return WriteCursor(db, cursor); });
}

template class SqlScoringStore<SqlitePool>;
template class SqlScoringStore<PostgresPool>;

}  // namespace fivestar::scoring
