#include "common/postgres_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fivestar {

namespace {

constexpr absl::string_view kBeginRead =
    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresPool>> PostgresPool::Open(
    const std::string& uri, absl::Span<const SchemaMigration> migrations,
    Options options) {
  if (options.connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connections: must be at least 1, got ", options.connections));
  }
  std::unique_ptr<PostgresPool> pool(new PostgresPool(uri, std::move(options)));
  absl::StatusOr<std::unique_ptr<PostgresConnection>> first = pool->Acquire();
  if (!first.ok()) return first.status();
  absl::Status migrated = (*first)->Migrate(migrations);
  pool->Release(*std::move(first));
  if (!migrated.ok()) return migrated;
  return pool;
}

int PostgresPool::open_connections() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresPool::Acquire() {
  mu_.Lock();
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < options_.connections;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available),
                            options_.acquire_timeout)) {
    mu_.Unlock();
    return absl::UnavailableError(
        absl::StrCat("all ", options_.connections,
                     " connections to the database are busy (waited ",
                     absl::FormatDuration(options_.acquire_timeout), ")"));
  }
  if (!idle_.empty()) {
    std::unique_ptr<PostgresConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    mu_.Unlock();
    return connection;
  }
  ++open_;
  mu_.Unlock();
  // Connecting may take up to connect_timeout: not under the lock.
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      PostgresConnection::Connect(uri_, options_.connection);
  if (!connection.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return connection;
}

void PostgresPool::Release(std::unique_ptr<PostgresConnection> connection) {
  const bool reusable = connection->ok() && !connection->InTransaction();
  if (!reusable) connection.reset();  // Closed outside the lock.
  absl::MutexLock lock(&mu_);
  if (reusable) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
}

absl::Status PostgresPool::InTransaction(absl::string_view begin,
                                         const Work& fn, bool roll_back) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<PostgresConnection>> acquired = Acquire();
    if (!acquired.ok()) return acquired.status();
    std::unique_ptr<PostgresConnection> connection = *std::move(acquired);
    absl::Status status = connection->Execute(begin);
    if (!status.ok()) {
      // An idle connection the server dropped meanwhile (a restart): once
      // more on a fresh one, since nothing of fn ran.
      const bool dead = !connection->ok();
      Release(std::move(connection));
      if (dead && attempt == 0) continue;
      return status;
    }
    status = fn(*connection);
    if (status.ok() && connection->ok() && !connection->InTransaction()) {
      status = absl::InternalError(
          "the work ended its transaction itself (COMMIT or ROLLBACK inside)");
    }
    if (status.ok() && !roll_back) {
      // COMMIT of a transaction a failed statement aborted reports success
      // (and rolls back): refuse it here instead.
      status = connection->TransactionFailed()
                   ? absl::InternalError(
                         "a statement failed inside the transaction and the "
                         "work went on as if it had not")
                   : connection->Execute("COMMIT");
    }
    if ((!status.ok() || roll_back) && connection->ok() &&
        connection->InTransaction()) {
      connection->Execute("ROLLBACK").IgnoreError();
    }
    Release(std::move(connection));
    return status;
  }
}

absl::Status PostgresPool::ReadWork(const Work& fn) {
  return InTransaction(kBeginRead, fn, /*roll_back=*/false);
}

absl::Status PostgresPool::WriteAloneWork(const Work& fn, bool roll_back) {
  absl::MutexLock lock(&write_mu_);
  absl::Status status = InTransaction(kBeginWrite, fn, roll_back);
  if (batch_observer_) batch_observer_(status.ok() && !roll_back);
  return status;
}

}  // namespace fivestar
