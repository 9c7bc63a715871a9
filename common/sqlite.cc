#include "common/sqlite.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace fivestar {

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  db_->Return(db_->sql_of_[stmt_], stmt_);
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, absl::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(),
                             static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, absl::string_view bytes) {
  int rc = sqlite3_bind_blob(stmt_, index, bytes.data(),
                             static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  if (bind_error_ != SQLITE_OK) {
    return db_->Error(bind_error_, sqlite3_sql(stmt_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, sqlite3_sql(stmt_));
}

absl::Status SqliteStatement::Run() {
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  return absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double SqliteStatement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text),
                     sqlite3_column_bytes(stmt_, column));
}

std::string SqliteStatement::ColumnBlob(int column) const {
  const void* bytes = sqlite3_column_blob(stmt_, column);
  if (bytes == nullptr) return std::string();
  return std::string(static_cast<const char*>(bytes),
                     sqlite3_column_bytes(stmt_, column));
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

absl::StatusOr<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(
    const std::string& path) {
  sqlite3* handle = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &handle,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    return absl::UnavailableError(
        absl::StrCat("cannot open database ", path, ": ", message));
  }
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(handle));
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, 5000);
  absl::Status status = db->Execute(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
      "PRAGMA foreign_keys=ON;");
  if (!status.ok()) return status;
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status SqliteDatabase::Execute(absl::string_view sql) {
  char* message = nullptr;
  int rc =
      sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return Error(rc, text);
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement> SqliteDatabase::Prepare(absl::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second != nullptr) {
    sqlite3_stmt* stmt = it->second;
    it->second = nullptr;  // Borrowed until the statement is destroyed.
    return SqliteStatement(this, stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return Error(rc, key);
  if (!absl::StripAsciiWhitespace(
           absl::string_view(tail, key.data() + key.size() - tail))
           .empty()) {
    sqlite3_finalize(stmt);
    return absl::InternalError(absl::StrCat(
        "Prepare takes one statement; use Execute for several: ", key));
  }
  sql_of_[stmt] = key;
  return SqliteStatement(this, stmt);
}

void SqliteDatabase::SetWalHook(std::function<void(int pages)> hook) {
  wal_hook_ = std::move(hook);
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int pages) {
        static_cast<SqliteDatabase*>(self)->wal_hook_(pages);
        return SQLITE_OK;
      },
      this);
}

void SqliteDatabase::Return(const std::string& sql, sqlite3_stmt* stmt) {
  auto [it, inserted] = cache_.try_emplace(sql, stmt);
  if (inserted || it->second == nullptr) {
    it->second = stmt;
    return;
  }
  // The same SQL was borrowed twice at once; keep one copy cached.
  sql_of_.erase(stmt);
  sqlite3_finalize(stmt);
}

absl::StatusOr<int> SqliteDatabase::SchemaVersion() {
  absl::Status status = Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
      " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))");
  if (!status.ok()) return status;
  absl::StatusOr<SqliteStatement> stmt =
      Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->ColumnInt64(0));
}

absl::Status SqliteDatabase::Migrate(
    absl::Span<const SchemaMigration> migrations) {
  absl::StatusOr<int> current = SchemaVersion();
  if (!current.ok()) return current.status();
  absl::StatusOr<absl::Span<const SchemaMigration>> pending =
      PendingMigrations(migrations, *current);
  if (!pending.ok()) return pending.status();
  for (const SchemaMigration& migration : *pending) {
    absl::StatusOr<std::unique_ptr<SqliteTransaction>> txn =
        SqliteTransaction::Begin(this);
    if (!txn.ok()) return txn.status();
    absl::Status status = Execute(migration.sql);
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat("migration ", migration.version,
                                              " (", migration.description,
                                              "): ", status.message()));
    }
    absl::StatusOr<SqliteStatement> record = Prepare(
        "INSERT INTO schema_migrations(version, description) VALUES(?, ?)");
    if (!record.ok()) return record.status();
    status =
        record->Bind(1, migration.version).Bind(2, migration.description).Run();
    if (!status.ok()) return status;
    status = (*txn)->Commit();
    if (!status.ok()) return status;
    spdlog::info("msg=migrated version={} description=\"{}\"",
                 migration.version, migration.description);
  }
  return absl::OkStatus();
}

int64_t SqliteDatabase::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}

int SqliteDatabase::Changes() const { return sqlite3_changes(db_); }

bool SqliteDatabase::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

absl::Status SqliteDatabase::Error(int code, absl::string_view context) const {
  std::string message = absl::StrCat(sqlite3_errstr(code), " (",
                                     sqlite3_errmsg(db_), ") in: ", context);
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_PRIMARYKEY ||
          code == SQLITE_CONSTRAINT_UNIQUE) {
        return absl::AlreadyExistsError(message);
      }
      return absl::FailedPreconditionError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::unique_ptr<SqliteTransaction>> SqliteTransaction::Begin(
    SqliteDatabase* db) {
  absl::Status status = db->Execute("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  return std::unique_ptr<SqliteTransaction>(new SqliteTransaction(db));
}

SqliteTransaction::~SqliteTransaction() {
  if (!done_) {
    absl::Status status = db_->Execute("ROLLBACK");
    if (!status.ok()) {
      spdlog::error("msg=rollback_failed error=\"{}\"", status.message());
    }
  }
}

absl::Status SqliteTransaction::Commit() {
  absl::Status status = db_->Execute("COMMIT");
  if (status.ok()) done_ = true;
  return status;
}

std::string SqliteJsonArray(absl::Span<const std::string> values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += ']';
  return out;
}

}  // namespace fivestar
