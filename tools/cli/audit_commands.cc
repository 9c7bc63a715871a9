#include "tools/cli/audit_commands.h"

#include <cstdio>
#include <map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "fivestar/audit/v1/audit.grpc.pb.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/output.h"

ABSL_FLAG(std::string, service, "",
          "audit: whose audit log to read: registry, projects or scoring "
          "(reached at --registry, --projects or --scoring).");
ABSL_FLAG(std::string, principal, "",
          "audit: only events of this principal name.");
ABSL_FLAG(std::string, method, "",
          "audit: only events of this method, e.g. CreateVillage (of the "
          "--service) or a full name "
          "/fivestar.registry.v1.RegistryService/CreateVillage.");
ABSL_FLAG(std::string, outcome, "",
          "audit: only events that ended with this status code, e.g. OK or "
          "PERMISSION_DENIED.");
ABSL_FLAG(std::string, since, "",
          "audit: only events at or after this RFC 3339 time, e.g. "
          "2022-09-30T08:00:00+08:00.");
ABSL_FLAG(std::string, until, "",
          "audit: only events before this RFC 3339 time.");
ABSL_FLAG(bool, oldest_first, false,
          "audit: oldest events first (default: newest first).");

namespace fivestar::cli {
namespace {

using audit::v1::AuditEvent;
using audit::v1::AuditService;

absl::Status SetTime(const char* flag, const std::string& text,
                     google::protobuf::Timestamp* timestamp) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return UsageError(absl::StrCat("--", flag,
                                   ": must be an RFC 3339 time such as "
                                   "2022-09-30T08:00:00+08:00, got \"",
                                   text, "\""));
  }
  *timestamp = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(time));
  return absl::OkStatus();
}

}  // namespace

std::string AuditEventLine(const AuditEvent& event) {
  std::vector<std::string> target;
  // Sorted by field path, so the line is the same every time.
  const std::map<std::string, std::string> sorted(event.target().begin(),
                                                  event.target().end());
  for (const auto& [field, value] : sorted) {
    target.push_back(absl::StrCat(field, "=", value));
  }
  if (event.request_messages() > 0) {
    target.push_back(absl::StrCat("messages=", event.request_messages()));
  }
  if (!event.request_id().empty()) {
    target.push_back(absl::StrCat("request_id=", event.request_id()));
  }
  if (!event.server_request_id().empty()) {
    target.push_back(
        absl::StrCat("server_request_id=", event.server_request_id()));
  }
  const std::string who =
      event.principal().empty()
          ? std::string("(unauthenticated)")
          : absl::StrCat(event.principal(), " (", event.role(), " ",
                         event.scope(), ")");
  const size_t slash = event.method().rfind('/');
  const std::string method = slash == std::string::npos
                                 ? event.method()
                                 : event.method().substr(slash + 1);
  std::string outcome = event.outcome_code();
  if (!event.outcome_message().empty()) {
    absl::StrAppend(&outcome, ": ", event.outcome_message());
  }
  return absl::StrCat(
      "#", event.sequence(), "  ", ChinaTimeText(event.event_time()), "  ", who,
      "  ", method, target.empty() ? "" : " ", absl::StrJoin(target, " "),
      "  from ", event.peer(), "  ", outcome);
}

absl::Status Audit(const Invocation& invocation) {
  const std::string service = absl::GetFlag(FLAGS_service);
  std::shared_ptr<grpc::Channel> channel;
  std::string service_name;
  if (service == "registry") {
    channel = invocation.RegistryChannel();
    service_name = registry::v1::RegistryService::service_full_name();
  } else if (service == "projects") {
    channel = invocation.ProjectsChannel();
    service_name = projects::v1::ProjectsService::service_full_name();
  } else if (service == "scoring") {
    channel = invocation.ScoringChannel();
    service_name = scoring::v1::ScoringService::service_full_name();
  } else {
    return UsageError(
        absl::StrCat("--service: must be registry, projects or scoring, got \"",
                     service, "\""));
  }
  audit::v1::ListAuditEventsRequest request;
  request.set_principal(absl::GetFlag(FLAGS_principal));
  if (const std::string method = absl::GetFlag(FLAGS_method); !method.empty()) {
    request.set_method(absl::StartsWith(method, "/")
                           ? method
                           : absl::StrCat("/", service_name, "/", method));
  }
  request.set_outcome_code(absl::GetFlag(FLAGS_outcome));
  if (const std::string since = absl::GetFlag(FLAGS_since); !since.empty()) {
    RETURN_IF_ERROR(SetTime("since", since, request.mutable_start_time()));
  }
  if (const std::string until = absl::GetFlag(FLAGS_until); !until.empty()) {
    RETURN_IF_ERROR(SetTime("until", until, request.mutable_end_time()));
  }
  request.set_oldest_first(absl::GetFlag(FLAGS_oldest_first));
  std::unique_ptr<AuditService::Stub> stub = AuditService::NewStub(channel);
  return ForEachPage(
      invocation, *stub, request, &AuditService::Stub::ListAuditEvents,
      [&](const audit::v1::ListAuditEventsResponse& page) -> absl::Status {
        for (const AuditEvent& event : page.events()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(event));
          } else {
            std::printf("%s\n", AuditEventLine(event).c_str());
          }
        }
        return absl::OkStatus();
      });
}

}  // namespace fivestar::cli
