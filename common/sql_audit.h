// The audit log kept in a service's own database, on either engine: the
// `audit_events` table, which each service creates through a migration of
// its own (kAuditEventsSchema on SQLite, kPostgresAuditEventsSchema on
// PostgreSQL), and the AuditStore on top of it, which shares the service's
// pool so that audit events commit with the service's writes (in SQLite's
// group commit, in one batch).
#ifndef FIVESTAR_COMMON_SQL_AUDIT_H_
#define FIVESTAR_COMMON_SQL_AUDIT_H_

#include <google/protobuf/util/time_util.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/audit.h"
#include "common/status.h"

namespace fivestar {

// The SQL of the migration that adds the audit log to a service's database:
// the append-only `audit_events` table (triggers refuse every UPDATE and
// DELETE, and on PostgreSQL every TRUNCATE, as FAILED_PRECONDITION) and its
// indexes. A service adds it as a new migration of its own; a later change
// to the table is a further migration, never an edit here.
extern const char kAuditEventsSchema[];          // SQLite
extern const char kPostgresAuditEventsSchema[];  // PostgreSQL

namespace audit_internal {

constexpr char kColumns[] =
    "sequence, event_time_us, principal, role, scope, method, target, "
    "request_messages, request_id, server_request_id, peer, outcome_code, "
    "outcome_message";

// The target map as JSON: an AuditEvent holding only its target, printed by
// protobuf ({"target":{"village.id":"..."}}, or {} when empty), so that
// escaping is protobuf's and an operator can read the column with SQL.
absl::StatusOr<std::string> TargetJson(const audit::v1::AuditEvent& event);
// Sets `event`'s target from TargetJson's text; DATA_LOSS when it does not
// parse.
absl::Status ParseTargetJson(const std::string& json,
                             audit::v1::AuditEvent* event);

}  // namespace audit_internal

// AuditStore on the `audit_events` table of `pool`'s database (a SqlitePool
// or a PostgresPool).
template <typename Pool>
class SqlAuditStore final : public AuditStore {
 public:
  using Database = typename Pool::Database;

  // `pool` must outlive the store, and its database must have the table.
  explicit SqlAuditStore(Pool* pool) : pool_(pool) {}

  absl::Status Append(absl::Span<const audit::v1::AuditEvent> events) override {
    using google::protobuf::util::TimeUtil;
    std::vector<std::string> targets;
    targets.reserve(events.size());
    for (const audit::v1::AuditEvent& event : events) {
      ASSIGN_OR_RETURN(std::string json, audit_internal::TargetJson(event));
      targets.push_back(std::move(json));
    }
    return pool_->Write([&](Database& db) -> absl::Status {
      for (size_t i = 0; i < events.size(); ++i) {
        const audit::v1::AuditEvent& event = events[i];
        ASSIGN_OR_RETURN(
            auto insert,
            db.Prepare("INSERT INTO audit_events (event_time_us, principal, "
                       "role, scope, method, target, request_messages, "
                       "request_id, server_request_id, peer, outcome_code, "
                       "outcome_message) VALUES "
                       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
        insert.Bind(1, TimeUtil::TimestampToMicroseconds(event.event_time()))
            .Bind(2, event.principal())
            .Bind(3, event.role())
            .Bind(4, event.scope())
            .Bind(5, event.method())
            .Bind(6, targets[i])
            .Bind(7, event.request_messages())
            .Bind(8, event.request_id())
            .Bind(9, event.server_request_id())
            .Bind(10, event.peer())
            .Bind(11, event.outcome_code())
            .Bind(12, event.outcome_message());
        RETURN_IF_ERROR(insert.Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<audit::v1::AuditEvent>> List(
      const AuditQuery& query) override {
    using google::protobuf::util::TimeUtil;
    // Every filter is a parameter; an unset one (NULL) matches every row.
    // The casts name each parameter's type where PostgreSQL cannot infer
    // it (IS NULL); SQLite takes them as they are.
    const std::string sql = absl::StrCat(
        "SELECT ", audit_internal::kColumns,
        " FROM audit_events "
        "WHERE (CAST(?1 AS TEXT) IS NULL OR principal = ?1) "
        "AND (CAST(?2 AS TEXT) IS NULL OR method = ?2) "
        "AND (CAST(?3 AS TEXT) IS NULL OR outcome_code = ?3) "
        "AND (CAST(?4 AS BIGINT) IS NULL OR event_time_us >= ?4) "
        "AND (CAST(?5 AS BIGINT) IS NULL OR event_time_us < ?5) ",
        query.oldest_first
            ? "AND (?6 = 0 OR sequence > ?6) ORDER BY sequence"
            : "AND (?6 = 0 OR sequence < ?6) ORDER BY sequence DESC",
        " LIMIT ?7");
    return pool_->Read(
        [&](Database& db)
            -> absl::StatusOr<std::vector<audit::v1::AuditEvent>> {
          ASSIGN_OR_RETURN(auto select, db.Prepare(sql));
          auto bind_text = [&select](int index, const std::string& value) {
            if (value.empty()) {
              select.BindNull(index);
            } else {
              select.Bind(index, value);
            }
          };
          bind_text(1, query.principal);
          bind_text(2, query.method);
          bind_text(3, query.outcome_code);
          if (query.start.has_value()) {
            select.Bind(4, absl::ToUnixMicros(*query.start));
          } else {
            select.BindNull(4);
          }
          if (query.end.has_value()) {
            select.Bind(5, absl::ToUnixMicros(*query.end));
          } else {
            select.BindNull(5);
          }
          select.Bind(6, query.after_sequence).Bind(7, query.limit);
          std::vector<audit::v1::AuditEvent> events;
          while (true) {
            ASSIGN_OR_RETURN(bool row, select.Step());
            if (!row) break;
            audit::v1::AuditEvent& event = events.emplace_back();
            event.set_sequence(select.ColumnInt64(0));
            *event.mutable_event_time() =
                TimeUtil::MicrosecondsToTimestamp(select.ColumnInt64(1));
            event.set_principal(select.ColumnText(2));
            event.set_role(select.ColumnText(3));
            event.set_scope(select.ColumnText(4));
            event.set_method(select.ColumnText(5));
            RETURN_IF_ERROR(
                audit_internal::ParseTargetJson(select.ColumnText(6), &event));
            event.set_request_messages(select.ColumnInt64(7));
            event.set_request_id(select.ColumnText(8));
            event.set_server_request_id(select.ColumnText(9));
            event.set_peer(select.ColumnText(10));
            event.set_outcome_code(select.ColumnText(11));
            event.set_outcome_message(select.ColumnText(12));
          }
          return events;
        });
  }

 private:
  Pool* const pool_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_SQL_AUDIT_H_
