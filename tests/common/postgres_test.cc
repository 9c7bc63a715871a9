// common/postgres and common/postgres_pool against a real PostgreSQL 15
// (tests/testing/postgres_server.h), one server per test.
#include "common/postgres.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/postgres_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::PostgresServer;
using ::fivestar::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// The one integer a query returns.
absl::StatusOr<int64_t> Scalar(PostgresConnection& db, absl::string_view sql) {
  absl::StatusOr<PgStatement> statement = db.Prepare(sql);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> row = statement->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError("no row");
  return statement->ColumnInt64(0);
}

// Runs `sql` with integer parameters.
absl::Status Exec(PostgresConnection& db, absl::string_view sql,
                  std::vector<int64_t> params = {}) {
  absl::StatusOr<PgStatement> statement = db.Prepare(sql);
  if (!statement.ok()) return statement.status();
  for (size_t i = 0; i < params.size(); ++i) {
    statement->Bind(static_cast<int>(i) + 1, params[i]);
  }
  return statement->Run();
}

const std::vector<SchemaMigration>& Migrations() {
  static const auto* migrations = new std::vector<SchemaMigration>{
      {1, "items",
       "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, "
       "body bytea, score double precision, small integer, flag boolean);"},
      {2, "item notes",
       "CREATE TABLE notes (item_id bigint NOT NULL REFERENCES items(id), "
       "note text NOT NULL);"
       "INSERT INTO items(id, name) VALUES (0, 'seed');"},
  };
  return *migrations;
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> server =
        PostgresServer::Start();
    ASSERT_OK(server.status());
    server_ = *std::move(server);
    absl::StatusOr<std::string> uri = server_->CreateDatabase();
    ASSERT_OK(uri.status());
    uri_ = *uri;
  }

  std::unique_ptr<PostgresConnection> Connect(
      PostgresConnection::Options options = {}) {
    absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
        PostgresConnection::Connect(uri_, options);
    EXPECT_OK(connection.status());
    return connection.ok() ? *std::move(connection) : nullptr;
  }

  std::unique_ptr<PostgresPool> OpenPool(PostgresPool::Options options = {}) {
    absl::StatusOr<std::unique_ptr<PostgresPool>> pool =
        PostgresPool::Open(uri_, Migrations(), options);
    EXPECT_OK(pool.status());
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  std::unique_ptr<PostgresServer> server_;
  std::string uri_;
};

TEST_F(PostgresTest, ParametersAndColumnsRoundTripExactly) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->Migrate(Migrations()));
  const std::string bytes("\0\x01\xff\\x00'?", 8);
  const std::string name = "垱子岭 'quoted' \\ back ?";
  absl::StatusOr<PgStatement> insert = db->Prepare(
      "INSERT INTO items(id, name, body, score, small, flag) "
      "VALUES(?, ?, ?, ?, ?, ?::integer::boolean)");
  ASSERT_OK(insert.status());
  ASSERT_OK(insert->Bind(1, int64_t{9007199254740993})
                .Bind(2, name)
                .BindBlob(3, bytes)
                .Bind(4, 0.1)
                .Bind(5, -7)
                .Bind(6, 1)
                .Run());
  EXPECT_EQ(insert->Changes(), 1);
  ASSERT_OK(
      Exec(*db, "INSERT INTO items(id, name, body) VALUES(?, '', NULL)", {2}));
  absl::StatusOr<PgStatement> rows = db->Prepare(
      "SELECT id, name, body, score, small, flag FROM items WHERE id > ? "
      "ORDER BY id -- a comment with a ? in it");
  ASSERT_OK(rows.status());
  rows->Bind(1, 0);
  ASSERT_THAT(rows->Step(), ::fivestar::testing::IsOkAndHolds(true));
  EXPECT_EQ(rows->ColumnInt64(0), 2);
  EXPECT_EQ(rows->ColumnText(1), "");
  EXPECT_FALSE(rows->ColumnIsNull(1));
  EXPECT_TRUE(rows->ColumnIsNull(2));
  EXPECT_TRUE(rows->ColumnIsNull(3));
  EXPECT_EQ(rows->ColumnDouble(3), 0);
  ASSERT_THAT(rows->Step(), ::fivestar::testing::IsOkAndHolds(true));
  EXPECT_EQ(rows->ColumnInt64(0), 9007199254740993);
  EXPECT_EQ(rows->ColumnText(1), name);
  EXPECT_EQ(rows->ColumnBlob(2), bytes);
  EXPECT_EQ(rows->ColumnDouble(3), 0.1);
  EXPECT_EQ(rows->ColumnInt64(4), -7);
  EXPECT_EQ(rows->ColumnInt64(5), 1);
  EXPECT_THAT(rows->Step(), ::fivestar::testing::IsOkAndHolds(false));
  // The same SQL again is the statement prepared the first time.
  absl::StatusOr<int64_t> prepared =
      Scalar(*db, "SELECT count(*) FROM pg_prepared_statements");
  ASSERT_OK(prepared.status());
  absl::StatusOr<PgStatement> again = db->Prepare(
      "SELECT id, name, body, score, small, flag FROM items WHERE id > ? "
      "ORDER BY id -- a comment with a ? in it");
  ASSERT_OK(again.status());
  EXPECT_THAT(again->Bind(1, 2).Step(),
              ::fivestar::testing::IsOkAndHolds(true));
  EXPECT_EQ(again->ColumnInt64(0), 9007199254740993);
  EXPECT_THAT(Scalar(*db, "SELECT count(*) FROM pg_prepared_statements"),
              ::fivestar::testing::IsOkAndHolds(*prepared));
  absl::StatusOr<PgStatement> update =
      db->Prepare("UPDATE items SET small = ? WHERE id >= ?");
  ASSERT_OK(update.status());
  ASSERT_OK(update->Bind(1, 3).Bind(2, 0).Run());
  EXPECT_EQ(update->Changes(), 3);
}

TEST(NumberPlaceholdersTest, NumbersOnlyThePlaceholders) {
  const NumberedSql numbered = NumberPlaceholders(
      "SELECT '?', \"a?\", ? /* ? */ FROM t -- ?\nWHERE x = ? "
      "AND y = 'it''s ?'");
  EXPECT_EQ(numbered.sql,
            "SELECT '?', \"a?\", $1 /* ? */ FROM t -- ?\n"
            "WHERE x = $2 AND y = 'it''s ?'");
  EXPECT_EQ(numbered.params, 2);
  EXPECT_TRUE(numbered.unused.empty());
}

TEST(NumberPlaceholdersTest, NamesTheNumbersNeverUsed) {
  const NumberedSql numbered =
      NumberPlaceholders("SELECT ?2 + ?5, ?2, ? FROM t");
  EXPECT_EQ(numbered.sql, "SELECT $2 + $5, $2, $6 FROM t");
  EXPECT_EQ(numbered.params, 6);
  EXPECT_EQ(numbered.unused, (std::vector<int>{1, 3, 4}));
}

// SQLite lets a statement skip a number (one SQL for two cases, ?1 used by
// one of them); so does a prepared statement here, binding it or not.
TEST_F(PostgresTest, AStatementMaySkipAParameterNumber) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  absl::StatusOr<PgStatement> sum =
      db->Prepare("SELECT CAST(?2 AS bigint) + ?3");
  ASSERT_OK(sum.status());
  sum->Bind(1, "ignored").Bind(2, 40).Bind(3, 2);
  ASSERT_THAT(sum->Step(), fivestar::testing::IsOkAndHolds(true));
  EXPECT_EQ(sum->ColumnInt64(0), 42);
}

TEST_F(PostgresTest, ErrorsMapBySqlState) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->Migrate(Migrations()));
  EXPECT_THAT(Exec(*db, "INSERT INTO items(id, name) VALUES(?, 'again')", {0}),
              StatusIs(absl::StatusCode::kAlreadyExists, "items_pkey"));
  EXPECT_THAT(
      Exec(*db, "INSERT INTO notes(item_id, note) VALUES(?, 'x')", {42}),
      StatusIs(absl::StatusCode::kFailedPrecondition, "notes_item_id_fkey"));
  EXPECT_THAT(Exec(*db, "INSERT INTO items(id) VALUES(?)", {5}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "\"name\""));
  EXPECT_THAT(db->Prepare("SELEC 1").status(),
              StatusIs(absl::StatusCode::kInternal, "syntax error"));
  // A failed prepare is not cached: the same SQL fails the same way again.
  EXPECT_THAT(db->Prepare("SELEC 1").status(),
              StatusIs(absl::StatusCode::kInternal, "syntax error"));
  EXPECT_THAT(db->Prepare("SELECT 1; SELECT 2").status(),
              StatusIs(absl::StatusCode::kInternal, "multiple commands"));
  // A parameter index out of range fails the statement, naming it.
  absl::StatusOr<PgStatement> one = db->Prepare("SELECT ?::bigint");
  ASSERT_OK(one.status());
  EXPECT_THAT(one->Bind(2, 1).Run(),
              StatusIs(absl::StatusCode::kInternal,
                       "parameter 2 of 1 bound in: SELECT ?::bigint"));
  EXPECT_EQ(PostgresStatusCode("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(PostgresStatusCode("40P01"), absl::StatusCode::kAborted);
  EXPECT_EQ(PostgresStatusCode("53300"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(PostgresStatusCode("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(PostgresStatusCode("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(PostgresStatusCode("22P02"), absl::StatusCode::kInternal);
}

TEST_F(PostgresTest, AStatementOverItsTimeoutIsCancelled) {
  PostgresConnection::Options options;
  options.statement_timeout = absl::Milliseconds(100);
  std::unique_ptr<PostgresConnection> db = Connect(options);
  ASSERT_NE(db, nullptr);
  // Migrating lifts the limit for its own statements only.
  ASSERT_OK(db->Migrate(Migrations()));
  EXPECT_THAT(
      Exec(*db, "SELECT pg_sleep(5)"),
      StatusIs(absl::StatusCode::kDeadlineExceeded, "statement timeout"));
  EXPECT_TRUE(db->ok());
}

TEST_F(PostgresTest, MigrationsApplyOnceInOrder) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  EXPECT_THAT(db->SchemaVersion(), ::fivestar::testing::IsOkAndHolds(0));
  ASSERT_OK(db->Migrate(absl::MakeConstSpan(Migrations()).first(1)));
  EXPECT_THAT(db->SchemaVersion(), ::fivestar::testing::IsOkAndHolds(1));
  ASSERT_OK(db->Migrate(Migrations()));
  ASSERT_OK(db->Migrate(Migrations()));  // Nothing left to do.
  EXPECT_THAT(db->SchemaVersion(), ::fivestar::testing::IsOkAndHolds(2));
  EXPECT_THAT(Scalar(*db, "SELECT count(*) FROM items"),
              ::fivestar::testing::IsOkAndHolds(1));
}

TEST_F(PostgresTest, ADatabaseNewerThanTheBinaryIsRefused) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->Migrate(Migrations()));
  EXPECT_THAT(
      db->Migrate(absl::MakeConstSpan(Migrations()).first(1)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "database schema is at version 2 but this binary knows only "
               "up to 1; refusing to run"));
}

TEST_F(PostgresTest, AFailedMigrationLeavesNothingAndTheVersionAsItWas) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  std::vector<SchemaMigration> migrations = Migrations();
  migrations.push_back(
      {3, "broken", "CREATE TABLE extra (id bigint); SELEC 1;"});
  EXPECT_THAT(db->Migrate(migrations),
              StatusIs(absl::StatusCode::kInternal, "migration 3 (broken)"));
  EXPECT_THAT(db->SchemaVersion(), ::fivestar::testing::IsOkAndHolds(2));
  EXPECT_THAT(Scalar(*db, "SELECT (to_regclass('extra') IS NULL)::integer"),
              ::fivestar::testing::IsOkAndHolds(1));
  std::vector<SchemaMigration> misnumbered = {{2, "two", "SELECT 1"}};
  EXPECT_THAT(db->Migrate(misnumbered),
              StatusIs(absl::StatusCode::kInternal, "entry 0 has version 2"));
}

TEST_F(PostgresTest, ReplicasStartingTogetherMigrateOnce) {
  // Migration 2 inserts a seed row with a fixed key: run twice, the second
  // run would fail on the primary key.
  constexpr int kReplicas = 6;
  std::vector<absl::Status> opened(kReplicas);
  std::vector<std::thread> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.emplace_back([&, i] {
      opened[i] = PostgresPool::Open(uri_, Migrations()).status();
    });
  }
  for (std::thread& replica : replicas) replica.join();
  for (const absl::Status& status : opened) EXPECT_OK(status);
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  EXPECT_THAT(Scalar(*db, "SELECT count(*) FROM schema_migrations"),
              ::fivestar::testing::IsOkAndHolds(2));
}

TEST_F(PostgresTest, WritesFromTwoReplicasAllocateAGaplessSequence) {
  // Two pools are two replicas: each has its own process-local writer
  // lock, so only the database's writer lock orders them. Every write
  // takes max + 1, which two concurrent transactions would both take.
  std::unique_ptr<PostgresPool> first = OpenPool();
  std::unique_ptr<PostgresPool> second = OpenPool();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  constexpr int kThreads = 4;
  constexpr int kWrites = 25;
  std::atomic<int> failures = 0;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    PostgresPool* pool = t % 2 == 0 ? first.get() : second.get();
    writers.emplace_back([pool, &failures] {
      for (int i = 0; i < kWrites; ++i) {
        absl::Status status = pool->WriteWork([](PostgresConnection& db) {
          return Exec(db,
                      "INSERT INTO items(id, name) "
                      "SELECT coalesce(max(id), 0) + 1, 'w' FROM items");
        });
        if (!status.ok()) ++failures;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_THAT(first->Read([](PostgresConnection& db) {
    return Scalar(db, "SELECT count(*) FROM items WHERE id > 0");
  }),
              ::fivestar::testing::IsOkAndHolds(kThreads * kWrites));
  EXPECT_THAT(first->Read([](PostgresConnection& db) {
    return Scalar(db, "SELECT max(id) FROM items");
  }),
              ::fivestar::testing::IsOkAndHolds(kThreads * kWrites));
}

TEST_F(PostgresTest, AReadSeesOneSnapshot) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  absl::Status read = pool->ReadWork([&](PostgresConnection& db) {
    absl::StatusOr<int64_t> before = Scalar(db, "SELECT count(*) FROM items");
    // Another write commits in the middle of the read.
    EXPECT_OK(pool->WriteWork([](PostgresConnection& writer) {
      return Exec(writer, "INSERT INTO items(id, name) VALUES(1, 'new')");
    }));
    absl::StatusOr<int64_t> after = Scalar(db, "SELECT count(*) FROM items");
    EXPECT_THAT(before, ::fivestar::testing::IsOkAndHolds(1));
    EXPECT_THAT(after, ::fivestar::testing::IsOkAndHolds(1));
    return Exec(db, "INSERT INTO items(id, name) VALUES(2, 'x')");
  });
  // A read is read-only.
  EXPECT_THAT(read,
              StatusIs(absl::StatusCode::kInternal, "read-only transaction"));
}

TEST_F(PostgresTest, AFailedOrDryRunWriteLeavesNothing) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  std::vector<bool> observed;
  pool->SetBatchObserver(
      [&observed](bool committed) { observed.push_back(committed); });
  auto insert = [](int64_t id) {
    return [id](PostgresConnection& db) {
      return Exec(db, "INSERT INTO items(id, name) VALUES(?, 'x')", {id});
    };
  };
  // fn's own error.
  EXPECT_THAT(pool->WriteWork([&](PostgresConnection& db) {
    EXPECT_OK(insert(1)(db));
    return absl::InvalidArgumentError("name: must not be x");
  }),
              StatusIs(absl::StatusCode::kInvalidArgument, "must not be x"));
  // A failed statement whose error the work ignored.
  EXPECT_THAT(pool->WriteWork([&](PostgresConnection& db) {
    EXPECT_OK(insert(2)(db));
    Exec(db, "INSERT INTO items(id, name) VALUES(0, 'dup')").IgnoreError();
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kInternal,
                       "a statement failed inside the transaction"));
  // A dry run.
  EXPECT_OK(pool->WriteAloneWork(insert(3), /*roll_back=*/true));
  EXPECT_OK(pool->WriteWork(insert(4)));
  EXPECT_THAT(pool->Read([](PostgresConnection& db) {
    return Scalar(db, "SELECT (sum(id) * 100 + count(*))::bigint FROM items");
  }),
              ::fivestar::testing::IsOkAndHolds(402));
  EXPECT_EQ(observed, (std::vector<bool>{false, false, false, true}));
}

TEST_F(PostgresTest, AnUnreachableDatabaseIsUnavailableWithoutThePassword) {
  const std::string uri = "postgresql://postgres:sekret@127.0.0.1:" +
                          std::to_string(server_->port()) + "/postgres";
  server_->Stop();
  absl::StatusOr<std::unique_ptr<PostgresPool>> pool =
      PostgresPool::Open(uri, Migrations());
  EXPECT_THAT(pool.status(), StatusIs(absl::StatusCode::kUnavailable,
                                      "the database at 127.0.0.1:" +
                                          std::to_string(server_->port()) +
                                          "/postgres is unreachable"));
  EXPECT_THAT(std::string(pool.status().message()), Not(HasSubstr("sekret")));
}

TEST_F(PostgresTest, APoolRecoversWhenTheDatabaseComesBack) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  auto count = [&pool]() {
    return pool->Read([](PostgresConnection& db) {
      return Scalar(db, "SELECT count(*) FROM items");
    });
  };
  ASSERT_THAT(count(), ::fivestar::testing::IsOkAndHolds(1));
  server_->Stop();
  EXPECT_THAT(count(), StatusIs(absl::StatusCode::kUnavailable, "database"));
  EXPECT_EQ(pool->open_connections(), 0);
  ASSERT_OK(server_->Restart());
  // The first call after the return succeeds: nothing dead is handed out.
  EXPECT_THAT(count(), ::fivestar::testing::IsOkAndHolds(1));
  EXPECT_OK(pool->WriteWork([](PostgresConnection& db) {
    return Exec(db, "INSERT INTO items(id, name) VALUES(1, 'back')");
  }));
  EXPECT_THAT(count(), ::fivestar::testing::IsOkAndHolds(2));
}

TEST_F(PostgresTest, AnIdleConnectionTheServerDroppedIsReplacedUnseen) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  std::unique_ptr<PostgresConnection> admin = Connect();
  ASSERT_NE(admin, nullptr);
  // Every session of the pool ended by the server (as a failover would).
  EXPECT_THAT(Scalar(*admin,
                     "SELECT count(pg_terminate_backend(pid)) FROM "
                     "pg_stat_activity WHERE application_name = "
                     "'fivestar' AND pid <> pg_backend_pid()"),
              ::fivestar::testing::IsOkAndHolds(1));
  EXPECT_THAT(pool->Read([](PostgresConnection& db) {
    return Scalar(db, "SELECT count(*) FROM items");
  }),
              ::fivestar::testing::IsOkAndHolds(1));
}

TEST_F(PostgresTest, ACallWithoutAFreeConnectionGivesUpAfterItsTimeout) {
  PostgresPool::Options options;
  options.connections = 1;
  options.acquire_timeout = absl::Milliseconds(100);
  std::unique_ptr<PostgresPool> pool = OpenPool(options);
  ASSERT_NE(pool, nullptr);
  absl::Notification holding;
  absl::Notification release;
  std::thread holder([&] {
    EXPECT_OK(pool->ReadWork([&](PostgresConnection&) {
      holding.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    }));
  });
  holding.WaitForNotification();
  EXPECT_THAT(
      pool->ReadWork([](PostgresConnection&) { return absl::OkStatus(); }),
      StatusIs(absl::StatusCode::kUnavailable,
               "all 1 connections to the database are busy"));
  release.Notify();
  holder.join();
  EXPECT_OK(
      pool->ReadWork([](PostgresConnection&) { return absl::OkStatus(); }));
}

}  // namespace
}  // namespace fivestar
