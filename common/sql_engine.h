// The storage engines a service can run on, and which one a --database
// value names. Each engine's pool (SqlitePool, PostgresPool) says its own
// as Pool::kEngine, so a store written once over either pool can choose
// the few statements whose dialects differ.
#ifndef FIVESTAR_COMMON_SQL_ENGINE_H_
#define FIVESTAR_COMMON_SQL_ENGINE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fivestar {

enum class SqlEngine {
  // An embedded database in one file (common/sqlite_pool.h).
  kSqlite,
  // A PostgreSQL server, shared by replicas (common/postgres_pool.h).
  kPostgres,
};

// Whether other processes may write the same database, so that state a
// process keeps in memory must also follow the database, not only its own
// writes: replicas of a service share one PostgreSQL database, while an
// SQLite file belongs to one process.
constexpr bool SharedByReplicas(SqlEngine engine) {
  return engine == SqlEngine::kPostgres;
}

// The dialect's function of (text, part) giving part's 1-based position in
// text, 0 when absent: SQLite's instr, PostgreSQL's strpos.
constexpr const char* PositionFunction(SqlEngine engine) {
  return engine == SqlEngine::kSqlite ? "instr" : "strpos";
}

// The values of the JSON array of strings bound to parameter `param` as a
// subquery ("village_id IN <it>"), compared bytewise on either engine.
std::string JsonTextList(SqlEngine engine, int param);

// A query whose one row and column is 20 lowercase hex digits of 80 random
// bits, for ids.
const char* RandomIdSql(SqlEngine engine);

// The engine of a --database value: a "postgresql://" or "postgres://" URI
// (libpq's connection URI) names a PostgreSQL database; anything else is
// the path of an SQLite file.
SqlEngine EngineOf(absl::string_view database);

// `database` fit for a log line or an error: a URI's password (in its
// user info or a `password` parameter) replaced by "***".
std::string RedactedDatabase(absl::string_view database);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQL_ENGINE_H_
