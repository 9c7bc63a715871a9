#include "common/sqlite_feed.h"

#include "common/status.h"

namespace fivestar {

absl::StatusOr<std::unique_ptr<SqliteChangeLog>> SqliteChangeLog::Open(
    SqlitePool* pool) {
  std::unique_ptr<SqliteChangeLog> log(new SqliteChangeLog(pool));
  ASSIGN_OR_RETURN(
      log->feed_id_,
      pool->Read([](SqliteDatabase& db) -> absl::StatusOr<std::string> {
        ASSIGN_OR_RETURN(SqliteStatement stmt,
                         db.Prepare("SELECT value FROM feed_meta "
                                    "WHERE key = 'feed_id'"));
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) {
          return absl::DataLossError("database has no feed_id");
        }
        return stmt.ColumnText(0);
      }));
  SqliteChangeLog* raw = log.get();
  pool->SetBatchObserver([raw](bool committed) { raw->BatchEnded(committed); });
  return log;
}

void SqliteChangeLog::SetCommitObserver(
    std::function<void(uint64_t)> observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
}

void SqliteChangeLog::BatchEnded(bool committed) {
  const uint64_t newest = batch_newest_;
  batch_newest_ = 0;
  if (batch_hook_) batch_hook_(committed, newest);
  if (!committed || newest == 0) return;
  // Held during the call so that SetCommitObserver(nullptr) in an
  // observer's destructor waits for it.
  absl::MutexLock lock(&observer_mu_);
  if (observer_) observer_(newest);
}

absl::StatusOr<uint64_t> SqliteChangeLog::NewestSequence(SqliteDatabase& db) {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM changes"));
  RETURN_IF_ERROR(stmt.Step().status());
  return static_cast<uint64_t>(stmt.ColumnInt64(0));
}

}  // namespace fivestar
