// The storage side of a service's change feed on SQLite, shared by every
// service's store: the feed's id (table feed_meta), the gapless `changes`
// table whose INTEGER PRIMARY KEY is the sequence, and telling the feed's
// observer about the newest sequence once a write batch has committed.
#ifndef FIVESTAR_COMMON_SQLITE_FEED_H_
#define FIVESTAR_COMMON_SQLITE_FEED_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sqlite.h"
#include "common/sqlite_pool.h"

namespace fivestar {

// Writes through a SqlitePool that append to a `changes` table (columns
// `sequence INTEGER PRIMARY KEY` and the service's own) and a `feed_meta`
// table holding the row ('feed_id', <id>).
//
// Sequences stay gapless under group commit: a write allocates its sequence
// inside the batch's transaction as MAX(sequence) + 1 (NextSequenceSql()),
// and a write rolled back to its savepoint takes its row with it, so the
// next write of the batch reuses the number.
class SqliteChangeLog {
 public:
  // Reads the feed id through `pool` and becomes its batch observer.
  static absl::StatusOr<std::unique_ptr<SqliteChangeLog>> Open(
      SqlitePool* pool);

  const std::string& feed_id() const { return feed_id_; }

  // Called with the newest sequence of every write batch that appended to
  // the feed, after its COMMIT. Setting another (or nullptr) waits for a
  // call in progress to return.
  void SetCommitObserver(std::function<void(uint64_t)> observer);

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
    return pool_->Write([&](SqliteDatabase& db) { return Track(fn, db); });
  }
  template <typename Fn>
  auto WriteAlone(Fn&& fn, bool roll_back = false) {
    return pool_->WriteAlone([&](SqliteDatabase& db) { return Track(fn, db); },
                             roll_back);
  }

  // SqlitePool::WriteAsync for a write that may append to the feed.
  void WriteAsync(SqlitePool::Work fn, std::function<void(absl::Status)> done) {
    pool_->WriteAsync(
        [this, fn = std::move(fn)](SqliteDatabase& db) -> absl::Status {
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
  static absl::StatusOr<uint64_t> NewestSequence(SqliteDatabase& db);

  // The SQL expression of the next sequence, for the INSERT INTO changes.
  static constexpr const char* kNextSequenceSql =
      "(SELECT COALESCE(MAX(sequence), 0) + 1 FROM changes)";

 private:
  explicit SqliteChangeLog(SqlitePool* pool) : pool_(pool) {}

  template <typename Fn>
  auto Track(Fn& fn, SqliteDatabase& db) {
    appended_ = 0;
    auto result = fn(db);
    // A failed function is rolled back to its savepoint, entries and all.
    if (result.ok()) batch_newest_ = std::max(batch_newest_, appended_);
    return result;
  }

  void BatchEnded(bool committed);

  SqlitePool* pool_;
  std::string feed_id_;
  // Touched only by write functions and the batch observer, which the pool
  // runs one at a time.
  uint64_t appended_ = 0;
  uint64_t batch_newest_ = 0;
  std::function<void(bool, uint64_t)> batch_hook_;

  absl::Mutex observer_mu_;
  std::function<void(uint64_t)> observer_ ABSL_GUARDED_BY(observer_mu_);
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQLITE_FEED_H_
