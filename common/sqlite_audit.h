// The audit log kept in a service's own SQLite database: the
// `audit_events` table, which each service creates through a migration of
// its own (kAuditEventsSchema), and the AuditStore on top of it, which
// shares the service's SqlitePool so that audit events group-commit with
// the service's writes.
#ifndef FIVESTAR_COMMON_SQLITE_AUDIT_H_
#define FIVESTAR_COMMON_SQLITE_AUDIT_H_

#include <vector>

#include "common/audit.h"
#include "common/sqlite_pool.h"

namespace fivestar {

// The SQL of the migration that adds the audit log to a service's database:
// the append-only `audit_events` table (triggers refuse every UPDATE and
// DELETE) and its indexes. A service adds it as a new migration of its own;
// a later change to the table is a further migration, never an edit here.
extern const char kAuditEventsSchema[];

// AuditStore on the `audit_events` table of `pool`'s database.
class SqliteAuditStore final : public AuditStore {
 public:
  // `pool` must outlive the store, and its database must have the table.
  explicit SqliteAuditStore(SqlitePool* pool) : pool_(pool) {}

  absl::Status Append(absl::Span<const audit::v1::AuditEvent> events) override;
  absl::StatusOr<std::vector<audit::v1::AuditEvent>> List(
      const AuditQuery& query) override;

 private:
  SqlitePool* const pool_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQLITE_AUDIT_H_
