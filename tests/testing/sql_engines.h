// The two storage engines as test parameters, so that one typed test runs
// against both (TYPED_TEST_SUITE(..., SqlEngines)): SQLite on a file in a
// temporary directory, PostgreSQL on a database of its own in a real
// PostgreSQL 15 started for the test (tests/testing/postgres_server.h).
#ifndef FIVESTAR_TESTS_TESTING_SQL_ENGINES_H_
#define FIVESTAR_TESTS_TESTING_SQL_ENGINES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/postgres_pool.h"
#include "common/sqlite_pool.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

struct SqliteEngine {
  using Pool = SqlitePool;
  using Connection = SqliteDatabase;
  static constexpr bool kPostgres = false;

  // The database for a pool or a store to open: a file of this engine's
  // directory.
  absl::StatusOr<std::string> Database() { return dir.File("test.db"); }
  // Another database, empty, at each call.
  absl::StatusOr<std::string> NewDatabase() {
    return dir.File(absl::StrCat("other-", ++others, ".db"));
  }
  // A pool on it, migrated.
  absl::StatusOr<std::unique_ptr<Pool>> Open(
      absl::Span<const SchemaMigration> migrations) {
    return SqlitePool::Open(dir.File("test.db"), migrations);
  }
  // A connection of a test's own to it, to look inside.
  absl::StatusOr<std::unique_ptr<Connection>> Connect() {
    return SqliteDatabase::Open(dir.File("test.db"));
  }

  TempDir dir;
  int others = 0;
};

struct PostgresEngine {
  using Pool = PostgresPool;
  using Connection = PostgresConnection;
  static constexpr bool kPostgres = true;

  // The database for a pool or a store to open: this engine's own (the
  // server started and the database created at the first call).
  absl::StatusOr<std::string> Database() {
    if (server == nullptr) {
      absl::StatusOr<std::unique_ptr<PostgresServer>> started =
          PostgresServer::Start();
      if (!started.ok()) return started.status();
      server = *std::move(started);
      absl::StatusOr<std::string> created = server->CreateDatabase();
      if (!created.ok()) return created.status();
      uri = *created;
    }
    return uri;
  }
  // Another database, empty, at each call.
  absl::StatusOr<std::string> NewDatabase() {
    absl::StatusOr<std::string> database = Database();
    if (!database.ok()) return database.status();
    return server->CreateDatabase();
  }
  // A pool on it, migrated.
  absl::StatusOr<std::unique_ptr<Pool>> Open(
      absl::Span<const SchemaMigration> migrations) {
    absl::StatusOr<std::string> database = Database();
    if (!database.ok()) return database.status();
    return PostgresPool::Open(*database, migrations);
  }
  // A connection of a test's own to it, to look inside.
  absl::StatusOr<std::unique_ptr<Connection>> Connect() {
    absl::StatusOr<std::string> database = Database();
    if (!database.ok()) return database.status();
    return PostgresConnection::Connect(*database, {});
  }

  std::unique_ptr<PostgresServer> server;
  std::string uri;
};

using SqlEngines = ::testing::Types<SqliteEngine, PostgresEngine>;

// Names the typed tests' instances "Sqlite" and "Postgres" instead of 0, 1.
struct SqlEngineNames {
  template <typename Engine>
  static std::string GetName(int) {
    return Engine::kPostgres ? "Postgres" : "Sqlite";
  }
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_SQL_ENGINES_H_
