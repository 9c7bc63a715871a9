// The projects store of a store-level test on the test run's engine
// (FIVESTAR_TEST_ENGINE; tests/testing/test_database.h), so that a test
// registered BOTH_ENGINES checks SQLite and PostgreSQL alike.
#ifndef FIVESTAR_TESTS_PROJECTS_TEST_STORE_H_
#define FIVESTAR_TESTS_PROJECTS_TEST_STORE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/sql_engine.h"
#include "common/status.h"
#include "services/projects/projects_store.h"
#include "services/projects/sql_projects_store.h"

namespace fivestar::projects::testing {

// The store on `database` (as TestDatabases::Get gives it: an SQLite
// file's path or a PostgreSQL URI), through the engine it names.
inline absl::StatusOr<std::unique_ptr<ProjectsStore>> OpenTestStore(
    const std::string& database, const Clock* clock) {
  if (EngineOf(database) == SqlEngine::kPostgres) {
    ASSIGN_OR_RETURN(std::unique_ptr<SqlProjectsStore<PostgresPool>> store,
                     SqlProjectsStore<PostgresPool>::Open(database, clock));
    return std::unique_ptr<ProjectsStore>(std::move(store));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqlProjectsStore<SqlitePool>> store,
                   SqlProjectsStore<SqlitePool>::Open(database, clock));
  return std::unique_ptr<ProjectsStore>(std::move(store));
}

}  // namespace fivestar::projects::testing

#endif  // FIVESTAR_TESTS_PROJECTS_TEST_STORE_H_
