#include "common/sql_audit.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/strings/str_cat.h"

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

const char kPostgresAuditEventsSchema[] = R"sql(
CREATE TABLE audit_events (
  sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_time_us BIGINT NOT NULL,
  principal TEXT NOT NULL,
  role TEXT NOT NULL,
  scope TEXT NOT NULL,
  method TEXT NOT NULL,
  target TEXT NOT NULL,            -- JSON: {"target":{field path: value}}
  request_messages BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  server_request_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  outcome_code TEXT NOT NULL,      -- google.rpc.Code name
  outcome_message TEXT NOT NULL
);
CREATE INDEX audit_events_by_principal ON audit_events (principal, sequence);
CREATE INDEX audit_events_by_method ON audit_events (method, sequence);
CREATE INDEX audit_events_by_time ON audit_events (event_time_us);
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only'
    USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER audit_events_no_change
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
)sql";

namespace audit_internal {

absl::StatusOr<std::string> TargetJson(const audit::v1::AuditEvent& event) {
  audit::v1::AuditEvent only_target;
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

absl::Status ParseTargetJson(const std::string& json,
                             audit::v1::AuditEvent* event) {
  audit::v1::AuditEvent target;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(json, &target, options)
           .ok()) {
    return absl::DataLossError(
        absl::StrCat("audit event ", event->sequence(),
                     ": stored target is not the JSON it should be"));
  }
  *event->mutable_target() = target.target();
  return absl::OkStatus();
}

}  // namespace audit_internal

}  // namespace fivestar
