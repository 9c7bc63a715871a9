// The one way the services' PostgreSQL stores reach their database, the
// counterpart of common/sqlite_pool.h: a bounded set of connections opened
// as needed, a snapshot per read, and writes that run one at a time across
// every process on the database, as SQLite's single writer does, so that
// a store's etag checks, idempotent request ids and change-feed sequences
// mean the same on both engines.
//
// Durability: a write whose Write() returned OK was committed, and
// PostgreSQL's COMMIT returns once its WAL record is flushed (the default
// synchronous_commit=on): it survives a crash of the service and of the
// database server.
#ifndef FIVESTAR_COMMON_POSTGRES_POOL_H_
#define FIVESTAR_COMMON_POSTGRES_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/pool_work.h"
#include "common/postgres.h"
#include "common/sql_engine.h"

namespace fivestar {

// Connections to one database. Thread-safe.
//
// Read(fn) runs fn in a REPEATABLE READ, READ ONLY transaction: all its
// statements see one committed snapshot. Write(fn) runs fn in a
// transaction that first takes a transaction-scoped advisory lock, the
// database's one writer lock: writes run one at a time in this process
// and across every process on the database (replicas), committing in the
// order they took the lock, so that a sequence a write allocates as
// max + 1 is gapless and in commit order for every follower. fn's error
// rolls its transaction back. Without a free connection, a call waits up
// to `acquire_timeout`, then fails with UNAVAILABLE.
//
// A connection the server dropped (a restart, a failover) is discarded,
// and the next call opens a new one: a call that found its connection dead
// before anything ran is retried once on a fresh one, so a database that
// came back is used again without an error; one that is still away gives
// UNAVAILABLE.
class PostgresPool : public PoolWork<PostgresPool, PostgresConnection> {
 public:
  // What opens every write transaction: BEGIN, then the database's one
  // writer lock (a transaction-scoped advisory lock; "fivewrit" in ASCII,
  // another key than the migrations'). Tests take it on a connection of
  // their own to hold writers up as another process would.
  static constexpr absl::string_view kBeginWrite =
      "BEGIN; SELECT pg_advisory_xact_lock(7379559642591029620)";

  struct Options {
    // The most connections open at once (reads and writes together).
    int connections = 8;
    // How long a call waits for a free connection.
    absl::Duration acquire_timeout = absl::Seconds(5);
    PostgresConnection::Options connection;
  };

  // Connects once to apply `migrations` (under the migration lock), and
  // keeps that connection as the pool's first.
  static absl::StatusOr<std::unique_ptr<PostgresPool>> Open(
      const std::string& uri, absl::Span<const SchemaMigration> migrations,
      Options options);
  static absl::StatusOr<std::unique_ptr<PostgresPool>> Open(
      const std::string& uri, absl::Span<const SchemaMigration> migrations) {
    return Open(uri, migrations, Options());
  }

  using Database = PostgresConnection;
  using Statement = PgStatement;
  static constexpr SqlEngine kEngine = SqlEngine::kPostgres;

  // Runs `fn` in one read snapshot. Returns fn's result, or the error of
  // beginning or ending the transaction.
  absl::Status ReadWork(const Work& fn);
  // Runs `fn` in a write transaction holding the writer lock; returns once
  // it committed (or failed).
  absl::Status WriteWork(const Work& fn) { return WriteAloneWork(fn); }
  // The same (every PostgreSQL write is a transaction of its own; the name
  // is SqlitePool's, for large writes such as imports). With `roll_back`
  // its work is rolled back even when fn succeeds (dry runs).
  absl::Status WriteAloneWork(const Work& fn, bool roll_back = false);
  // Runs the write on the calling thread, then `done` with its result:
  // SqlitePool's WriteAsync, without the batching (each PostgreSQL write
  // commits on its own).
  void WriteAsync(const Work& fn,
                  const std::function<void(absl::Status)>& done) {
    done(WriteWork(fn));
  }

  // Called after every write transaction ended, before the next write of
  // this process starts (a batch of one, as SqlitePool's observer sees
  // batches): `committed` says whether it committed. Stores use it to
  // announce the newest feed sequence only after its COMMIT. It must not
  // call Write. Set it before the first write.
  void SetBatchObserver(std::function<void(bool committed)> observer) {
    batch_observer_ = std::move(observer);
  }

  // Connections open now, idle or in use (for tests and metrics).
  int open_connections() const;

 private:
  PostgresPool(std::string uri, Options options)
      : uri_(std::move(uri)), options_(std::move(options)) {}

  // A free connection, a new one when fewer than `connections` are open,
  // or UNAVAILABLE after acquire_timeout.
  absl::StatusOr<std::unique_ptr<PostgresConnection>> Acquire();
  // Back to the pool, or closed if the server dropped it or it was left
  // inside a transaction.
  void Release(std::unique_ptr<PostgresConnection> connection);
  // Runs `fn` between `begin` and COMMIT (ROLLBACK with `roll_back` or on
  // error) on a pooled connection, retrying once on a fresh connection
  // when `begin` found the connection dead.
  absl::Status InTransaction(absl::string_view begin, const Work& fn,
                             bool roll_back);

  const std::string uri_;
  const Options options_;
  std::function<void(bool)> batch_observer_;

  // Held by this process's writes from BEGIN to after the observer ran.
  absl::Mutex write_mu_;

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<PostgresConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_POSTGRES_POOL_H_
