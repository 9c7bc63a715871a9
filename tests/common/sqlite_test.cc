// Tests of common/sqlite against real SQLite files in a temporary directory.
#include "common/sqlite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;

const std::vector<SchemaMigration> kMigrations = {
    {1, "create villages",
     "CREATE TABLE villages (id TEXT PRIMARY KEY, name TEXT NOT NULL);"},
    {2, "add level",
     "ALTER TABLE villages ADD COLUMN level INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX villages_by_level ON villages(level);"},
};

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, SqliteDatabase::Open(path()));
  }

  std::string path() const { return dir_.File("test.db"); }

  // Closes and reopens the database file.
  void Reopen() {
    db_.reset();
    ASSERT_OK_AND_ASSIGN(db_, SqliteDatabase::Open(path()));
  }

  // The single value of a one-row, one-column query.
  std::string QueryText(const std::string& sql) {
    absl::StatusOr<SqliteStatement> stmt = db_->Prepare(sql);
    if (!stmt.ok()) return "error: " + stmt.status().ToString();
    absl::StatusOr<bool> row = stmt->Step();
    if (!row.ok()) return "error: " + row.status().ToString();
    if (!*row) return "no row";
    return stmt->ColumnText(0);
  }

  int64_t Count(const std::string& table) {
    absl::StatusOr<SqliteStatement> stmt =
        db_->Prepare("SELECT COUNT(*) FROM " + table);
    EXPECT_OK(stmt);
    if (!stmt.ok()) return -1;
    EXPECT_THAT(stmt->Step(), IsOkAndHolds(true));
    return stmt->ColumnInt64(0);
  }

  absl::Status InsertVillage(const std::string& id, const std::string& name) {
    absl::StatusOr<SqliteStatement> stmt =
        db_->Prepare("INSERT INTO villages(id, name) VALUES(?, ?)");
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, id).Bind(2, name).Run();
  }

  std::vector<int> RecordedVersions() {
    std::vector<int> versions;
    absl::StatusOr<SqliteStatement> stmt =
        db_->Prepare("SELECT version FROM schema_migrations ORDER BY version");
    EXPECT_OK(stmt);
    if (!stmt.ok()) return versions;
    while (true) {
      absl::StatusOr<bool> row = stmt->Step();
      EXPECT_OK(row);
      if (!row.ok() || !*row) break;
      versions.push_back(static_cast<int>(stmt->ColumnInt64(0)));
    }
    return versions;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
};

TEST_F(SqliteTest, OpenUsesWalFullSyncAndForeignKeys) {
  EXPECT_EQ(QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryText("PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(QueryText("PRAGMA foreign_keys"), "1");
}

TEST_F(SqliteTest, OpenInMissingDirectoryIsUnavailable) {
  EXPECT_THAT(SqliteDatabase::Open(dir_.File("no/such/dir/x.db")),
              StatusIs(absl::StatusCode::kUnavailable, "cannot open database"));
}

TEST_F(SqliteTest, NewDatabaseIsAtVersionZero) {
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(0));
}

TEST_F(SqliteTest, MigrateAppliesAllInOrderAndRecordsVersions) {
  ASSERT_OK(db_->Migrate(kMigrations));
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(2));
  EXPECT_THAT(RecordedVersions(), ElementsAre(1, 2));
  // Migration 2 ran after 1: the column it added exists.
  ASSERT_OK(
      db_->Execute("INSERT INTO villages(id, name, level) "
                   "VALUES('v1', 'Huiche', 3)"));
  EXPECT_EQ(QueryText("SELECT level FROM villages WHERE id = 'v1'"), "3");
  EXPECT_EQ(QueryText("SELECT description FROM schema_migrations "
                      "WHERE version = 2"),
            "add level");
}

TEST_F(SqliteTest, MigrateAgainIsANoOp) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK(InsertVillage("v1", "Huiche"));
  Reopen();
  // Re-running would fail on CREATE TABLE if it ran anything.
  ASSERT_OK(db_->Migrate(kMigrations));
  EXPECT_THAT(RecordedVersions(), ElementsAre(1, 2));
  EXPECT_EQ(Count("villages"), 1);
}

TEST_F(SqliteTest, MigrateAppliesOnlyNewerSteps) {
  ASSERT_OK(db_->Migrate({kMigrations[0]}));
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(1));
  ASSERT_OK(db_->Migrate(kMigrations));
  EXPECT_THAT(RecordedVersions(), ElementsAre(1, 2));
}

TEST_F(SqliteTest, DatabaseNewerThanBinaryIsFailedPrecondition) {
  ASSERT_OK(db_->Migrate(kMigrations));
  EXPECT_THAT(db_->Migrate({kMigrations[0]}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "database schema is at version 2 but this binary "
                       "knows only up to 1"));
  EXPECT_THAT(db_->Migrate({}), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         "knows only up to 0"));
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(2));
}

TEST_F(SqliteTest, MisnumberedMigrationsAreRefusedBeforeAnyStep) {
  const std::vector<SchemaMigration> skipping = {kMigrations[1]};
  EXPECT_THAT(db_->Migrate(skipping),
              StatusIs(absl::StatusCode::kInternal,
                       "migrations must be numbered 1, 2, 3, ... in order; "
                       "entry 0 has version 2"));
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(0));
}

TEST_F(SqliteTest, PrepareRefusesMoreThanOneStatement) {
  EXPECT_THAT(
      db_->Prepare("SELECT 1; SELECT 2"),
      StatusIs(absl::StatusCode::kInternal, "Prepare takes one statement"));
  ASSERT_OK(db_->Prepare("SELECT 1;  \n"));
}

TEST_F(SqliteTest, FailingMigrationIsRolledBackAndLeavesVersion) {
  ASSERT_OK(db_->Migrate({kMigrations[0]}));
  const std::vector<SchemaMigration> broken = {
      kMigrations[0],
      // The first statement succeeds, the second fails: both must go.
      {2, "broken step",
       "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;"},
  };
  EXPECT_THAT(db_->Migrate(broken), StatusIs(absl::StatusCode::kInternal,
                                             "migration 2 (broken step): "));
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(1));
  EXPECT_EQ(QueryText("SELECT COUNT(*) FROM sqlite_master "
                      "WHERE name = 'half_done'"),
            "0");
  // The connection is usable and not stuck inside a transaction.
  ASSERT_OK(db_->Migrate(kMigrations));
  EXPECT_THAT(RecordedVersions(), ElementsAre(1, 2));
}

TEST_F(SqliteTest, TransactionRollsBackWhenDestroyedUncommitted) {
  ASSERT_OK(db_->Migrate(kMigrations));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteTransaction> txn,
                         SqliteTransaction::Begin(db_.get()));
    ASSERT_OK(InsertVillage("v1", "Huiche"));
    EXPECT_EQ(Count("villages"), 1);
  }
  EXPECT_EQ(Count("villages"), 0);
}

TEST_F(SqliteTest, CommittedTransactionPersists) {
  ASSERT_OK(db_->Migrate(kMigrations));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteTransaction> txn,
                         SqliteTransaction::Begin(db_.get()));
    ASSERT_OK(InsertVillage("v1", "Huiche"));
    ASSERT_OK(txn->Commit());
  }
  Reopen();
  EXPECT_EQ(Count("villages"), 1);
}

TEST_F(SqliteTest, SecondWriterWaitsThenIsUnavailableWhileFirstHoldsLock) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteTransaction> txn,
                       SqliteTransaction::Begin(db_.get()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDatabase> other,
                       SqliteDatabase::Open(path()));
  ASSERT_OK(other->Execute("PRAGMA busy_timeout = 0"));
  EXPECT_THAT(SqliteTransaction::Begin(other.get()),
              StatusIs(absl::StatusCode::kUnavailable, "locked"));
}

TEST_F(SqliteTest, PrimaryKeyViolationIsAlreadyExists) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK(InsertVillage("v1", "Huiche"));
  EXPECT_THAT(InsertVillage("v1", "Other"),
              StatusIs(absl::StatusCode::kAlreadyExists, "villages.id"));
  EXPECT_EQ(QueryText("SELECT name FROM villages WHERE id = 'v1'"), "Huiche");
}

TEST_F(SqliteTest, NotNullViolationIsFailedPrecondition) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK_AND_ASSIGN(SqliteStatement stmt,
                       db_->Prepare("INSERT INTO villages(id, name) "
                                    "VALUES(?, ?)"));
  EXPECT_THAT(stmt.Bind(1, "v1").BindNull(2).Run(),
              StatusIs(absl::StatusCode::kFailedPrecondition, "villages.name"));
}

TEST_F(SqliteTest, BadSqlIsInternalNamingTheStatement) {
  EXPECT_THAT(db_->Prepare("SELEKT 1"),
              StatusIs(absl::StatusCode::kInternal, "SELEKT 1"));
  EXPECT_THAT(db_->Execute("DROP TABLE no_such_table"),
              StatusIs(absl::StatusCode::kInternal, "no_such_table"));
}

TEST_F(SqliteTest, BindOutOfRangeIsReportedByStep) {
  ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare("SELECT ?"));
  EXPECT_THAT(stmt.Bind(2, 1).Step(),
              StatusIs(absl::StatusCode::kInternal, "SELECT ?"));
}

TEST_F(SqliteTest, CachedStatementIsResetAndUnboundWhenReused) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK(InsertVillage("v1", "Huiche"));
  ASSERT_OK(InsertVillage("v2", "Beijie"));
  const std::string sql = "SELECT id FROM villages ORDER BY id";
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare(sql));
    ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
    EXPECT_EQ(stmt.ColumnText(0), "v1");
    // Abandoned mid-iteration.
  }
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare(sql));
    ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
    EXPECT_EQ(stmt.ColumnText(0), "v1");  // From the start again.
  }
  // Bindings do not leak into the next borrower.
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare("SELECT ?"));
    ASSERT_THAT(stmt.Bind(1, 42).Step(), IsOkAndHolds(true));
    EXPECT_EQ(stmt.ColumnInt64(0), 42);
  }
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare("SELECT ?"));
    ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
    EXPECT_TRUE(stmt.ColumnIsNull(0));
  }
}

TEST_F(SqliteTest, SameSqlBorrowedTwiceAtOnceGivesIndependentStatements) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK(InsertVillage("v1", "Huiche"));
  ASSERT_OK(InsertVillage("v2", "Beijie"));
  const std::string sql = "SELECT id FROM villages WHERE id >= ? ORDER BY id";
  std::vector<std::string> pairs;
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement outer, db_->Prepare(sql));
    outer.Bind(1, "v1");
    while (true) {
      ASSERT_OK_AND_ASSIGN(bool outer_row, outer.Step());
      if (!outer_row) break;
      ASSERT_OK_AND_ASSIGN(SqliteStatement inner, db_->Prepare(sql));
      inner.Bind(1, outer.ColumnText(0));
      while (true) {
        ASSERT_OK_AND_ASSIGN(bool inner_row, inner.Step());
        if (!inner_row) break;
        pairs.push_back(outer.ColumnText(0) + "<=" + inner.ColumnText(0));
      }
    }
  }
  EXPECT_THAT(pairs, ElementsAre("v1<=v1", "v1<=v2", "v2<=v2"));
  // Both copies went back (one cached, one finalized); the SQL still works.
  ASSERT_OK_AND_ASSIGN(SqliteStatement again, db_->Prepare(sql));
  again.Bind(1, "v2");
  ASSERT_THAT(again.Step(), IsOkAndHolds(true));
  EXPECT_EQ(again.ColumnText(0), "v2");
}

TEST_F(SqliteTest, MovedStatementGoesBackToTheCacheOnce) {
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement first, db_->Prepare("SELECT 7"));
    SqliteStatement second(std::move(first));
    ASSERT_THAT(second.Step(), IsOkAndHolds(true));
    EXPECT_EQ(second.ColumnInt64(0), 7);
  }
  // Returning it twice would have finalized the cached copy.
  ASSERT_OK_AND_ASSIGN(SqliteStatement again, db_->Prepare("SELECT 7"));
  ASSERT_THAT(again.Step(), IsOkAndHolds(true));
  EXPECT_EQ(again.ColumnInt64(0), 7);
}

TEST_F(SqliteTest, BlobWithNulBytesRoundTrips) {
  ASSERT_OK(db_->Execute("CREATE TABLE blobs (k INTEGER PRIMARY KEY, v BLOB)"));
  const std::string bytes("\0a\0\xff\x00z", 6);
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt,
                         db_->Prepare("INSERT INTO blobs(k, v) VALUES(1, ?)"));
    ASSERT_OK(stmt.BindBlob(1, bytes).Run());
  }
  ASSERT_OK_AND_ASSIGN(SqliteStatement stmt,
                       db_->Prepare("SELECT v, typeof(v), length(v) FROM "
                                    "blobs WHERE k = 1"));
  ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
  EXPECT_EQ(stmt.ColumnBlob(0), bytes);
  EXPECT_EQ(stmt.ColumnText(1), "blob");
  EXPECT_EQ(stmt.ColumnInt64(2), 6);
}

TEST_F(SqliteTest, EmptyBlobIsEmptyNotNull) {
  ASSERT_OK(db_->Execute("CREATE TABLE blobs (v BLOB)"));
  {
    ASSERT_OK_AND_ASSIGN(SqliteStatement stmt,
                         db_->Prepare("INSERT INTO blobs(v) VALUES(?)"));
    ASSERT_OK(stmt.BindBlob(1, "").Run());
  }
  ASSERT_OK_AND_ASSIGN(SqliteStatement stmt,
                       db_->Prepare("SELECT v IS NULL, v FROM blobs"));
  ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
  EXPECT_EQ(stmt.ColumnInt64(0), 0);
  EXPECT_EQ(stmt.ColumnBlob(1), "");
}

TEST_F(SqliteTest, ColumnsOfEachTypeRoundTrip) {
  ASSERT_OK_AND_ASSIGN(SqliteStatement stmt, db_->Prepare("SELECT ?, ?, ?, ?"));
  stmt.Bind(1, int64_t{1} << 40).Bind(2, 2.5).Bind(3, "回车镇").BindNull(4);
  ASSERT_THAT(stmt.Step(), IsOkAndHolds(true));
  EXPECT_EQ(stmt.ColumnInt64(0), int64_t{1} << 40);
  EXPECT_EQ(stmt.ColumnDouble(1), 2.5);
  EXPECT_EQ(stmt.ColumnText(2), "回车镇");
  EXPECT_TRUE(stmt.ColumnIsNull(3));
  EXPECT_FALSE(stmt.ColumnIsNull(0));
  EXPECT_THAT(stmt.Step(), IsOkAndHolds(false));
}

TEST_F(SqliteTest, ChangesAndLastInsertRowIdReflectTheLastWrite) {
  ASSERT_OK(db_->Execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INT)"));
  ASSERT_OK(db_->Execute("INSERT INTO t(x) VALUES (1), (1), (2)"));
  EXPECT_EQ(db_->LastInsertRowId(), 3);
  ASSERT_OK(db_->Execute("UPDATE t SET x = 0 WHERE x = 1"));
  EXPECT_EQ(db_->Changes(), 2);
}

TEST_F(SqliteTest, DataSurvivesCloseAndReopen) {
  ASSERT_OK(db_->Migrate(kMigrations));
  ASSERT_OK(InsertVillage("v1", "回车镇"));
  Reopen();
  EXPECT_THAT(db_->SchemaVersion(), IsOkAndHolds(2));
  EXPECT_EQ(QueryText("SELECT name FROM villages WHERE id = 'v1'"), "回车镇");
  EXPECT_EQ(QueryText("PRAGMA journal_mode"), "wal");
}

}  // namespace
}  // namespace fivestar
