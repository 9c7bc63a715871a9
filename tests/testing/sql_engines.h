// The two storage engines as test parameters, so that one typed test runs
// against both (TYPED_TEST_SUITE(..., SqlEngines)): SQLite on a file in a
// temporary directory, PostgreSQL on a database of its own in a real
// PostgreSQL 15 started for the test (tests/testing/postgres_server.h).
#ifndef FIVESTAR_TESTS_TESTING_SQL_ENGINES_H_
#define FIVESTAR_TESTS_TESTING_SQL_ENGINES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/postgres_pool.h"
#include "common/sqlite_pool.h"
#include "gtest/gtest.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

struct SqliteEngine {
  using Pool = SqlitePool;
  using Migration = SchemaMigration;
  static constexpr bool kPostgres = false;

  // A pool on a file of this engine's directory, migrated.
  absl::StatusOr<std::unique_ptr<Pool>> Open(
      absl::Span<const Migration> migrations) {
    return SqlitePool::Open(dir.File("test.db"), migrations);
  }

  TempDir dir;
};

struct PostgresEngine {
  using Pool = PostgresPool;
  using Migration = SchemaMigration;
  static constexpr bool kPostgres = true;

  // A pool on this engine's database (the server started and the database
  // created at the first call), migrated.
  absl::StatusOr<std::unique_ptr<Pool>> Open(
      absl::Span<const Migration> migrations) {
    if (server == nullptr) {
      absl::StatusOr<std::unique_ptr<PostgresServer>> started =
          PostgresServer::Start();
      if (!started.ok()) return started.status();
      server = *std::move(started);
      absl::StatusOr<std::string> created = server->CreateDatabase();
      if (!created.ok()) return created.status();
      uri = *created;
    }
    return PostgresPool::Open(uri, migrations);
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
