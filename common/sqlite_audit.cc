#include "common/sqlite_audit.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar {

const char kAuditEventsSchema[] = R"sql(
CREATE TABLE audit_events (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  event_time_us INTEGER NOT NULL,
  principal TEXT NOT NULL,
  role TEXT NOT NULL,
  scope TEXT NOT NULL,
  method TEXT NOT NULL,
  target TEXT NOT NULL,            -- JSON: {"target":{field path: value}}
  request_messages INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  server_request_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  outcome_code TEXT NOT NULL,      -- google.rpc.Code name
  outcome_message TEXT NOT NULL
);
CREATE INDEX audit_events_by_principal ON audit_events (principal, sequence);
CREATE INDEX audit_events_by_method ON audit_events (method, sequence);
CREATE INDEX audit_events_by_time ON audit_events (event_time_us);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
)sql";

namespace {

using audit::v1::AuditEvent;
using google::protobuf::util::TimeUtil;

constexpr char kColumns[] =
    "sequence, event_time_us, principal, role, scope, method, target, "
    "request_messages, request_id, server_request_id, peer, outcome_code, "
    "outcome_message";

// The target map as JSON: an AuditEvent holding only its target, printed by
// protobuf ({"target":{"village.id":"..."}}, or {} when empty), so that
// escaping is protobuf's and an operator can read the column with SQL.
absl::StatusOr<std::string> TargetJson(const AuditEvent& event) {
  AuditEvent only_target;
  *only_target.mutable_target() = event.target();
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (auto status = google::protobuf::util::MessageToJsonString(only_target,
                                                                &json, options);
      !status.ok()) {
    return absl::InternalError(
        absl::StrCat("audit target as JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace

absl::Status SqliteAuditStore::Append(absl::Span<const AuditEvent> events) {
  std::vector<std::string> targets;
  targets.reserve(events.size());
  for (const AuditEvent& event : events) {
    ASSIGN_OR_RETURN(std::string json, TargetJson(event));
    targets.push_back(std::move(json));
  }
  return pool_->Write([&](SqliteDatabase& db) -> absl::Status {
    for (size_t i = 0; i < events.size(); ++i) {
      const AuditEvent& event = events[i];
      ASSIGN_OR_RETURN(
          SqliteStatement insert,
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

absl::StatusOr<std::vector<AuditEvent>> SqliteAuditStore::List(
    const AuditQuery& query) {
  // Every filter is a parameter; an unset one (NULL) matches every row.
  const std::string sql = absl::StrCat(
      "SELECT ", kColumns,
      " FROM audit_events WHERE (?1 IS NULL OR principal = ?1) "
      "AND (?2 IS NULL OR method = ?2) AND (?3 IS NULL OR outcome_code = ?3) "
      "AND (?4 IS NULL OR event_time_us >= ?4) "
      "AND (?5 IS NULL OR event_time_us < ?5) ",
      query.oldest_first ? "AND (?6 = 0 OR sequence > ?6) ORDER BY sequence"
                         : "AND (?6 = 0 OR sequence < ?6) ORDER BY sequence "
                           "DESC",
      " LIMIT ?7");
  return pool_->Read(
      [&](SqliteDatabase& db) -> absl::StatusOr<std::vector<AuditEvent>> {
        ASSIGN_OR_RETURN(SqliteStatement select, db.Prepare(sql));
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
        std::vector<AuditEvent> events;
        while (true) {
          ASSIGN_OR_RETURN(bool row, select.Step());
          if (!row) break;
          AuditEvent& event = events.emplace_back();
          event.set_sequence(select.ColumnInt64(0));
          *event.mutable_event_time() =
              TimeUtil::MicrosecondsToTimestamp(select.ColumnInt64(1));
          event.set_principal(select.ColumnText(2));
          event.set_role(select.ColumnText(3));
          event.set_scope(select.ColumnText(4));
          event.set_method(select.ColumnText(5));
          AuditEvent target;
          google::protobuf::util::JsonParseOptions options;
          if (!google::protobuf::util::JsonStringToMessage(select.ColumnText(6),
                                                           &target, options)
                   .ok()) {
            return absl::DataLossError(
                absl::StrCat("audit event ", event.sequence(),
                             ": stored target is not the JSON it should be"));
          }
          *event.mutable_target() = target.target();
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

}  // namespace fivestar
