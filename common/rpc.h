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

// Runs `handler(const Principal&, Finish finish)` for the caller of
// `context` on `runtime.executor`; the handler must call `finish(status)`
// exactly once, from any thread that may not block in it for long (Finish
// only hands the status to gRPC). UNAUTHENTICATED without running the
// handler when the caller cannot be authenticated. Meant for handlers that
// queue work (a group-committed write) rather than wait for it, so that no
// executor thread is parked per call in flight. The handler runs after
// RunUnaryAsync returns: it must capture the request and response pointers
// by value, never by reference.
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

// RunUnaryAsync for a handler that finishes when it returns:
// `handler(const Principal&) -> absl::Status` runs on `runtime.executor`
// and the call ends with its status. The same rules for what it captures.
template <typename Handler>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   const RpcRuntime& runtime,
                                   Handler&& handler) {
  return RunUnaryAsync(
      context, runtime,
      [handler = std::forward<Handler>(handler)](const Principal& principal,
                                                 const Finish& finish) mutable {
        finish(handler(principal));
      });
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_RPC_H_
