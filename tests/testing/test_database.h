// Databases for the services under test, on the engine the test run
// chose: service-level tests run unchanged on SQLite and on PostgreSQL.
//
// FIVESTAR_TEST_ENGINE=postgres runs them on PostgreSQL; unset (or
// "sqlite") on SQLite files. tests/CMakeLists.txt registers the
// service-level test binaries (fivestar_test(... BOTH_ENGINES)) once for
// each engine, the PostgreSQL run's tests named "<binary>.postgres.<test>".
#ifndef FIVESTAR_TESTS_TESTING_TEST_DATABASE_H_
#define FIVESTAR_TESTS_TESTING_TEST_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/sql_engine.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {

// The engine of this test run (FIVESTAR_TEST_ENGINE).
SqlEngine TestEngine();

// The `--database` values of a test's services on TestEngine(): files of a
// temporary directory, or databases of one PostgreSQL server started at
// the first Get (from the test's thread) and stopped with this object.
class TestDatabases {
 public:
  TestDatabases() = default;
  TestDatabases(const TestDatabases&) = delete;
  TestDatabases& operator=(const TestDatabases&) = delete;

  // The database called `name` ("registry"): the same name gives the same
  // database, a new name an empty one. Aborts the test binary when
  // PostgreSQL cannot be started.
  std::string Get(const std::string& name);

 private:
  TempDir dir_;
  std::unique_ptr<PostgresServer> server_;
  absl::flat_hash_map<std::string, std::string> databases_;
};

// For tests that look inside a service's database (by its --database
// value, either engine): runs `sql`, or reads the first column of its
// first row as an integer.
absl::Status ExecuteSql(const std::string& database, const std::string& sql);
absl::StatusOr<int64_t> QueryInt64(const std::string& database,
                                   const std::string& sql);

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_TEST_DATABASE_H_
