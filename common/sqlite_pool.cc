#include "common/sqlite_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar {
namespace {

// Runs one statement of `sql` through `db`'s statement cache.
absl::Status RunCached(SqliteDatabase& db, absl::string_view sql) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  return stmt.Run();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlitePool>> SqlitePool::Open(
    const std::string& path, absl::Span<const SchemaMigration> migrations,
    Options options) {
  if (path == ":memory:") {
    return absl::InvalidArgumentError(
        "SqlitePool needs a database file: every connection to :memory: "
        "opens a database of its own");
  }
  if (options.readers < 1 || options.max_batch < 1 ||
      options.checkpoint_pages < 1 || options.writer_cache_kib < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SqlitePool needs readers >= 1, max_batch >= 1, checkpoint_pages >= 1 "
        "and writer_cache_kib >= 1, got ",
        options.readers, ", ", options.max_batch, ", ",
        options.checkpoint_pages, " and ", options.writer_cache_kib));
  }
  // The writer first: it switches the file to WAL and migrates the schema,
  // so the readers open onto the current one.
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> writer,
                   SqliteDatabase::Open(path));
  RETURN_IF_ERROR(writer->Migrate(migrations));
  RETURN_IF_ERROR(writer->Execute(
      absl::StrCat("PRAGMA cache_size=-", options.writer_cache_kib)));
  std::vector<std::unique_ptr<SqliteDatabase>> readers;
  for (int i = 0; i < options.readers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> reader,
                     SqliteDatabase::Open(path));
    RETURN_IF_ERROR(reader->Execute("PRAGMA query_only=1"));
    readers.push_back(std::move(reader));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> checkpointer,
                   SqliteDatabase::Open(path));
  return std::unique_ptr<SqlitePool>(new SqlitePool(
      std::move(writer), std::move(readers), std::move(checkpointer), options));
}

SqlitePool::SqlitePool(std::unique_ptr<SqliteDatabase> writer,
                       std::vector<std::unique_ptr<SqliteDatabase>> readers,
                       std::unique_ptr<SqliteDatabase> checkpointer,
                       Options options)
    : options_(options),
      writer_(std::move(writer)),
      readers_(std::move(readers)),
      checkpointer_(std::move(checkpointer)) {
  for (const auto& reader : readers_) free_readers_.push_back(reader.get());
  // Replaces SQLite's automatic checkpoint on the writer's COMMIT.
  writer_->SetWalHook([this](int pages) {
    if (pages < options_.checkpoint_pages) return;
    absl::MutexLock lock(&checkpoint_mu_);
    checkpoint_wanted_ = true;
  });
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

SqlitePool::~SqlitePool() {
  {
    absl::MutexLock lock(&checkpoint_mu_);
    stopping_ = true;
  }
  checkpoint_thread_.join();
}

void SqlitePool::CheckpointLoop() {
  absl::MutexLock lock(&checkpoint_mu_);
  while (true) {
    checkpoint_mu_.Await(absl::Condition(
        +[](SqlitePool* pool)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->checkpoint_mu_) {
               return pool->checkpoint_wanted_ || pool->stopping_;
             },
        this));
    // On destruction the last connection to close checkpoints what is left.
    if (stopping_) return;
    checkpoint_wanted_ = false;
    checkpoint_mu_.Unlock();
    absl::Status status =
        checkpointer_->Execute("PRAGMA wal_checkpoint(PASSIVE)");
    checkpoint_mu_.Lock();
    if (status.ok()) {
      ++checkpoints_;
    } else {
      // The next COMMIT past the threshold asks again.
      spdlog::warn("msg=checkpoint_failed error=\"{}\"",
                   std::string(status.message()));
    }
  }
}

absl::Status SqlitePool::ReadWork(const Work& fn) {
  SqliteDatabase* db = nullptr;
  {
    absl::MutexLock lock(&read_mu_);
    while (free_readers_.empty()) reader_freed_.Wait(&read_mu_);
    db = free_readers_.back();
    free_readers_.pop_back();
  }
  // A deferred transaction: its snapshot starts at the first read and holds
  // for every statement of fn.
  // BEGIN and COMMIT through the statement cache: a read is often a single
  // indexed SELECT, and parsing both every time showed in its profile.
  auto run = [db](absl::string_view sql) { return RunCached(*db, sql); };
  absl::Status status = run("BEGIN");
  if (status.ok()) {
    status = fn(*db);
    // Nothing to keep: ending the read only releases the snapshot.
    absl::Status end = run(status.ok() ? "COMMIT" : "ROLLBACK");
    if (status.ok()) status = end;
    if (db->InTransaction()) {
      spdlog::error("msg=read_transaction_left_open error=\"{}\"",
                    std::string(end.message()));
      (void)db->Execute("ROLLBACK");
    }
  }
  {
    absl::MutexLock lock(&read_mu_);
    free_readers_.push_back(db);
  }
  reader_freed_.Signal();
  return status;
}

absl::Status SqlitePool::WriteWork(const Work& fn) {
  PendingWrite write{&fn, /*alone=*/false, /*roll_back=*/false, false, {}, {},
                     {}};
  return Enqueue(&write);
}

absl::Status SqlitePool::WriteAloneWork(const Work& fn, bool roll_back) {
  PendingWrite write{&fn, /*alone=*/true, roll_back, false, {}, {}, {}};
  return Enqueue(&write);
}

void SqlitePool::WriteAsync(Work fn, std::function<void(absl::Status)> done) {
  auto* write =
      new PendingWrite{nullptr, /*alone=*/false, /*roll_back=*/false, false,
                       {},      std::move(fn),   std::move(done)};
  write->fn = &write->owned_fn;
  absl::MutexLock lock(&write_mu_);
  queue_.push_back(write);
  Drive(nullptr);
}

absl::Status SqlitePool::Enqueue(PendingWrite* write) {
  absl::MutexLock lock(&write_mu_);
  queue_.push_back(write);
  ++queued_sync_;
  Drive(write);
  return write->status;
}

void SqlitePool::Drive(PendingWrite* own) {
  while (true) {
    const bool own_pending = own != nullptr && !own->done;
    // Once this caller's own write is done, it leads on only for writes
    // nobody else would lead: async ones, with no Write() caller queued.
    if (!own_pending && (queue_.empty() || queued_sync_ > 0)) return;
    if (leading_) {
      // The running leader carries on after its batch (it checks again).
      if (!own_pending) return;
      batch_done_.Wait(&write_mu_);
      continue;
    }
    LeadOneBatch();
  }
}

void SqlitePool::LeadOneBatch() {
  // Lead the next batch from the front of the queue (which need not
  // include the caller's write; Drive leads again if not).
  leading_ = true;
  std::vector<PendingWrite*> batch;
  if (queue_.front()->alone) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  } else {
    while (!queue_.empty() && !queue_.front()->alone &&
           static_cast<int>(batch.size()) < options_.max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
  }
  for (PendingWrite* member : batch) {
    if (!member->async()) --queued_sync_;
  }
  write_mu_.Unlock();
  const bool committed = RunBatch(batch);
  write_mu_.Lock();
  if (committed) ++commits_;
  // The async writes end here (their callers are not waiting); the next
  // batch may start while their callbacks run.
  std::vector<PendingWrite*> finished;
  for (PendingWrite* member : batch) {
    if (member->async()) {
      finished.push_back(member);
    } else {
      member->done = true;
    }
  }
  leading_ = false;
  batch_done_.SignalAll();
  if (finished.empty()) return;
  write_mu_.Unlock();
  for (PendingWrite* write : finished) {
    write->on_done(write->status);
    delete write;
  }
  write_mu_.Lock();
}

bool SqlitePool::RunBatch(absl::Span<PendingWrite* const> batch) {
  SqliteDatabase& db = *writer_;
  auto end = [&](bool committed) {
    if (batch_observer_) batch_observer_(committed);
    return committed;
  };
  // IMMEDIATE: take the write lock up front, so no statement fails midway
  // for want of it.
  absl::Status begin = db.Execute("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (PendingWrite* write : batch) write->status = begin;
    return end(false);
  }
  bool any_ok = false;
  for (PendingWrite* write : batch) {
    // SAVEPOINT and RELEASE through the statement cache: they run twice
    // per write on the one writer, and parsing them showed in profiles.
    absl::Status status = RunCached(db, "SAVEPOINT write");
    if (status.ok()) {
      status = (*write->fn)(db);
      if (db.InTransaction()) {
        if (!status.ok()) {
          // Undo fn's work only; the savepoint ends either way.
          absl::Status undo = db.Execute("ROLLBACK TO write");
          if (undo.ok()) undo = db.Execute("RELEASE write");
          if (!undo.ok()) {
            spdlog::error("msg=savepoint_rollback_failed error=\"{}\"",
                          std::string(undo.message()));
          }
        } else {
          status = RunCached(db, "RELEASE write");
        }
      }
    }
    write->status = status;
    if (!db.InTransaction()) break;  // SQLite rolled it all back (see below).
    any_ok = any_ok || status.ok();
  }
  if (!db.InTransaction()) {
    // After some errors (I/O, out of memory) SQLite rolls the whole
    // transaction back: nothing of this batch was kept.
    const absl::Status lost = absl::AbortedError(
        "the write's transaction was rolled back after an error in the same "
        "batch; retry");
    for (PendingWrite* write : batch) {
      if (write->status.ok()) write->status = lost;
    }
    return end(false);
  }
  const bool roll_back = batch.size() == 1 && batch.front()->roll_back;
  if (!any_ok || roll_back) {
    absl::Status status = db.Execute("ROLLBACK");
    if (!status.ok()) {
      spdlog::error("msg=rollback_failed error=\"{}\"",
                    std::string(status.message()));
    }
    return end(false);
  }
  absl::Status commit = db.Execute("COMMIT");
  if (!commit.ok()) {
    // A failed COMMIT (a deferred constraint, a full disk) may leave the
    // transaction open; none of the batch is kept.
    if (db.InTransaction()) {
      absl::Status status = db.Execute("ROLLBACK");
      if (!status.ok()) {
        spdlog::error("msg=rollback_failed error=\"{}\"",
                      std::string(status.message()));
      }
    }
    for (PendingWrite* write : batch) {
      if (write->status.ok()) write->status = commit;
    }
    return end(false);
  }
  return end(true);
}

int64_t SqlitePool::checkpoints() const {
  absl::MutexLock lock(&checkpoint_mu_);
  return checkpoints_;
}

int64_t SqlitePool::commits() const {
  absl::MutexLock lock(&write_mu_);
  return commits_;
}

int SqlitePool::queued_writes() const {
  absl::MutexLock lock(&write_mu_);
  return static_cast<int>(queue_.size());
}

}  // namespace fivestar
