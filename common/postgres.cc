#include "common/postgres.h"

#include <endian.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/status.h"

namespace fivestar {

namespace {

// Column types read in binary form (pg_type.oid).
constexpr unsigned kBool = 16;
constexpr unsigned kInt8 = 20;
constexpr unsigned kInt2 = 21;
constexpr unsigned kInt4 = 23;
constexpr unsigned kFloat4 = 700;
constexpr unsigned kFloat8 = 701;
// The type given to parameters a statement never names.
constexpr unsigned kText = 25;

// The session advisory lock held while migrating ("fivestar" in ASCII).
constexpr int64_t kMigrationLock = 0x6669766573746172;

template <typename T>
T ReadBigEndian(const char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(value));
  if constexpr (sizeof(T) == 8) {
    return static_cast<T>(be64toh(static_cast<uint64_t>(value)));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(be32toh(static_cast<uint32_t>(value)));
  } else {
    return static_cast<T>(be16toh(static_cast<uint16_t>(value)));
  }
}

}  // namespace

PgStatement::PgStatement(PostgresConnection* db, const std::string* name,
                         const std::string* sql, int params)
    : db_(db), name_(name), sql_(sql), params_(params) {}

PgStatement::PgStatement(PgStatement&& other) noexcept
    : db_(other.db_),
      name_(other.name_),
      sql_(other.sql_),
      params_(std::move(other.params_)),
      bind_error_(std::move(other.bind_error_)),
      result_(other.result_),
      row_(other.row_) {
  other.result_ = nullptr;
}

PgStatement::~PgStatement() {
  if (result_ != nullptr) PQclear(result_);
}

PgStatement::Param* PgStatement::Slot(int index) {
  if (index < 1 || index > static_cast<int>(params_.size())) {
    if (bind_error_.ok()) {
      bind_error_ = absl::InternalError(absl::StrCat(
          "parameter ", index, " of ", params_.size(), " bound in: ", *sql_));
    }
    return nullptr;
  }
  return &params_[index - 1];
}

PgStatement& PgStatement::Bind(int index, int64_t value) {
  if (Param* param = Slot(index)) {
    param->value = absl::StrCat(value);
    param->null = false;
    param->binary = false;
  }
  return *this;
}

PgStatement& PgStatement::Bind(int index, double value) {
  if (Param* param = Slot(index)) {
    param->value = absl::StrFormat("%.17g", value);
    param->null = false;
    param->binary = false;
  }
  return *this;
}

PgStatement& PgStatement::Bind(int index, absl::string_view value) {
  if (Param* param = Slot(index)) {
    param->value.assign(value.data(), value.size());
    param->null = false;
    param->binary = true;
  }
  return *this;
}

PgStatement& PgStatement::BindBlob(int index, absl::string_view bytes) {
  return Bind(index, bytes);
}

PgStatement& PgStatement::BindNull(int index) {
  if (Param* param = Slot(index)) {
    param->value.clear();
    param->null = true;
  }
  return *this;
}

absl::StatusOr<bool> PgStatement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  if (result_ == nullptr) {
    std::vector<const char*> values(params_.size());
    std::vector<int> lengths(params_.size());
    std::vector<int> formats(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      const Param& param = params_[i];
      values[i] = param.null ? nullptr : param.value.c_str();
      lengths[i] = static_cast<int>(param.value.size());
      formats[i] = param.binary ? 1 : 0;
    }
    result_ = PQexecPrepared(db_->conn_, name_->c_str(),
                             static_cast<int>(params_.size()), values.data(),
                             lengths.data(), formats.data(),
                             /*resultFormat=*/1);
    const ExecStatusType status = PQresultStatus(result_);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      absl::Status error = db_->Error(result_, *sql_);
      PQclear(result_);
      result_ = nullptr;
      return error;
    }
    row_ = -1;
  }
  ++row_;
  return row_ < PQntuples(result_);
}

absl::Status PgStatement::Run() { return Step().status(); }

int64_t PgStatement::Changes() const {
  if (result_ == nullptr) return 0;
  const char* count = PQcmdTuples(result_);
  return count[0] == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

bool PgStatement::ColumnIsNull(int column) const {
  return PQgetisnull(result_, row_, column) != 0;
}

int64_t PgStatement::ColumnInt64(int column) const {
  if (ColumnIsNull(column)) return 0;
  const char* bytes = PQgetvalue(result_, row_, column);
  switch (PQftype(result_, column)) {
    case kInt8:
      return ReadBigEndian<int64_t>(bytes);
    case kInt4:
      return ReadBigEndian<int32_t>(bytes);
    case kInt2:
      return ReadBigEndian<int16_t>(bytes);
    case kBool:
      return bytes[0] != 0 ? 1 : 0;
  }
  FIVESTAR_CHECK(false, "ColumnInt64 of a column that is not an integer");
  return 0;
}

double PgStatement::ColumnDouble(int column) const {
  if (ColumnIsNull(column)) return 0;
  const char* bytes = PQgetvalue(result_, row_, column);
  switch (PQftype(result_, column)) {
    case kFloat8: {
      const uint64_t bits = ReadBigEndian<uint64_t>(bytes);
      double value;
      std::memcpy(&value, &bits, sizeof(value));
      return value;
    }
    case kFloat4: {
      const uint32_t bits = ReadBigEndian<uint32_t>(bytes);
      float value;
      std::memcpy(&value, &bits, sizeof(value));
      return value;
    }
  }
  FIVESTAR_CHECK(false, "ColumnDouble of a column that is not a float");
  return 0;
}

std::string PgStatement::ColumnText(int column) const {
  return std::string(PQgetvalue(result_, row_, column),
                     PQgetlength(result_, row_, column));
}

std::string PgStatement::ColumnBlob(int column) const {
  return ColumnText(column);
}

NumberedSql NumberPlaceholders(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int count = 0;
  std::vector<bool> named;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      // A quoted string or identifier; a doubled quote stays inside.
      const size_t close = sql.find(c, i + 1);
      const size_t end =
          close == absl::string_view::npos ? sql.size() : close + 1;
      out.append(sql.data() + i, end - i);
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const size_t newline = sql.find('\n', i);
      const size_t end =
          newline == absl::string_view::npos ? sql.size() : newline;
      out.append(sql.data() + i, end - i);
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const size_t close = sql.find("*/", i + 2);
      const size_t end =
          close == absl::string_view::npos ? sql.size() : close + 2;
      out.append(sql.data() + i, end - i);
      i = end;
    } else if (c == '?') {
      // SQLite's rule: "?N" is parameter N, a bare "?" the one after the
      // largest so far.
      size_t digits = i + 1;
      while (digits < sql.size() && absl::ascii_isdigit(sql[digits])) {
        ++digits;
      }
      int number = count + 1;
      if (digits > i + 1) {
        number = 0;
        for (size_t d = i + 1; d < digits; ++d) {
          number = number * 10 + (sql[d] - '0');
        }
      }
      count = std::max(count, number);
      if (named.size() <= static_cast<size_t>(number)) {
        named.resize(static_cast<size_t>(number) + 1);
      }
      named[static_cast<size_t>(number)] = true;
      absl::StrAppend(&out, "$", number);
      i = digits;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  NumberedSql numbered{std::move(out), count, {}};
  for (int number = 1; number <= count; ++number) {
    if (!named[static_cast<size_t>(number)]) numbered.unused.push_back(number);
  }
  return numbered;
}

absl::StatusCode PostgresStatusCode(absl::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "23503" || sqlstate == "23514" || sqlstate == "23502") {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return absl::StatusCode::kAborted;
  }
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;
  // 08: connection exceptions; 53: insufficient resources (too many
  // connections, disk full); 57P0x: the server shutting down or starting;
  // 55P03: a lock not available in time.
  if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "53") ||
      absl::StartsWith(sqlstate, "57P") || sqlstate == "55P03") {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresConnection::Connect(
    const std::string& uri, const Options& options) {
  const std::string connect_timeout = absl::StrCat(
      std::max<int64_t>(2, absl::ToInt64Seconds(options.connect_timeout)));
  const std::string settings =
      absl::StrCat("-c statement_timeout=",
                   absl::ToInt64Milliseconds(options.statement_timeout));
  // Ours first, the URI last: what the URI says wins.
  const char* keywords[] = {"connect_timeout", "application_name", "options",
                            "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(),
                          options.application_name.c_str(), settings.c_str(),
                          uri.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(
        "libpq could not allocate a connection");
  }
  std::string where = absl::StrCat(PQhost(conn) ? PQhost(conn) : "", ":",
                                   PQport(conn) ? PQport(conn) : "", "/",
                                   PQdb(conn) ? PQdb(conn) : "");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return absl::UnavailableError(
        absl::StrCat("the database at ", where, " is unreachable: ", message));
  }
  // The server's notices ("relation ... already exists, skipping") go to
  // the log at debug level, not to stderr.
  PQsetNoticeProcessor(
      conn,
      [](void*, const char* message) {
        std::string text = message;
        while (!text.empty() && text.back() == '\n') text.pop_back();
        spdlog::debug("msg=postgres_notice notice=\"{}\"", text);
      },
      nullptr);
  return std::unique_ptr<PostgresConnection>(
      new PostgresConnection(conn, std::move(where)));
}

PostgresConnection::~PostgresConnection() { PQfinish(conn_); }

bool PostgresConnection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PostgresConnection::InTransaction() const {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR ||
         status == PQTRANS_ACTIVE;
}

bool PostgresConnection::TransactionFailed() const {
  return PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

absl::Status PostgresConnection::Error(const PGresult* result,
                                       absl::string_view context) const {
  std::string message =
      result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  const char* sqlstate = result != nullptr
                             ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                             : nullptr;
  // No SQLSTATE: libpq's own failure, most often the connection lost.
  const absl::StatusCode code = sqlstate != nullptr
                                    ? PostgresStatusCode(sqlstate)
                                    : (ok() ? absl::StatusCode::kInternal
                                            : absl::StatusCode::kUnavailable);
  if (code == absl::StatusCode::kUnavailable) {
    return absl::Status(
        code, absl::StrCat("the database at ", where_, " is unavailable (",
                           context, "): ", message));
  }
  return absl::Status(code, absl::StrCat(context, ": ", message));
}

absl::Status PostgresConnection::Execute(absl::string_view sql) {
  PGresult* result = PQexec(conn_, std::string(sql).c_str());
  const ExecStatusType status = PQresultStatus(result);
  absl::Status error = absl::OkStatus();
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    error = Error(result, absl::StrCat("executing ", sql.substr(0, 60)));
  }
  PQclear(result);
  return error;
}

absl::StatusOr<PgStatement> PostgresConnection::Prepare(absl::string_view sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const NumberedSql numbered = NumberPlaceholders(sql);
    const int params = numbered.params;
    const std::string name = absl::StrCat("s", prepared_.size());
    // Types for the parameters the SQL never names; 0 (inferred) for the
    // others.
    std::vector<Oid> types;
    if (!numbered.unused.empty()) {
      types.assign(static_cast<size_t>(params), 0);
      for (int number : numbered.unused) {
        types[static_cast<size_t>(number - 1)] = kText;
      }
    }
    PGresult* result = PQprepare(conn_, name.c_str(), numbered.sql.c_str(),
                                 types.empty() ? 0 : params,
                                 types.empty() ? nullptr : types.data());
    const bool prepared = PQresultStatus(result) == PGRES_COMMAND_OK;
    absl::Status error = prepared
                             ? absl::OkStatus()
                             : Error(result, absl::StrCat("preparing ", sql));
    PQclear(result);
    if (!prepared) return error;
    it = prepared_.try_emplace(sql, Prepared{name, params}).first;
  }
  return PgStatement(this, &it->second.name, &it->first, it->second.params);
}

absl::StatusOr<int> PostgresConnection::SchemaVersion() {
  ASSIGN_OR_RETURN(
      PgStatement exists,
      Prepare("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  ASSIGN_OR_RETURN(bool row, exists.Step());
  if (!row || exists.ColumnInt64(0) == 0) return 0;
  ASSIGN_OR_RETURN(
      PgStatement version,
      Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(row, version.Step());
  return row ? static_cast<int>(version.ColumnInt64(0)) : 0;
}

absl::Status PostgresConnection::AdvisoryLock(bool lock) {
  ASSIGN_OR_RETURN(PgStatement statement,
                   Prepare(lock ? "SELECT pg_advisory_lock(?)"
                                : "SELECT pg_advisory_unlock(?)"));
  return statement.Bind(1, kMigrationLock).Run();
}

absl::Status PostgresConnection::Migrate(
    absl::Span<const SchemaMigration> migrations) {
  // No statement limit while migrating: another process's migration may
  // hold the lock a while, and a migration may rewrite a large table.
  if (absl::Status unlimited = Execute("SET statement_timeout = 0");
      !unlimited.ok()) {
    return unlimited;
  }
  auto migrate = [&]() -> absl::Status {
    absl::Status status = Execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " description text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    if (!status.ok()) return status;
    absl::StatusOr<int> current = SchemaVersion();
    if (!current.ok()) return current.status();
    absl::StatusOr<absl::Span<const SchemaMigration>> pending =
        PendingMigrations(migrations, *current);
    if (!pending.ok()) return pending.status();
    for (const SchemaMigration& migration : *pending) {
      status = Execute("BEGIN");
      if (status.ok()) {
        status = Execute(migration.sql);
        if (!status.ok()) {
          status = absl::Status(
              status.code(),
              absl::StrCat("migration ", migration.version, " (",
                           migration.description, "): ", status.message()));
        }
      }
      if (status.ok()) {
        absl::StatusOr<PgStatement> record = Prepare(
            "INSERT INTO schema_migrations(version, description) "
            "VALUES(?, ?::text)");
        status = record.ok() ? record->Bind(1, migration.version)
                                   .Bind(2, migration.description)
                                   .Run()
                             : record.status();
      }
      if (status.ok()) status = Execute("COMMIT");
      if (!status.ok()) {
        if (ok()) Execute("ROLLBACK").IgnoreError();
        return status;
      }
      spdlog::info(
          "msg=migrated engine=postgresql version={} description=\"{}\"",
          migration.version, migration.description);
    }
    return absl::OkStatus();
  };
  absl::Status status = AdvisoryLock(true);
  if (status.ok()) {
    status = migrate();
    if (ok()) {
      absl::Status unlocked = AdvisoryLock(false);
      if (status.ok()) status = unlocked;
    }
  }
  // The session's own limit again, whatever happened.
  if (ok()) {
    absl::Status reset = Execute("RESET statement_timeout");
    if (status.ok()) status = reset;
  }
  return status;
}

}  // namespace fivestar
