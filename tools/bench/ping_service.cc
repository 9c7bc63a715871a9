#include "tools/bench/ping_service.h"

namespace fivestar::bench {

grpc::ServerUnaryReactor* PingServiceImpl::Ping(
    grpc::CallbackServerContext* context, const v1::PingRequest* /*request*/,
    v1::PingResponse* /*response*/) {
  return RunUnary(context, runtime_,
                  [](const Principal&) { return absl::OkStatus(); });
}

}  // namespace fivestar::bench
