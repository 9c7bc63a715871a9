#include "common/postgres.h"

#include <endian.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"

namespace fivestar {

namespace {

// Column types read in binary form (pg_type.oid).
constexpr unsigned kBool = 16;
constexpr unsigned kInt8 = 20;
constexpr unsigned kInt2 = 21;
constexpr unsigned kInt4 = 23;
constexpr unsigned kFloat4 = 700;
constexpr unsigned kFloat8 = 701;

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

PgParam::PgParam(int64_t value) : text_(absl::StrCat(value)) {}

PgParam::PgParam(double value) : text_(absl::StrFormat("%.17g", value)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

int PgResult::rows() const { return PQntuples(result_); }

int64_t PgResult::affected() const {
  const char* count = PQcmdTuples(result_);
  return count[0] == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_, row, column) != 0;
}

int64_t PgResult::Int64(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const char* bytes = PQgetvalue(result_, row, column);
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
  FIVESTAR_CHECK(false, "Int64 of a column that is not an integer");
  return 0;
}

double PgResult::Double(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const char* bytes = PQgetvalue(result_, row, column);
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
  FIVESTAR_CHECK(false, "Double of a column that is not a float");
  return 0;
}

absl::string_view PgResult::View(int row, int column) const {
  return absl::string_view(PQgetvalue(result_, row, column),
                           PQgetlength(result_, row, column));
}

std::string PgResult::Text(int row, int column) const {
  return std::string(View(row, column));
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

absl::StatusOr<PgResult> PostgresConnection::Query(
    absl::string_view sql, absl::Span<const PgParam> params) {
  auto [it, inserted] =
      prepared_.try_emplace(sql, absl::StrCat("s", prepared_.size()));
  if (inserted) {
    PgResult prepared(
        PQprepare(conn_, it->second.c_str(), it->first.c_str(), 0, nullptr));
    if (PQresultStatus(prepared.result_) != PGRES_COMMAND_OK) {
      absl::Status error = Error(prepared.result_,
                                 absl::StrCat("preparing ", sql.substr(0, 60)));
      prepared_.erase(it);
      return error;
    }
  }
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const PgParam& param = params[i];
    if (param.null_) {
      values[i] = nullptr;
    } else if (param.binary_) {
      // A zero-length view may hold a null data pointer; libpq wants one.
      values[i] = param.view_.data() != nullptr ? param.view_.data() : "";
      lengths[i] = static_cast<int>(param.view_.size());
      formats[i] = 1;
    } else {
      values[i] = param.text_.c_str();
    }
  }
  PgResult result(PQexecPrepared(conn_, it->second.c_str(),
                                 static_cast<int>(params.size()), values.data(),
                                 lengths.data(), formats.data(),
                                 /*resultFormat=*/1));
  const ExecStatusType status = PQresultStatus(result.result_);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Error(result.result_, absl::StrCat("running ", sql.substr(0, 60)));
  }
  return result;
}

absl::StatusOr<int64_t> PostgresConnection::Run(
    absl::string_view sql, std::initializer_list<PgParam> params) {
  absl::StatusOr<PgResult> result = Query(sql, params);
  if (!result.ok()) return result.status();
  return result->affected();
}

absl::StatusOr<int> PostgresConnection::SchemaVersion() {
  absl::StatusOr<PgResult> exists =
      Query("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.ok()) return exists.status();
  if (exists->Int64(0, 0) == 0) return 0;
  absl::StatusOr<PgResult> version =
      Query("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!version.ok()) return version.status();
  return static_cast<int>(version->Int64(0, 0));
}

absl::Status PostgresConnection::Migrate(
    absl::Span<const PostgresMigration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat(
          "migrations must be numbered 1, 2, 3, ... in order; entry ", i,
          " has version ", migrations[i].version));
    }
  }
  // No statement limit while migrating: another process's migration may
  // hold the lock a while, and a migration may rewrite a large table.
  if (absl::Status unlimited = Execute("SET statement_timeout = 0");
      !unlimited.ok()) {
    return unlimited;
  }
  absl::StatusOr<PgResult> locked =
      Query("SELECT pg_advisory_lock($1)", {kMigrationLock});
  if (!locked.ok()) return locked.status();
  auto migrate = [&]() -> absl::Status {
    absl::Status status = Execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " description text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    if (!status.ok()) return status;
    absl::StatusOr<int> current = SchemaVersion();
    if (!current.ok()) return current.status();
    const int known = static_cast<int>(migrations.size());
    if (*current > known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema is at version ", *current,
          " but this binary knows only up to ", known, "; refusing to run"));
    }
    for (const PostgresMigration& migration : migrations) {
      if (migration.version <= *current) continue;
      status = Execute("BEGIN; SET LOCAL statement_timeout = 0");
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
        status = Run("INSERT INTO schema_migrations(version, description) "
                     "VALUES($1, $2::text)",
                     {migration.version, migration.description})
                     .status();
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
  absl::Status status = migrate();
  if (ok()) {
    absl::Status unlocked =
        Query("SELECT pg_advisory_unlock($1)", {kMigrationLock}).status();
    if (unlocked.ok()) unlocked = Execute("RESET statement_timeout");
    if (status.ok()) status = unlocked;
  }
  return status;
}

}  // namespace fivestar
