#include "tools/cli/health_commands.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace fivestar::cli {

absl::Status Health(const Invocation& invocation) {
  const std::string& address = invocation.args()[0];
  grpc::health::v1::HealthCheckRequest request;
  if (invocation.args().size() > 1) request.set_service(invocation.args()[1]);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  grpc::health::v1::HealthCheckResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub->Check(&context, request, &response)));
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  std::printf("%s\n", status.c_str());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        address, " reports ", status, " for \"", request.service(), "\""));
  }
  return absl::OkStatus();
}

}  // namespace fivestar::cli
