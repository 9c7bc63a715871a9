#include "tests/testing/test_database.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status.h"

namespace fivestar::testing {

SqlEngine TestEngine() {
  const char* engine = std::getenv("FIVESTAR_TEST_ENGINE");
  if (engine == nullptr) return SqlEngine::kSqlite;
  const std::string name = absl::AsciiStrToLower(engine);
  if (name == "postgres" || name == "postgresql") return SqlEngine::kPostgres;
  if (name.empty() || name == "sqlite") return SqlEngine::kSqlite;
  std::fprintf(stderr,
               "FIVESTAR_TEST_ENGINE=%s: must be \"sqlite\" or \"postgres\"\n",
               engine);
  std::abort();
}

std::string TestDatabases::Get(const std::string& name) {
  auto found = databases_.find(name);
  if (found != databases_.end()) return found->second;
  std::string database;
  if (TestEngine() == SqlEngine::kSqlite) {
    database = dir_.File(absl::StrCat(name, ".db"));
  } else {
    if (server_ == nullptr) {
      absl::StatusOr<std::unique_ptr<PostgresServer>> started =
          PostgresServer::Start();
      if (!started.ok()) {
        std::fprintf(stderr, "PostgreSQL for the test: %s\n",
                     started.status().ToString().c_str());
        std::abort();
      }
      server_ = *std::move(started);
    }
    absl::StatusOr<std::string> created = server_->CreateDatabase();
    if (!created.ok()) {
      std::fprintf(stderr, "database %s for the test: %s\n", name.c_str(),
                   created.status().ToString().c_str());
      std::abort();
    }
    database = *created;
  }
  databases_.emplace(name, database);
  return database;
}

namespace {

// `fn` of a connection of the test's own to `database`.
template <typename Fn>
auto WithConnection(const std::string& database, Fn fn)
    -> decltype(fn(std::declval<SqliteDatabase&>())) {
  if (EngineOf(database) == SqlEngine::kPostgres) {
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresConnection> db,
                     PostgresConnection::Connect(database, {}));
    return fn(*db);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> db,
                   SqliteDatabase::Open(database));
  return fn(*db);
}

}  // namespace

absl::Status ExecuteSql(const std::string& database, const std::string& sql) {
  return WithConnection(database, [&](auto& db) { return db.Execute(sql); });
}

absl::StatusOr<int64_t> QueryInt64(const std::string& database,
                                   const std::string& sql) {
  return WithConnection(database, [&](auto& db) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(auto statement, db.Prepare(sql));
    ASSIGN_OR_RETURN(bool row, statement.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no row: ", sql));
    return statement.ColumnInt64(0);
  });
}

}  // namespace fivestar::testing
