#include "common/peer_client.h"

#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/metrics.h"

namespace fivestar {

absl::StatusOr<PeerCallLimit::Slot> PeerCallLimit::Acquire(
    absl::string_view peer, absl::string_view what) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &PeerCallLimit::HasRoom),
                            max_wait_)) {
    return absl::UnavailableError(
        absl::StrCat(peer, " is slow to answer: ", max_in_flight_,
                     " calls are already waiting on it, so this one did not ",
                     what, "; retry later"));
  }
  ++in_flight_;
  return Slot(this);
}

absl::Status PeerCallError(const grpc::Status& status, absl::string_view peer,
                           absl::string_view what) {
  const char* code = StatusCodeName(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(status.error_message());
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::UnavailableError(
          absl::StrCat(peer, " could not be reached to ", what, " (", code,
                       ": ", status.error_message(), "); retry later"));
    default:
      spdlog::error("msg=peer_call_failed peer={} what={} code={} error={}",
                    LogValue(peer), LogValue(what), code,
                    LogValue(status.error_message()));
      return absl::InternalError(absl::StrCat(peer, " refused to ", what, " (",
                                              code, ": ",
                                              status.error_message(), ")"));
  }
}

}  // namespace fivestar
