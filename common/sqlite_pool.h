// The one way the services' SQLite stores reach their database file: one
// writer connection and a few reader connections, so that reads run beside
// each other and beside the writer (WAL), and concurrent small writes share
// one commit (group commit).
//
// Durability: every connection runs with synchronous=FULL, so a write whose
// Write() returned OK is in a COMMIT that was fsynced to the WAL before
// Write() returned; it survives a process crash and a power loss (to the
// extent the disk honours fsync). Group commit does not weaken this: a
// writer is woken only after the COMMIT that holds its write is durable. It
// only lets one fsync serve several writers. A write whose Write() returned
// an error left nothing behind. WriteAsync() promises the same of the status
// its callback receives: the callback runs only after the COMMIT that holds
// the write returned (fsynced), or after the write failed.
#ifndef FIVESTAR_COMMON_SQLITE_POOL_H_
#define FIVESTAR_COMMON_SQLITE_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/pool_work.h"
#include "common/sql_engine.h"
#include "common/sqlite.h"

namespace fivestar {

// A connection set for one database file: one writer, `readers` readers
// opened with PRAGMA query_only=1. Thread-safe.
//
// Read(fn) runs fn on a free reader inside a read transaction, so all its
// statements see one committed snapshot; it waits only for a free reader,
// never for the writer. Write(fn) runs fn on the writer inside its own
// SAVEPOINT of a transaction it may share with other concurrent writes: fn's
// error rolls back fn's work only and is returned to its caller alone; the
// others still commit. One COMMIT then serves the whole batch; if it fails,
// every write of the batch fails with its error. Write functions run one at
// a time (on whichever writer leads the batch), so state touched only inside
// write functions needs no lock of its own.
//
// WriteAsync(fn, done) queues a write without waiting for it: the calling
// thread returns at once unless no batch is running, in which case it leads
// batches until no write is left that a waiting Write() caller will lead.
// So a server thread is not parked per write in flight, and a batch can
// hold every write in flight (up to max_batch), not one per thread.
//
// Checkpoints (copying the write-ahead log back into the database file) run
// on a thread of the pool's own, on a connection of its own, once a COMMIT
// leaves checkpoint_pages or more in the log: not inside the COMMIT of
// whichever write happened to cross SQLite's threshold, where every write
// queued behind it waited for the copy. They are PASSIVE, as SQLite's own
// automatic checkpoints are: they never wait for readers or writers, and
// they change nothing a reader sees nor what is durable.
class SqlitePool : public PoolWork<SqlitePool, SqliteDatabase> {
 public:
  struct Options {
    // Reader connections; reads beyond this many wait for a free one.
    int readers = 4;
    // The most writes one COMMIT serves.
    int max_batch = 64;
    // Pages in the write-ahead log after a COMMIT that start a background
    // checkpoint (SQLite's own automatic threshold is 1000).
    int checkpoint_pages = 1000;
    // The writer's page cache, in KiB. A large write (an import: one
    // transaction of millions of rows) re-reads from the WAL every B-tree
    // page that fell out of it; with SQLite's default (2 MiB) a province's
    // import spent most of its time there. Memory is taken only as pages
    // are used.
    int writer_cache_kib = 64 * 1024;
  };

  // Opens the file at `path` (a file: ":memory:" would give each connection
  // its own database), applies `migrations` on the writer, then opens the
  // readers.
  static absl::StatusOr<std::unique_ptr<SqlitePool>> Open(
      const std::string& path, absl::Span<const SchemaMigration> migrations,
      Options options);
  static absl::StatusOr<std::unique_ptr<SqlitePool>> Open(
      const std::string& path, absl::Span<const SchemaMigration> migrations) {
    return Open(path, migrations, Options());
  }

  using Database = SqliteDatabase;
  using Statement = SqliteStatement;
  static constexpr SqlEngine kEngine = SqlEngine::kSqlite;

  // Runs `fn` in one read snapshot on a free reader. Returns fn's result,
  // or the error of beginning or ending the read transaction.
  absl::Status ReadWork(const Work& fn);
  // Runs `fn` in a SAVEPOINT of a group-committed transaction on the
  // writer; returns when its batch committed (or failed).
  absl::Status WriteWork(const Work& fn);
  // Queues `fn` to run as WriteWork does, and returns without waiting for
  // its batch (unless this thread leads it, see the class comment); `done`
  // receives fn's result, or the error of the batch's BEGIN or COMMIT,
  // after the COMMIT (on the thread that led the batch: it must not block
  // nor call Write).
  void WriteAsync(Work fn, std::function<void(absl::Status)> done);
  // Runs `fn` alone in its own transaction (for large writes such as
  // imports, which should not hold small writes' commit hostage). With
  // `roll_back` its work is rolled back even when fn succeeds (dry runs).
  absl::Status WriteAloneWork(const Work& fn, bool roll_back = false);

  // Called by the leader of every write batch after it ended, still before
  // any write function of a later batch runs: `committed` says whether the
  // batch's COMMIT succeeded. Stores use it to announce the newest sequence
  // of a batch only after its COMMIT. It must not call Write. Set it before
  // the first write.
  void SetBatchObserver(std::function<void(bool committed)> observer) {
    batch_observer_ = std::move(observer);
  }

  // Stops the checkpoint thread, then closes the connections.
  ~SqlitePool();
  SqlitePool(const SqlitePool&) = delete;
  SqlitePool& operator=(const SqlitePool&) = delete;

  // Successful COMMITs so far (for tests and metrics).
  int64_t commits() const;
  // Background checkpoints run so far (for tests and metrics).
  int64_t checkpoints() const;
  // Writes waiting for their batch to start (for tests and metrics).
  int queued_writes() const;

 private:
  struct PendingWrite {
    const Work* fn;
    bool alone;
    bool roll_back;
    bool done = false;
    absl::Status status;
    // For WriteAsync: the write owns its function and is deleted after
    // `on_done` ran.
    Work owned_fn;
    std::function<void(absl::Status)> on_done;
    bool async() const { return on_done != nullptr; }
  };

  SqlitePool(std::unique_ptr<SqliteDatabase> writer,
             std::vector<std::unique_ptr<SqliteDatabase>> readers,
             std::unique_ptr<SqliteDatabase> checkpointer, Options options);

  absl::Status Enqueue(PendingWrite* write);
  // With write_mu_ held: leads batches while `own` (null for WriteAsync) is
  // not done, then while writes are queued that no waiting Write() caller
  // will lead.
  void Drive(PendingWrite* own) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // With write_mu_ held and no batch running: runs the next batch (the
  // lock released meanwhile), then the callbacks of its async writes.
  void LeadOneBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Runs one batch on the writer (the caller leads it) and sets each
  // write's status; true when it committed.
  bool RunBatch(absl::Span<PendingWrite* const> batch);
  // The checkpoint thread: a PASSIVE checkpoint each time the writer's WAL
  // hook asks for one, until the pool is destroyed.
  void CheckpointLoop();

  const Options options_;
  std::unique_ptr<SqliteDatabase> writer_;  // Used only by the leader.
  std::function<void(bool)> batch_observer_;

  mutable absl::Mutex write_mu_;
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(write_mu_);
  bool leading_ ABSL_GUARDED_BY(write_mu_) = false;
  // Write() callers whose write is still in queue_.
  int queued_sync_ ABSL_GUARDED_BY(write_mu_) = 0;
  int64_t commits_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::CondVar batch_done_;

  absl::Mutex read_mu_;
  std::vector<std::unique_ptr<SqliteDatabase>> readers_;
  std::vector<SqliteDatabase*> free_readers_ ABSL_GUARDED_BY(read_mu_);
  absl::CondVar reader_freed_;

  // Used only by the checkpoint thread.
  std::unique_ptr<SqliteDatabase> checkpointer_;
  mutable absl::Mutex checkpoint_mu_;
  bool checkpoint_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  int64_t checkpoints_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  // Last: started once everything it uses exists.
  std::thread checkpoint_thread_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQLITE_POOL_H_
