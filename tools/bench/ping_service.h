// The benchmark's reference service: Ping does what every service handler
// does around its own work (authenticate the bearer token, hop onto the
// executor, map the status) and nothing else, so a figure divided by Ping's
// in the same run isolates the service's own work.
#ifndef FIVESTAR_TOOLS_BENCH_PING_SERVICE_H_
#define FIVESTAR_TOOLS_BENCH_PING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "bench_ping.grpc.pb.h"
#include "common/rpc.h"

namespace fivestar::bench {

class PingServiceImpl final : public v1::PingService::CallbackService {
 public:
  // `runtime`'s authenticator and executor outlive the service.
  explicit PingServiceImpl(RpcRuntime runtime) : runtime_(runtime) {}

  // OK for an authenticated caller, after an empty handler ran on the
  // executor; UNAUTHENTICATED otherwise.
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override;

 private:
  const RpcRuntime runtime_;
};

}  // namespace fivestar::bench

#endif  // FIVESTAR_TOOLS_BENCH_PING_SERVICE_H_
