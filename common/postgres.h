// A thin PostgreSQL layer (libpq) for the services' server-database
// storage, in the shape of common/sqlite.h, so that a store's code can run
// on either engine: statements with `?` placeholders, prepared once per
// connection and cached by their SQL (`?` or `?N`, as SQLite takes them),
// bound by 1-based index, stepped
// through row by row, columns read by 0-based index; errors mapped to
// absl::Status by SQLSTATE; versioned schema migrations at start-up, under
// an advisory lock so that replicas starting together migrate once.
//
// How values travel: integers and doubles as text (so a parameter may be
// of any numeric column type), strings and bytes in binary form (their raw
// bytes, no escaping; write the SQL so that PostgreSQL infers text or
// bytea for them, casting `?::text` where the context would infer another
// type). Results arrive in binary form, all of a statement's rows at once.
#ifndef FIVESTAR_COMMON_POSTGRES_H_
#define FIVESTAR_COMMON_POSTGRES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/schema_migration.h"

// libpq's types, declared here so that this header does not include it.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace fivestar {

class PostgresConnection;

// A prepared statement of a connection. Bind parameters (1-based), then
// Step() through the rows (the first Step runs it), reading columns
// (0-based). Movable; valid while its connection lives.
class PgStatement {
 public:
  PgStatement(PgStatement&& other) noexcept;
  PgStatement& operator=(PgStatement&&) = delete;
  ~PgStatement();

  PgStatement& Bind(int index, int64_t value);
  PgStatement& Bind(int index, int value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  PgStatement& Bind(int index, double value);
  PgStatement& Bind(int index, absl::string_view value);
  PgStatement& Bind(int index, const std::string& value) {
    return Bind(index, absl::string_view(value));
  }
  PgStatement& Bind(int index, const char* value) {
    return Bind(index, absl::string_view(value));
  }
  PgStatement& BindNull(int index);
  // Binds bytes for a bytea parameter (serialized protobuf, hashes).
  PgStatement& BindBlob(int index, absl::string_view bytes);

  // Advances to the next row: true when there is one, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement whose rows are not needed.
  absl::Status Run();
  // Rows the statement changed (INSERT, UPDATE, DELETE), once it ran.
  int64_t Changes() const;

  // Columns of the current row. Integers: smallint, integer, bigint or
  // boolean columns; doubles: double precision or real; text and blobs:
  // text, varchar or bytea. NULL reads as 0 or "".
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class PostgresConnection;
  PgStatement(PostgresConnection* db, const std::string* name,
              const std::string* sql, int params);
  // The index's slot, or null (and the statement's error set) when out of
  // range.
  struct Param {
    std::string value;
    bool null = true;
    bool binary = false;
  };
  Param* Slot(int index);

  PostgresConnection* db_;
  const std::string* name_;  // Owned by the connection's cache.
  const std::string* sql_;
  std::vector<Param> params_;
  absl::Status bind_error_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

// One connection. Not thread-safe: its owner serializes access.
class PostgresConnection {
 public:
  struct Options {
    // How long connecting may take (libpq counts whole seconds, at least 2).
    absl::Duration connect_timeout = absl::Seconds(5);
    // How long one statement may run before the server cancels it
    // (DEADLINE_EXCEEDED); zero for no limit.
    absl::Duration statement_timeout = absl::Seconds(30);
    // How the server lists the session (pg_stat_activity).
    std::string application_name = "fivestar";
  };

  // Connects to `uri` ("postgresql://user@host:port/database?..." or any
  // libpq connection string; what it says overrides Options). UNAVAILABLE
  // when the server cannot be reached or refuses, naming the host, port
  // and database but never the password.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect(
      const std::string& uri, const Options& options);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  // Runs one or more statements without parameters.
  absl::Status Execute(absl::string_view sql);
  // Prepares (or takes from the cache) one statement.
  absl::StatusOr<PgStatement> Prepare(absl::string_view sql);

  // Applies, each in its own transaction, the migrations newer than the
  // schema's recorded version, holding a session advisory lock meanwhile so
  // that processes starting together migrate once. FAILED_PRECONDITION when
  // the database is newer than this binary knows.
  absl::Status Migrate(absl::Span<const SchemaMigration> migrations);
  // The schema version recorded in the database (0 when new).
  absl::StatusOr<int> SchemaVersion();

  // Whether the connection is still usable (false once the server went
  // away; a pool then discards it).
  bool ok() const;
  // Whether a transaction is open (or failed and awaits ROLLBACK).
  bool InTransaction() const;
  // Whether a statement failed inside the open transaction (which then
  // only takes ROLLBACK).
  bool TransactionFailed() const;

  // "127.0.0.1:5432/fivestar": where this connection goes, for messages.
  const std::string& where() const { return where_; }

 private:
  friend class PgStatement;
  PostgresConnection(PGconn* conn, std::string where)
      : conn_(conn), where_(std::move(where)) {}
  // The status for a failed result (or, when `result` is null, for the
  // connection's last error), with `context`.
  absl::Status Error(const PGresult* result, absl::string_view context) const;
  // Takes (or gives back) the session advisory lock of migrations.
  absl::Status AdvisoryLock(bool lock);

  struct Prepared {
    std::string name;  // "s0", "s1", ... on this connection.
    int params = 0;
  };

  PGconn* conn_;
  std::string where_;
  // The SQL as written → its prepared statement (a node map: statements
  // point into it).
  absl::node_hash_map<std::string, Prepared> prepared_;
};

// A statement's SQL in PostgreSQL's form.
struct NumberedSql {
  // The SQL with $N placeholders.
  std::string sql;
  // How many parameters the statement has (the largest number).
  int params = 0;
  // The numbers below `params` that the SQL never names (SQLite's "?2 ...
  // ?8" without ?1): PostgreSQL cannot infer their types, so they are
  // declared text, which they stay unless bound.
  std::vector<int> unused;
};

// `sql` with its placeholders in PostgreSQL's form (none inside quoted
// strings, quoted identifiers or comments), numbered as SQLite numbers
// them: "?N" is $N, a bare "?" the one after the largest so far.
NumberedSql NumberPlaceholders(absl::string_view sql);

// The status for a SQLSTATE: unique violations ALREADY_EXISTS; foreign
// key, check and not-null violations FAILED_PRECONDITION; serialization
// failures and deadlocks ABORTED (retry the transaction); a cancelled
// statement (statement_timeout) DEADLINE_EXCEEDED; connection failures,
// shutdowns, too many connections and lock timeouts UNAVAILABLE; anything
// else INTERNAL.
absl::StatusCode PostgresStatusCode(absl::string_view sqlstate);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_POSTGRES_H_
