// Tests of common/sqlite_pool: parallel reads, reads beside an open write,
// group commit and its failure modes, asynchronous writes, on a real SQLite
// file.
#include "common/sqlite_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;

// `children` point at `parents` through a foreign key checked only at
// COMMIT, which lets a test make a COMMIT fail.
const std::vector<SchemaMigration> kMigrations = {
    {1, "villages",
     "CREATE TABLE villages (id TEXT PRIMARY KEY);"
     "CREATE TABLE parents (id TEXT PRIMARY KEY);"
     "CREATE TABLE children (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL "
     " REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);"},
};

absl::Status InsertVillage(SqliteDatabase& db, const std::string& id) {
  absl::StatusOr<SqliteStatement> stmt =
      db.Prepare("INSERT INTO villages(id) VALUES(?)");
  if (!stmt.ok()) return stmt.status();
  return stmt->Bind(1, id).Run();
}

absl::StatusOr<int64_t> CountRows(SqliteDatabase& db,
                                  const std::string& table) {
  absl::StatusOr<SqliteStatement> stmt =
      db.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table));
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return stmt->ColumnInt64(0);
}

class SqlitePoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(pool_,
                         SqlitePool::Open(dir_.File("pool.db"), kMigrations));
  }

  absl::StatusOr<int64_t> Count(const std::string& table) {
    return pool_->Read(
        [&](SqliteDatabase& db) { return CountRows(db, table); });
  }

  // Starts a write that blocks inside its function until `release_` is
  // notified, and returns once it is running: writes started after it queue
  // up behind it and form the next batch.
  void StartBlockingWrite() {
    blocker_ = std::thread([this] {
      blocker_status_ = pool_->Write([this](SqliteDatabase& db) {
        absl::Status status = InsertVillage(db, "blocker");
        running_.Notify();
        release_.WaitForNotification();
        return status;
      });
    });
    running_.WaitForNotification();
  }

  // Waits until `n` writes wait for their batch (they cannot go anywhere
  // while the blocking write runs).
  void AwaitQueued(int n) {
    while (pool_->queued_writes() < n) absl::SleepFor(absl::Milliseconds(1));
  }

  void FinishBlockingWrite() {
    release_.Notify();
    blocker_.join();
    EXPECT_OK(blocker_status_);
  }

  fivestar::testing::TempDir dir_;
  std::unique_ptr<SqlitePool> pool_;
  std::thread blocker_;
  absl::Status blocker_status_;
  absl::Notification running_;
  absl::Notification release_;
};

TEST_F(SqlitePoolTest, ReadersRunInParallel) {
  // Each read waits inside its function until both have arrived: they can
  // only finish if they run at the same time.
  absl::Barrier both(2);
  auto read = [&] {
    return pool_->Read([&](SqliteDatabase& db) {
      both.Block();
      return CountRows(db, "villages");
    });
  };
  absl::StatusOr<int64_t> first;
  std::thread other([&] { first = read(); });
  EXPECT_THAT(read(), IsOkAndHolds(0));
  other.join();
  EXPECT_THAT(first, IsOkAndHolds(0));
}

TEST_F(SqlitePoolTest, ReadDoesNotWaitForAnOpenWrite) {
  ASSERT_OK(pool_->Write(
      [](SqliteDatabase& db) { return InsertVillage(db, "before"); }));
  StartBlockingWrite();
  // The write's transaction is open and holds an uncommitted row.
  EXPECT_THAT(Count("villages"), IsOkAndHolds(1));
  FinishBlockingWrite();
  EXPECT_THAT(Count("villages"), IsOkAndHolds(2));
}

TEST_F(SqlitePoolTest, ReadSeesOneSnapshot) {
  absl::Notification first_counted, written;
  std::thread reader([&] {
    absl::StatusOr<std::pair<int64_t, int64_t>> counts = pool_->Read(
        [&](SqliteDatabase& db) -> absl::StatusOr<std::pair<int64_t, int64_t>> {
          ASSIGN_OR_RETURN(int64_t before, CountRows(db, "villages"));
          first_counted.Notify();
          written.WaitForNotification();
          ASSIGN_OR_RETURN(int64_t after, CountRows(db, "villages"));
          return std::make_pair(before, after);
        });
    EXPECT_THAT(counts, IsOkAndHolds(std::make_pair(0, 0)));
  });
  first_counted.WaitForNotification();
  EXPECT_OK(pool_->Write(
      [](SqliteDatabase& db) { return InsertVillage(db, "during"); }));
  written.Notify();
  reader.join();
  EXPECT_THAT(Count("villages"), IsOkAndHolds(1));
}

TEST_F(SqlitePoolTest, ReadersCannotWrite) {
  EXPECT_THAT(pool_->Read([](SqliteDatabase& db) {
    return InsertVillage(db, "sneaky");
  }),
              StatusIs(absl::StatusCode::kInternal, ""));
  EXPECT_THAT(Count("villages"), IsOkAndHolds(0));
}

TEST_F(SqlitePoolTest, ConcurrentWritesShareACommit) {
  constexpr int kWriters = 8;
  StartBlockingWrite();
  const int64_t commits_before = pool_->commits();
  std::vector<absl::Status> statuses(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      statuses[i] = pool_->Write([i](SqliteDatabase& db) {
        return InsertVillage(db, absl::StrCat("v", i));
      });
    });
  }
  AwaitQueued(kWriters);
  FinishBlockingWrite();
  for (std::thread& writer : writers) writer.join();
  for (const absl::Status& status : statuses) EXPECT_OK(status);
  // The blocking write's batch, then one batch for all eight.
  EXPECT_EQ(pool_->commits() - commits_before, 2);
  EXPECT_THAT(Count("villages"), IsOkAndHolds(kWriters + 1));
}

TEST_F(SqlitePoolTest, FailingWriteLeavesNothingAndSparesItsBatch) {
  StartBlockingWrite();
  absl::Status good1, bad, good2;
  std::thread t1([&] {
    good1 = pool_->Write(
        [](SqliteDatabase& db) { return InsertVillage(db, "good1"); });
  });
  AwaitQueued(1);
  std::thread t2([&] {
    bad = pool_->Write([](SqliteDatabase& db) -> absl::Status {
      RETURN_IF_ERROR(InsertVillage(db, "bad"));
      return absl::FailedPreconditionError("changed my mind");
    });
  });
  AwaitQueued(2);
  std::thread t3([&] {
    good2 = pool_->Write(
        [](SqliteDatabase& db) { return InsertVillage(db, "good2"); });
  });
  AwaitQueued(3);
  const int64_t commits_before = pool_->commits();
  FinishBlockingWrite();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_OK(good1);
  EXPECT_THAT(
      bad, StatusIs(absl::StatusCode::kFailedPrecondition, "changed my mind"));
  EXPECT_OK(good2);
  EXPECT_EQ(pool_->commits() - commits_before, 2);
  EXPECT_THAT(pool_->Read([](SqliteDatabase& db) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(SqliteStatement stmt,
                     db.Prepare("SELECT 1 FROM villages WHERE id = 'bad'"));
    return stmt.Step();
  }),
              IsOkAndHolds(false));
  EXPECT_THAT(Count("villages"), IsOkAndHolds(3));
}

TEST_F(SqlitePoolTest, FailedCommitFailsEveryWriteOfTheBatch) {
  StartBlockingWrite();
  absl::Status dangling, innocent;
  std::thread t1([&] {
    // Passes its savepoint; the deferred foreign key fails the COMMIT.
    dangling = pool_->Write([](SqliteDatabase& db) {
      return db.Execute(
          "INSERT INTO children(id, parent_id) VALUES('c', 'nobody')");
    });
  });
  AwaitQueued(1);
  std::thread t2([&] {
    innocent = pool_->Write(
        [](SqliteDatabase& db) { return InsertVillage(db, "innocent"); });
  });
  AwaitQueued(2);
  const int64_t commits_before = pool_->commits();
  FinishBlockingWrite();
  t1.join();
  t2.join();
  EXPECT_THAT(dangling, StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_THAT(innocent, StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_EQ(pool_->commits() - commits_before, 1);  // The blocker's only.
  EXPECT_THAT(Count("children"), IsOkAndHolds(0));
  EXPECT_THAT(Count("villages"), IsOkAndHolds(1));  // The blocker's row.
  // The writer is usable afterwards.
  EXPECT_OK(pool_->Write(
      [](SqliteDatabase& db) { return InsertVillage(db, "after"); }));
  EXPECT_THAT(Count("villages"), IsOkAndHolds(2));
}

TEST_F(SqlitePoolTest, WriteAloneRunsAsItsOwnBatch) {
  StartBlockingWrite();
  absl::Status small1, large, small2;
  std::thread t1([&] {
    small1 = pool_->Write(
        [](SqliteDatabase& db) { return InsertVillage(db, "small1"); });
  });
  AwaitQueued(1);
  std::thread t2([&] {
    large = pool_->WriteAlone(
        [](SqliteDatabase& db) { return InsertVillage(db, "large"); });
  });
  AwaitQueued(2);
  std::thread t3([&] {
    small2 = pool_->Write(
        [](SqliteDatabase& db) { return InsertVillage(db, "small2"); });
  });
  AwaitQueued(3);
  const int64_t commits_before = pool_->commits();
  FinishBlockingWrite();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_OK(small1);
  EXPECT_OK(large);
  EXPECT_OK(small2);
  // Blocker, small1, large, small2: the large write shares with nobody.
  EXPECT_EQ(pool_->commits() - commits_before, 4);
  EXPECT_THAT(Count("villages"), IsOkAndHolds(4));
}

TEST_F(SqlitePoolTest, RolledBackWriteKeepsNothing) {
  EXPECT_THAT(pool_->WriteAlone(
                  [](SqliteDatabase& db) -> absl::StatusOr<int> {
                    RETURN_IF_ERROR(InsertVillage(db, "dry"));
                    return 7;
                  },
                  /*roll_back=*/true),
              IsOkAndHolds(7));
  EXPECT_EQ(pool_->commits(), 0);
  EXPECT_THAT(Count("villages"), IsOkAndHolds(0));
}

TEST_F(SqlitePoolTest, BatchObserverHearsOfEachBatchAfterItEnds) {
  std::vector<std::pair<bool, int64_t>> seen;  // Committed, rows then.
  pool_->SetBatchObserver([&](bool committed) {
    seen.emplace_back(committed, *Count("villages"));
  });
  ASSERT_OK(pool_->Write(
      [](SqliteDatabase& db) { return InsertVillage(db, "one"); }));
  EXPECT_THAT(
      pool_->Write([](SqliteDatabase& db) { return InsertVillage(db, "one"); }),
      StatusIs(absl::StatusCode::kAlreadyExists, ""));
  EXPECT_THAT(seen, ::testing::ElementsAre(std::make_pair(true, 1),
                                           std::make_pair(false, 1)));
}

TEST_F(SqlitePoolTest, AsyncWritesShareOneCommitAndReportAfterIt) {
  StartBlockingWrite();
  // Queued behind the running batch: WriteAsync returns at once.
  constexpr int kWrites = 50;
  std::vector<absl::Status> results(kWrites, absl::UnknownError("not run"));
  std::vector<int64_t> commits_seen(kWrites, -1);
  for (int i = 0; i < kWrites; ++i) {
    pool_->WriteAsync(
        [i](SqliteDatabase& db) -> absl::Status {
          if (i == 7) {
            // Rolled back to its savepoint alone.
            RETURN_IF_ERROR(InsertVillage(db, "seven"));
            return absl::FailedPreconditionError("write 7 refuses");
          }
          return InsertVillage(db, absl::StrCat("v", i));
        },
        [&, i](absl::Status status) {
          results[i] = status;
          commits_seen[i] = pool_->commits();
        });
  }
  EXPECT_EQ(pool_->queued_writes(), kWrites);
  for (const absl::Status& result : results) {
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnknown, "not run"));
  }
  // The blocking write's thread leads its own batch, then the async batch
  // (no Write() caller is left to lead it) before its Write() returns.
  FinishBlockingWrite();
  EXPECT_EQ(pool_->queued_writes(), 0);
  EXPECT_EQ(pool_->commits(), 2);
  for (int i = 0; i < kWrites; ++i) {
    if (i == 7) {
      EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kFailedPrecondition,
                                       "write 7 refuses"));
    } else {
      EXPECT_OK(results[i]);
    }
    // Each callback ran after the COMMIT that holds its write.
    EXPECT_EQ(commits_seen[i], 2);
  }
  EXPECT_THAT(Count("villages"), IsOkAndHolds(1 + kWrites - 1));
}

TEST_F(SqlitePoolTest, AsyncWriteWithNoBatchRunningIsLedByItsCaller) {
  absl::Status result = absl::UnknownError("not run");
  pool_->WriteAsync(
      [](SqliteDatabase& db) { return InsertVillage(db, "alone"); },
      [&](absl::Status status) { result = status; });
  // Nothing else was running: the caller led the batch and the callback ran
  // before WriteAsync returned.
  EXPECT_OK(result);
  EXPECT_EQ(pool_->commits(), 1);
  EXPECT_THAT(Count("villages"), IsOkAndHolds(1));
}

// Writes `writes` commits of 50 villages whose ids are 8,000 characters
// long: about 100 pages of write-ahead log each.
void WriteLargeRows(SqlitePool& pool, int writes) {
  for (int w = 0; w < writes; ++w) {
    ASSERT_OK(pool.Write([w](SqliteDatabase& db) -> absl::Status {
      for (int i = 0; i < 50; ++i) {
        RETURN_IF_ERROR(InsertVillage(
            db, absl::StrCat(w, "-", i, "-", std::string(8000, 'x'))));
      }
      return absl::OkStatus();
    }));
  }
}

TEST(SqlitePoolCheckpointTest, CommitsDoNotCheckpointThemselves) {
  fivestar::testing::TempDir dir;
  const std::string path = dir.File("pool.db");
  SqlitePool::Options options;
  options.checkpoint_pages = 1'000'000;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqlitePool> pool,
                       SqlitePool::Open(path, kMigrations, options));
  // About 1,200 pages: past SQLite's own automatic threshold (1,000), which
  // would have copied them into the database file inside a COMMIT.
  WriteLargeRows(*pool, 12);
  EXPECT_EQ(pool->checkpoints(), 0);
  EXPECT_LT(std::filesystem::file_size(path), 100'000u);
  EXPECT_GT(std::filesystem::file_size(path + "-wal"), 4'000'000u);
  EXPECT_THAT(
      pool->Read([](SqliteDatabase& db) { return CountRows(db, "villages"); }),
      IsOkAndHolds(600));
}

TEST(SqlitePoolCheckpointTest,
     TheCheckpointThreadCopiesTheLogPastTheThreshold) {
  fivestar::testing::TempDir dir;
  const std::string path = dir.File("pool.db");
  SqlitePool::Options options;
  options.checkpoint_pages = 50;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqlitePool> pool,
                       SqlitePool::Open(path, kMigrations, options));
  WriteLargeRows(*pool, 12);
  // Each COMMIT left over 50 pages, so a checkpoint was asked for; it runs
  // on its own thread, so wait for it (bounded: a hung thread fails).
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (pool->checkpoints() < 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_GE(pool->checkpoints(), 1);
  // The first COMMIT alone put about 100 pages (400 kB) into the file.
  EXPECT_GT(std::filesystem::file_size(path), 400'000u);
  EXPECT_THAT(
      pool->Read([](SqliteDatabase& db) { return CountRows(db, "villages"); }),
      IsOkAndHolds(600));
}

TEST(SqlitePoolOptionsTest, TheWriterKeepsAPageCacheOfTheGivenSize) {
  fivestar::testing::TempDir dir;
  SqlitePool::Options options;
  options.writer_cache_kib = 12345;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SqlitePool> pool,
      SqlitePool::Open(dir.File("pool.db"), kMigrations, options));
  auto cache_size = [](SqliteDatabase& db) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare("PRAGMA cache_size"));
    RETURN_IF_ERROR(stmt.Step().status());
    return stmt.ColumnInt64(0);
  };
  // Negative: KiB rather than pages. Readers keep SQLite's default.
  EXPECT_THAT(pool->Write(cache_size), IsOkAndHolds(-12345));
  EXPECT_THAT(pool->Read(cache_size), IsOkAndHolds(-2000));
}

TEST(SqlitePoolCheckpointTest, RefusesACheckpointThresholdBelowOne) {
  fivestar::testing::TempDir dir;
  SqlitePool::Options options;
  options.checkpoint_pages = 0;
  EXPECT_THAT(
      SqlitePool::Open(dir.File("pool.db"), kMigrations, options),
      StatusIs(absl::StatusCode::kInvalidArgument, "checkpoint_pages >= 1"));
}

}  // namespace
}  // namespace fivestar
