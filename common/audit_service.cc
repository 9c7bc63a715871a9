#include "common/audit_service.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/field_rules.h"
#include "common/paging.h"
#include "common/status.h"

namespace fivestar {

using audit::v1::AuditEvent;
using audit::v1::ListAuditEventsRequest;
using audit::v1::ListAuditEventsResponse;

absl::StatusOr<std::pair<AuditQuery, Pager>> AuditQueryFromRequest(
    const ListAuditEventsRequest& request) {
  AuditQuery query;
  query.principal = request.principal();
  query.method = request.method();
  if (!query.method.empty()) {
    const size_t slash = query.method.find('/', 1);
    if (query.method[0] != '/' || slash == std::string::npos ||
        slash + 1 == query.method.size() ||
        query.method.find('/', slash + 1) != std::string::npos) {
      return FieldError(
          "method",
          absl::StrCat("must be a full method name such as "
                       "/fivestar.registry.v1.RegistryService/CreateVillage, "
                       "got \"",
                       query.method, "\""));
    }
  }
  query.outcome_code = request.outcome_code();
  if (!query.outcome_code.empty() &&
      !StatusCodeFromName(query.outcome_code).has_value()) {
    return FieldError(
        "outcome_code",
        absl::StrCat("must be a google.rpc.Code name such as OK or "
                     "PERMISSION_DENIED, got \"",
                     query.outcome_code, "\""));
  }
  if (request.has_start_time()) {
    ASSIGN_OR_RETURN(query.start,
                     ValidateTimestamp("start_time", request.start_time()));
  }
  if (request.has_end_time()) {
    ASSIGN_OR_RETURN(query.end,
                     ValidateTimestamp("end_time", request.end_time()));
  }
  if (query.start.has_value() && query.end.has_value() &&
      *query.end <= *query.start) {
    return FieldError("end_time", "must be after start_time");
  }
  query.oldest_first = request.oldest_first();
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  // The token is bound to every filter, so a page of one listing cannot
  // continue another.
  std::string filters = absl::StrJoin(
      {std::string("audit_events"), query.principal, query.method,
       query.outcome_code,
       query.start.has_value() ? absl::StrCat(absl::ToUnixMicros(*query.start))
                               : std::string(),
       query.end.has_value() ? absl::StrCat(absl::ToUnixMicros(*query.end))
                             : std::string(),
       std::string(query.oldest_first ? "oldest" : "newest")},
      "\x1f");
  ASSIGN_OR_RETURN(std::string after,
                   pager.Resume(request.page_token(), std::move(filters)));
  if (!after.empty() && (!absl::SimpleAtoi(after, &query.after_sequence) ||
                         query.after_sequence < 1)) {
    return FieldError("page_token", "is not a token this server issued");
  }
  query.limit = pager.fetch_limit();
  return std::make_pair(std::move(query), std::move(pager));
}

absl::StatusOr<ListAuditEventsResponse> ListAuditEvents(
    AuditStore* store, const Principal& principal,
    const ListAuditEventsRequest& request) {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kAdmin, "list audit events"));
  if (!principal.is_global()) {
    // A regional admin would see every region's activity.
    return absl::PermissionDeniedError(absl::StrCat(
        principal.name,
        " may not list audit events: needs the global scope (*), has ",
        principal.scope));
  }
  ASSIGN_OR_RETURN(auto listing, AuditQueryFromRequest(request));
  auto& [query, pager] = listing;
  ASSIGN_OR_RETURN(std::vector<AuditEvent> events, store->List(query));
  ListAuditEventsResponse response;
  response.set_next_page_token(pager.Trim(events, [](const AuditEvent& event) {
    return absl::StrCat(event.sequence());
  }));
  for (AuditEvent& event : events) {
    *response.add_events() = std::move(event);
  }
  return response;
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListAuditEvents(
    grpc::CallbackServerContext* context, const ListAuditEventsRequest* request,
    ListAuditEventsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     fivestar::ListAuditEvents(store_, principal, *request));
    return absl::OkStatus();
  });
}

}  // namespace fivestar
