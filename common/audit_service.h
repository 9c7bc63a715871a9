// fivestar.audit.v1.AuditService: the audit log of the server that hosts it,
// readable by a global admin only. Every server hosts it next to its own
// service, on its own database's AuditStore.
#ifndef FIVESTAR_COMMON_AUDIT_SERVICE_H_
#define FIVESTAR_COMMON_AUDIT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/statusor.h"
#include "common/audit.h"
#include "common/paging.h"
#include "common/rpc.h"
#include "fivestar/audit/v1/audit.grpc.pb.h"

namespace fivestar {

// The query a ListAuditEvents request asks for (its limit the pager's
// fetch limit) and the pager that trims the result to a page, the request's
// filters and paging checked: INVALID_ARGUMENT naming the field of a bad
// page_size, page_token, method, outcome_code, start_time or end_time.
absl::StatusOr<std::pair<AuditQuery, Pager>> AuditQueryFromRequest(
    const audit::v1::ListAuditEventsRequest& request);

// Lists the audit events of `store` for a principal with role admin and the
// global scope; PERMISSION_DENIED for anyone else.
absl::StatusOr<audit::v1::ListAuditEventsResponse> ListAuditEvents(
    AuditStore* store, const Principal& principal,
    const audit::v1::ListAuditEventsRequest& request);

class AuditServiceImpl final : public audit::v1::AuditService::CallbackService {
 public:
  // `store` and the runtime's pointees must outlive the service.
  AuditServiceImpl(AuditStore* store, RpcRuntime runtime)
      : store_(store), runtime_(runtime) {}

  grpc::ServerUnaryReactor* ListAuditEvents(
      grpc::CallbackServerContext* context,
      const audit::v1::ListAuditEventsRequest* request,
      audit::v1::ListAuditEventsResponse* response) override;

 private:
  AuditStore* const store_;
  const RpcRuntime runtime_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_AUDIT_SERVICE_H_
