// A thin PostgreSQL layer (libpq) for the services' server-database
// storage, the counterpart of common/sqlite.h: one connection with prepared
// statements cached by their SQL, typed parameters and results, errors
// mapped to absl::Status by SQLSTATE, and versioned schema migrations run
// at start-up under an advisory lock, so that replicas starting together
// migrate once.
//
// Parameters are $1, $2, ... Integers and doubles travel as text, strings
// and bytes in binary form (their raw bytes, no escaping): write the SQL
// so that PostgreSQL infers text or bytea for a string parameter (cast
// `$1::text` where the context would infer another type). Results arrive
// in binary form and are read by column type.
#ifndef FIVESTAR_COMMON_POSTGRES_H_
#define FIVESTAR_COMMON_POSTGRES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

// libpq's types, declared here so that this header does not include it.
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace fivestar {

// One statement parameter. Strings and bytes are views: what they point at
// must outlive the call that uses them.
class PgParam {
 public:
  PgParam(int64_t value);  // NOLINT: implicit, as a literal in a list.
  PgParam(int value) : PgParam(static_cast<int64_t>(value)) {}     // NOLINT
  PgParam(double value);                                           // NOLINT
  PgParam(absl::string_view text) : view_(text), binary_(true) {}  // NOLINT
  PgParam(const std::string& text)
      : PgParam(absl::string_view(text)) {}                        // NOLINT
  PgParam(const char* text) : PgParam(absl::string_view(text)) {}  // NOLINT
  // Bytes for a bytea parameter (serialized protobuf, hashes).
  static PgParam Bytes(absl::string_view bytes) { return PgParam(bytes); }
  static PgParam Null() { return PgParam(); }

 private:
  friend class PostgresConnection;
  PgParam() : null_(true) {}
  std::string text_;        // Integers and doubles, formatted.
  absl::string_view view_;  // Strings and bytes.
  bool binary_ = false;
  bool null_ = false;
};

// The rows of one statement's result. Movable; frees the result when
// destroyed. Rows and columns are 0-based.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  PgResult(PgResult&& other) noexcept : result_(other.result_) {
    other.result_ = nullptr;
  }
  PgResult& operator=(PgResult&& other) noexcept;
  ~PgResult();

  int rows() const;
  // Rows a command changed (INSERT, UPDATE, DELETE).
  int64_t affected() const;
  bool IsNull(int row, int column) const;
  // An integer column (smallint, integer, bigint, boolean); 0 when NULL.
  int64_t Int64(int row, int column) const;
  // A double precision or real column; 0 when NULL.
  double Double(int row, int column) const;
  // A text, varchar or bytea column's bytes; "" when NULL.
  std::string Text(int row, int column) const;
  absl::string_view View(int row, int column) const;

 private:
  friend class PostgresConnection;
  PGresult* result_;
};

// One schema step. Versions start at 1 and increase by one.
struct PostgresMigration {
  int version;
  std::string description;
  std::string sql;  // One or more statements.
};

// One connection. Not thread-safe: its owner serializes access.
class PostgresConnection {
 public:
  struct Options {
    // How long connecting may take (libpq counts whole seconds, at least 2).
    absl::Duration connect_timeout = absl::Seconds(5);
    // How long one statement may run before the server cancels it
    // (DEADLINE_EXCEEDED); zero for no limit (imports, migrations).
    absl::Duration statement_timeout = absl::Seconds(30);
    // How the server lists the session (pg_stat_activity).
    std::string application_name = "fivestar";
  };

  // Connects to `uri` ("postgresql://user@host:port/database?..."; any
  // libpq connection string). UNAVAILABLE when the server cannot be
  // reached or refuses, naming the host, port and database but never the
  // password.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect(
      const std::string& uri, const Options& options);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  // Runs one or more statements without parameters (simple protocol).
  absl::Status Execute(absl::string_view sql);
  // Runs one statement, prepared once per connection and cached by its
  // SQL, with `params` for $1, $2, ...; returns its rows.
  absl::StatusOr<PgResult> Query(absl::string_view sql,
                                 absl::Span<const PgParam> params = {});
  absl::StatusOr<PgResult> Query(absl::string_view sql,
                                 std::initializer_list<PgParam> params) {
    return Query(sql, absl::MakeConstSpan(params.begin(), params.size()));
  }
  // Query for a statement whose rows are not needed; returns the rows it
  // changed.
  absl::StatusOr<int64_t> Run(absl::string_view sql,
                              std::initializer_list<PgParam> params = {});

  // Applies, each in its own transaction, the migrations newer than the
  // schema's recorded version, holding a session advisory lock meanwhile so
  // that processes starting together migrate once. FAILED_PRECONDITION when
  // the database is newer than this binary knows.
  absl::Status Migrate(absl::Span<const PostgresMigration> migrations);
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
  PostgresConnection(PGconn* conn, std::string where)
      : conn_(conn), where_(std::move(where)) {}
  // The status for a failed result (or, when `result` is null, for the
  // connection's last error), with `context`.
  absl::Status Error(const PGresult* result, absl::string_view context) const;

  PGconn* conn_;
  std::string where_;
  // SQL → the name of its prepared statement on this connection.
  absl::flat_hash_map<std::string, std::string> prepared_;
};

// The status for a SQLSTATE: unique violations ALREADY_EXISTS; foreign
// key, check and not-null violations FAILED_PRECONDITION; serialization
// failures and deadlocks ABORTED (retry the transaction); a cancelled
// statement (statement_timeout) DEADLINE_EXCEEDED; connection failures,
// shutdowns, too many connections and lock timeouts UNAVAILABLE; anything
// else INTERNAL.
absl::StatusCode PostgresStatusCode(absl::string_view sqlstate);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_POSTGRES_H_
