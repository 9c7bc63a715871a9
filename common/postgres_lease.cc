#include "common/postgres_lease.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/logging.h"
#include "common/status.h"

namespace fivestar {

PostgresLease::PostgresLease(PostgresLeaseOptions options)
    : options_(std::move(options)) {}

PostgresLease::~PostgresLease() { Stop(); }

void PostgresLease::Start() {
  if (thread_.joinable() || stopping_.HasBeenNotified()) return;
  thread_ = std::thread([this] { Run(); });
}

void PostgresLease::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (thread_.joinable()) thread_.join();
}

void PostgresLease::Run() {
  do {
    Check();
  } while (!stopping_.WaitForNotificationWithTimeout(options_.check_interval));
  // Closing the session gives the lock back.
  connection_.reset();
  if (held_.exchange(false)) {
    spdlog::info("msg=lease_released lease={}", options_.name);
    if (options_.released) options_.released();
  }
}

void PostgresLease::Check() {
  absl::Status status;
  if (connection_ == nullptr) {
    PostgresConnection::Options connect;
    connect.connect_timeout = options_.check_interval * 2;
    connect.statement_timeout = options_.check_interval * 2;
    connect.application_name = "fivestar-lease";
    absl::StatusOr<std::unique_ptr<PostgresConnection>> connected =
        PostgresConnection::Connect(options_.database, connect);
    status = connected.status();
    if (connected.ok()) connection_ = *std::move(connected);
  }
  if (connection_ != nullptr) {
    // Holding: is the session (hence its lock) still there? Waiting: take
    // the lock if nobody holds it.
    absl::StatusOr<PgStatement> stmt = connection_->Prepare(
        held_.load() ? "SELECT true"
                     : "SELECT pg_try_advisory_lock(hashtextextended(?, 0))");
    status = stmt.status();
    if (stmt.ok()) {
      if (!held_.load()) stmt->Bind(1, options_.name);
      absl::StatusOr<bool> row = stmt->Step();
      status = row.status();
      if (row.ok() && *row && stmt->ColumnInt64(0) != 0 && !held_.load()) {
        held_.store(true);
        spdlog::info("msg=lease_acquired lease={}", options_.name);
        if (options_.acquired) options_.acquired();
      }
    }
  }
  if (status.ok()) return;
  // The session is gone or unusable, and the lock with it.
  connection_.reset();
  if (held_.exchange(false)) {
    spdlog::warn("msg=lease_lost lease={} error={}", options_.name,
                 LogValue(status.message()));
    if (options_.released) options_.released();
  }
}

}  // namespace fivestar
