// The hook every unary RPC goes through: authenticate the caller, run the
// handler with the principal, and map its absl::Status to the wire once.
#ifndef FIVESTAR_COMMON_RPC_H_
#define FIVESTAR_COMMON_RPC_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "common/auth.h"
#include "common/status.h"

namespace fivestar {

// Runs `handler(const Principal&) -> absl::Status` for the caller of
// `context` and finishes the call with its status. UNAUTHENTICATED without
// running the handler when the caller cannot be authenticated.
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   const Authenticator& authenticator,
                                   Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> principal = authenticator.Authenticate(*context);
  absl::Status status = principal.ok()
                            ? std::forward<Handler>(handler)(*principal)
                            : principal.status();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_RPC_H_
