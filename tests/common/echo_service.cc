#include "tests/common/echo_service.h"

#include "absl/status/status.h"
#include "common/rpc.h"

namespace fivestar::testing {

grpc::ServerUnaryReactor* EchoServiceImpl::Echo(
    grpc::CallbackServerContext* context, const v1::EchoRequest* request,
    v1::EchoResponse* response) {
  return RunUnary(
      context, RpcRuntime{authenticator_, &executor_},
      [this, request, response](const Principal& principal) -> absl::Status {
        ++handled_calls_;
        if (request->fail_with_code() != 0) {
          return absl::Status(
              static_cast<absl::StatusCode>(request->fail_with_code()),
              "echo failed as asked");
        }
        response->set_message(request->message());
        response->set_principal_name(principal.name);
        response->set_principal_scope(principal.scope);
        response->set_principal_role(std::string(RoleName(principal.role)));
        return absl::OkStatus();
      });
}

}  // namespace fivestar::testing
