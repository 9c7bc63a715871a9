// A thin SQLite layer for the services' embedded storage: one connection in
// WAL mode with full sync (a committed write survives a crash), cached
// prepared statements, RAII transactions, and versioned schema migrations
// that run at start-up.
//
// The services do not use it directly in their logic: each keeps its storage
// behind its own store interface (e.g. RegistryStore), implemented here on
// SQLite and later on PostgreSQL.
#ifndef FIVESTAR_COMMON_SQLITE_H_
#define FIVESTAR_COMMON_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/schema_migration.h"

namespace fivestar {

class SqliteDatabase;

// A prepared statement borrowed from the database's cache. Bind parameters
// (1-based), Step() through the rows, read columns (0-based). Returned to
// the cache, reset, when destroyed.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, int value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  SqliteStatement& Bind(int index, double value);
  SqliteStatement& Bind(int index, absl::string_view value);
  SqliteStatement& Bind(int index, const std::string& value) {
    return Bind(index, absl::string_view(value));
  }
  SqliteStatement& Bind(int index, const char* value) {
    return Bind(index, absl::string_view(value));
  }
  SqliteStatement& BindNull(int index);
  // Binds bytes as a BLOB (serialized protobuf, hashes).
  SqliteStatement& BindBlob(int index, absl::string_view bytes);

  // Advances to the next row: true when there is one, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();

  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDatabase;
  SqliteStatement(SqliteDatabase* db, sqlite3_stmt* stmt)
      : db_(db), stmt_(stmt) {}

  SqliteDatabase* db_;
  sqlite3_stmt* stmt_;
  // The first binding error, reported by Step()/Run().
  int bind_error_ = SQLITE_OK;
};

// One SQLite connection. Not thread-safe: its owner serializes access.
class SqliteDatabase {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for a
  // private in-memory one) with WAL, synchronous=FULL, foreign keys on and a
  // busy timeout.
  static absl::StatusOr<std::unique_ptr<SqliteDatabase>> Open(
      const std::string& path);
  ~SqliteDatabase();

  // Runs one or more statements without parameters.
  absl::Status Execute(absl::string_view sql);

  // Prepares (or takes from the cache) one statement.
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);

  // Applies, each in its own transaction, the migrations newer than the
  // schema's recorded version. FAILED_PRECONDITION when the database is newer
  // than this binary knows.
  absl::Status Migrate(absl::Span<const SchemaMigration> migrations);

  // The schema version recorded in the database (0 when new).
  absl::StatusOr<int> SchemaVersion();

  int64_t LastInsertRowId() const;
  int Changes() const;
  // Whether a transaction is open (SQLite rolls some back on its own after
  // an I/O or out-of-memory error).
  bool InTransaction() const;

  // Calls `hook(pages)` on the committing thread after each COMMIT, with
  // the pages now in the write-ahead log, instead of SQLite's automatic
  // checkpoint (which this turns off). The hook must be quick and must not
  // use this connection.
  void SetWalHook(std::function<void(int pages)> hook);

  // The status for an SQLite result code, with context. Constraint
  // violations are ALREADY_EXISTS / FAILED_PRECONDITION, a busy database
  // UNAVAILABLE, anything else INTERNAL.
  absl::Status Error(int code, absl::string_view context) const;

 private:
  friend class SqliteStatement;
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  void Return(const std::string& sql, sqlite3_stmt* stmt);

  sqlite3* db_;
  std::function<void(int pages)> wal_hook_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> cache_;
  absl::flat_hash_map<sqlite3_stmt*, std::string> sql_of_;
};

// A transaction: BEGIN IMMEDIATE on construction (so writers queue up front
// rather than fail midway), ROLLBACK on destruction unless committed.
class SqliteTransaction {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteTransaction>> Begin(
      SqliteDatabase* db);
  ~SqliteTransaction();
  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDatabase* db) : db_(db) {}
  SqliteDatabase* db_;
  bool done_ = false;
};

// A JSON array of strings, to bind to one parameter of
// "IN (SELECT value FROM json_each(?))": one parameter however many ids a
// query asks about.
std::string SqliteJsonArray(absl::Span<const std::string> values);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQLITE_H_
