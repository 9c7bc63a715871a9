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

const std::vector<PostgresMigration>& Migrations() {
  static const auto* migrations = new std::vector<PostgresMigration>{
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
  const std::string bytes("\0\x01\xff\\x00'", 7);
  const std::string name = "垱子岭 'quoted' \\ back";
  ASSERT_OK(db->Run("INSERT INTO items(id, name, body, score, small, flag) "
                    "VALUES($1, $2, $3, $4, $5, $6)",
                    {int64_t{9007199254740993}, name, PgParam::Bytes(bytes),
                     0.1, -7, 1})
                .status());
  ASSERT_OK(db->Run("INSERT INTO items(id, name, body) VALUES($1, $2, $3)",
                    {2, "", PgParam::Null()})
                .status());
  absl::StatusOr<PgResult> rows = db->Query(
      "SELECT id, name, body, score, small, flag FROM items WHERE id > $1 "
      "ORDER BY id",
      {0});
  ASSERT_OK(rows.status());
  ASSERT_EQ(rows->rows(), 2);
  EXPECT_EQ(rows->Int64(0, 0), 2);
  EXPECT_EQ(rows->Text(0, 1), "");
  EXPECT_FALSE(rows->IsNull(0, 1));
  EXPECT_TRUE(rows->IsNull(0, 2));
  EXPECT_TRUE(rows->IsNull(0, 3));
  EXPECT_EQ(rows->Int64(1, 0), 9007199254740993);
  EXPECT_EQ(rows->Text(1, 1), name);
  EXPECT_EQ(rows->Text(1, 2), bytes);
  EXPECT_EQ(rows->Double(1, 3), 0.1);
  EXPECT_EQ(rows->Int64(1, 4), -7);
  EXPECT_EQ(rows->Int64(1, 5), 1);
  // The same SQL again runs the statement prepared the first time.
  absl::StatusOr<PgResult> count =
      db->Query("SELECT count(*) FROM items WHERE id > $1", {0});
  ASSERT_OK(count.status());
  EXPECT_EQ(count->Int64(0, 0), 2);
  EXPECT_THAT(db->Run("UPDATE items SET small = $1 WHERE id >= $2", {3, 0}),
              ::fivestar::testing::IsOkAndHolds(3));
}

TEST_F(PostgresTest, ErrorsMapBySqlState) {
  std::unique_ptr<PostgresConnection> db = Connect();
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->Migrate(Migrations()));
  EXPECT_THAT(
      db->Run("INSERT INTO items(id, name) VALUES($1, $2)", {0, "again"}),
      StatusIs(absl::StatusCode::kAlreadyExists, "items_pkey"));
  EXPECT_THAT(
      db->Run("INSERT INTO notes(item_id, note) VALUES($1, $2)", {42, "x"}),
      StatusIs(absl::StatusCode::kFailedPrecondition, "notes_item_id_fkey"));
  EXPECT_THAT(db->Run("INSERT INTO items(id) VALUES($1)", {5}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "\"name\""));
  EXPECT_THAT(db->Query("SELEC 1"),
              StatusIs(absl::StatusCode::kInternal, "syntax error"));
  // A failed prepare is not cached: the same SQL fails the same way again.
  EXPECT_THAT(db->Query("SELEC 1"),
              StatusIs(absl::StatusCode::kInternal, "syntax error"));
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
  EXPECT_THAT(
      db->Query("SELECT pg_sleep(5)"),
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
  absl::StatusOr<PgResult> seeds = db->Query("SELECT count(*) FROM items");
  ASSERT_OK(seeds.status());
  EXPECT_EQ(seeds->Int64(0, 0), 1);
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
  std::vector<PostgresMigration> migrations = Migrations();
  migrations.push_back(
      {3, "broken", "CREATE TABLE extra (id bigint); SELEC 1;"});
  EXPECT_THAT(db->Migrate(migrations),
              StatusIs(absl::StatusCode::kInternal, "migration 3 (broken)"));
  EXPECT_THAT(db->SchemaVersion(), ::fivestar::testing::IsOkAndHolds(2));
  absl::StatusOr<PgResult> extra =
      db->Query("SELECT to_regclass('extra') IS NULL");
  ASSERT_OK(extra.status());
  EXPECT_EQ(extra->Int64(0, 0), 1);
  std::vector<PostgresMigration> misnumbered = {{2, "two", "SELECT 1"}};
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
  absl::StatusOr<PgResult> applied =
      db->Query("SELECT count(*) FROM schema_migrations");
  ASSERT_OK(applied.status());
  EXPECT_EQ(applied->Int64(0, 0), 2);
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
          return db
              .Run(
                  "INSERT INTO items(id, name) "
                  "SELECT coalesce(max(id), 0) + 1, 'w' FROM items")
              .status();
        });
        if (!status.ok()) ++failures;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<PgResult> ids = first->Read([](PostgresConnection& db) {
    return db.Query("SELECT count(*), max(id) FROM items WHERE id > 0");
  });
  ASSERT_OK(ids.status());
  EXPECT_EQ(ids->Int64(0, 0), kThreads * kWrites);
  EXPECT_EQ(ids->Int64(0, 1), kThreads * kWrites);
}

TEST_F(PostgresTest, AReadSeesOneSnapshot) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  absl::Status read = pool->ReadWork([&](PostgresConnection& db) {
    absl::StatusOr<PgResult> before = db.Query("SELECT count(*) FROM items");
    if (!before.ok()) return before.status();
    // Another write commits in the middle of the read.
    absl::Status write = pool->WriteWork([](PostgresConnection& writer) {
      return writer.Run("INSERT INTO items(id, name) VALUES(1, 'new')")
          .status();
    });
    if (!write.ok()) return write;
    absl::StatusOr<PgResult> after = db.Query("SELECT count(*) FROM items");
    if (!after.ok()) return after.status();
    EXPECT_EQ(before->Int64(0, 0), 1);
    EXPECT_EQ(after->Int64(0, 0), 1);
    return db.Run("INSERT INTO items(id, name) VALUES(2, 'x')").status();
  });
  // A read is read-only.
  EXPECT_THAT(read,
              StatusIs(absl::StatusCode::kInternal, "read-only transaction"));
}

TEST_F(PostgresTest, AFailedOrDryRunWriteLeavesNothing) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  std::vector<bool> observed;
  pool->SetCommitObserver(
      [&observed](bool committed) { observed.push_back(committed); });
  auto insert = [](int64_t id) {
    return [id](PostgresConnection& db) {
      return db.Run("INSERT INTO items(id, name) VALUES($1, 'x')", {id})
          .status();
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
    db.Run("INSERT INTO items(id, name) VALUES(0, 'dup')").IgnoreError();
    return absl::OkStatus();
  }),
              StatusIs(absl::StatusCode::kInternal,
                       "a statement failed inside the transaction"));
  // A dry run.
  EXPECT_OK(pool->WriteWork(insert(3), /*roll_back=*/true));
  EXPECT_OK(pool->WriteWork(insert(4)));
  absl::StatusOr<PgResult> ids = pool->Read([](PostgresConnection& db) {
    return db.Query("SELECT id FROM items ORDER BY id");
  });
  ASSERT_OK(ids.status());
  ASSERT_EQ(ids->rows(), 2);
  EXPECT_EQ(ids->Int64(0, 0), 0);
  EXPECT_EQ(ids->Int64(1, 0), 4);
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
    return pool->Read([](PostgresConnection& db) -> absl::StatusOr<int64_t> {
      absl::StatusOr<PgResult> rows = db.Query("SELECT count(*) FROM items");
      if (!rows.ok()) return rows.status();
      return rows->Int64(0, 0);
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
    return db.Run("INSERT INTO items(id, name) VALUES(1, 'back')").status();
  }));
  EXPECT_THAT(count(), ::fivestar::testing::IsOkAndHolds(2));
}

TEST_F(PostgresTest, AnIdleConnectionTheServerDroppedIsReplacedUnseen) {
  std::unique_ptr<PostgresPool> pool = OpenPool();
  ASSERT_NE(pool, nullptr);
  std::unique_ptr<PostgresConnection> admin = Connect();
  ASSERT_NE(admin, nullptr);
  // Every session of the pool ended by the server (as a failover would).
  ASSERT_OK(admin
                ->Query("SELECT pg_terminate_backend(pid) FROM "
                        "pg_stat_activity WHERE application_name = "
                        "'fivestar' AND pid <> pg_backend_pid()")
                .status());
  EXPECT_OK(pool->ReadWork(
      [](PostgresConnection& db) { return db.Query("SELECT 1").status(); }));
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
