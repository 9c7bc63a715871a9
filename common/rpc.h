// The hook every unary RPC goes through: authenticate the caller, run the
// handler with the principal on the service's executor (never on a gRPC
// callback thread), and map its absl::Status to the wire once.
#ifndef FIVESTAR_COMMON_RPC_H_
#define FIVESTAR_COMMON_RPC_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "common/auth.h"
#include "common/executor.h"
#include "common/status.h"

namespace fivestar {

// What every RPC of a service needs besides its logic: who the caller is,
// and where handlers run. Neither is owned; both outlive the server.
struct RpcRuntime {
  const Authenticator* authenticator;
  Executor* executor;
};

// Runs `handler(const Principal&) -> absl::Status` for the caller of
// `context` on `runtime.executor` and finishes the call with its status.
// UNAUTHENTICATED without running the handler when the caller cannot be
// authenticated. The handler runs after RunUnary returns: it must capture
// the request and response pointers by value, never by reference.
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   const RpcRuntime& runtime,
                                   Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> principal =
      runtime.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    reactor->Finish(ToGrpcStatus(principal.status()));
    return reactor;
  }
  runtime.executor->Submit(
      [reactor, principal = *std::move(principal),
       handler = std::forward<Handler>(handler)]() mutable {
        reactor->Finish(ToGrpcStatus(handler(principal)));
      });
  return reactor;
}

// RunUnary for a handler that finishes later, from another thread:
// `handler(const Principal&, Finish finish)` runs on `runtime.executor` and
// must call `finish(status)` exactly once, on any thread that may not block
// in it for long (Finish only hands the status to gRPC). Meant for handlers
// that queue work (a group-committed write) rather than wait for it, so
// that no executor thread is parked per call in flight.
using Finish = std::function<void(const absl::Status&)>;
template <typename Handler>
grpc::ServerUnaryReactor* RunUnaryAsync(grpc::CallbackServerContext* context,
                                        const RpcRuntime& runtime,
                                        Handler&& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> principal =
      runtime.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    reactor->Finish(ToGrpcStatus(principal.status()));
    return reactor;
  }
  runtime.executor->Submit(
      [reactor, principal = *std::move(principal),
       handler = std::forward<Handler>(handler)]() mutable {
        handler(principal, Finish([reactor](const absl::Status& status) {
                  reactor->Finish(ToGrpcStatus(status));
                }));
      });
  return reactor;
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_RPC_H_
