// The storage side of a service's change feed, shared by every service's
// store on either engine: the feed's id (table feed_meta), the gapless
// `changes` table keyed by its sequence, and telling the feed's observer
// about the newest sequence once a write batch has committed.
#ifndef FIVESTAR_COMMON_CHANGE_LOG_H_
#define FIVESTAR_COMMON_CHANGE_LOG_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace fivestar {

// Writes through a pool (SqlitePool or PostgresPool) that append to a
// `changes` table (columns `sequence`, its key, and the service's own) and
// a `feed_meta` table holding the row ('feed_id', <id>).
//
// Sequences stay gapless and in commit order: a write allocates its
// sequence inside its transaction as MAX(sequence) + 1 (kNextSequenceSql),
// and writes run one at a time (SQLite's single writer; PostgreSQL's
// writer lock, across replicas too). Under SQLite's group commit a write
// rolled back to its savepoint takes its row with it, so the next write of
// the batch reuses the number.
template <typename Pool>
class ChangeLog {
 public:
  using Database = typename Pool::Database;

  // Reads the feed id through `pool` and becomes its batch observer.
  static absl::StatusOr<std::unique_ptr<ChangeLog>> Open(Pool* pool);

  const std::string& feed_id() const { return feed_id_; }

  // Called with the newest sequence of every write batch that appended to
  // the feed, after its COMMIT. Setting another (or nullptr) waits for a
  // call in progress to return.
  void SetCommitObserver(std::function<void(uint64_t)> observer) {
    absl::MutexLock lock(&observer_mu_);
    observer_ = std::move(observer);
  }

  // Called at the end of every write batch, committed or not, before the
  // commit observer and before any write function of a later batch runs
  // (and before the batch's writers return): `committed` says whether its
  // COMMIT succeeded, `newest` is the newest sequence it appended (0 when
  // none). A store uses it to update in-memory state kept in step with
  // its tables only once their transaction committed. It runs on the
  // batch's leader and must not call Write. Set it before the first write.
  void SetBatchHook(std::function<void(bool committed, uint64_t newest)> hook) {
    batch_hook_ = std::move(hook);
  }

  // SqlitePool::Write/WriteAlone for writes that may append to the feed: a
  // write function reports each sequence it appended with Appended().
  template <typename Fn>
  auto Write(Fn&& fn) {
    return pool_->Write([&](Database& db) { return Track(fn, db); });
  }
  template <typename Fn>
  auto WriteAlone(Fn&& fn, bool roll_back = false) {
    return pool_->WriteAlone([&](Database& db) { return Track(fn, db); },
                             roll_back);
  }

  // The pool's WriteAsync for a write that may append to the feed.
  void WriteAsync(typename Pool::Work fn,
                  std::function<void(absl::Status)> done) {
    pool_->WriteAsync(
        [this, fn = std::move(fn)](Database& db) -> absl::Status {
          // As Track does.
          appended_ = 0;
          absl::Status status = fn(db);
          if (status.ok()) batch_newest_ = std::max(batch_newest_, appended_);
          return status;
        },
        std::move(done));
  }

  // Inside a write function: it appended `sequence`.
  void Appended(uint64_t sequence) {
    appended_ = std::max(appended_, sequence);
  }

  // The newest sequence `db` sees (0 when the feed is empty).
  static absl::StatusOr<uint64_t> NewestSequence(Database& db) {
    ASSIGN_OR_RETURN(
        auto stmt,
        db.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM changes"));
    RETURN_IF_ERROR(stmt.Step().status());
    return static_cast<uint64_t>(stmt.ColumnInt64(0));
  }

  // The SQL expression of the next sequence, for the INSERT INTO changes.
  static constexpr const char* kNextSequenceSql =
      "(SELECT COALESCE(MAX(sequence), 0) + 1 FROM changes)";

 private:
  explicit ChangeLog(Pool* pool) : pool_(pool) {}

  template <typename Fn>
  auto Track(Fn& fn, Database& db) {
    appended_ = 0;
    auto result = fn(db);
    // A failed function is rolled back to its savepoint, entries and all.
    if (result.ok()) batch_newest_ = std::max(batch_newest_, appended_);
    return result;
  }

  void BatchEnded(bool committed) {
    const uint64_t newest = batch_newest_;
    batch_newest_ = 0;
    if (batch_hook_) batch_hook_(committed, newest);
    if (!committed || newest == 0) return;
    // Held during the call so that SetCommitObserver(nullptr) in an
    // observer's destructor waits for it.
    absl::MutexLock lock(&observer_mu_);
    if (observer_) observer_(newest);
  }

  Pool* pool_;
  std::string feed_id_;
  // Touched only by write functions and the batch observer, which the pool
  // runs one at a time.
  uint64_t appended_ = 0;
  uint64_t batch_newest_ = 0;
  std::function<void(bool, uint64_t)> batch_hook_;

  absl::Mutex observer_mu_;
  std::function<void(uint64_t)> observer_ ABSL_GUARDED_BY(observer_mu_);
};

template <typename Pool>
absl::StatusOr<std::unique_ptr<ChangeLog<Pool>>> ChangeLog<Pool>::Open(
    Pool* pool) {
  std::unique_ptr<ChangeLog> log(new ChangeLog(pool));
  ASSIGN_OR_RETURN(log->feed_id_,
                   pool->Read([](Database& db) -> absl::StatusOr<std::string> {
                     ASSIGN_OR_RETURN(auto stmt,
                                      db.Prepare("SELECT value FROM feed_meta "
                                                 "WHERE key = 'feed_id'"));
                     ASSIGN_OR_RETURN(bool row, stmt.Step());
                     if (!row) {
                       return absl::DataLossError("database has no feed_id");
                     }
                     return stmt.ColumnText(0);
                   }));
  ChangeLog* raw = log.get();
  pool->SetBatchObserver([raw](bool committed) { raw->BatchEnded(committed); });
  return log;
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CHANGE_LOG_H_
