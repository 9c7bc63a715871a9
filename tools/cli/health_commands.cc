#include "tools/cli/health_commands.h"

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "health: keep probing, every 200 ms, until SERVING or until this "
          "much time has passed (0: probe once).");

namespace fivestar::cli {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Time between two probes while waiting.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(200);

}  // namespace

absl::Status Health(const Invocation& invocation) {
  const std::string& address = invocation.args()[0];
  const absl::Duration wait = absl::GetFlag(FLAGS_wait);
  if (wait < absl::ZeroDuration()) {
    return UsageError("--wait must not be negative");
  }
  grpc::health::v1::HealthCheckRequest request;
  if (invocation.args().size() > 1) request.set_service(invocation.args()[1]);
  const absl::Time give_up = absl::Now() + wait;
  while (true) {
    // A fresh channel each probe: the server's start is seen within one
    // interval, not after the reconnect backoff of an earlier refusal.
    auto stub =
        grpc::health::v1::Health::NewStub(invocation.NewProbeChannel(address));
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    HealthCheckResponse response;
    absl::Status status =
        FromGrpcStatus(stub->Check(&context, request, &response));
    if (status.ok()) {
      const std::string name =
          HealthCheckResponse::ServingStatus_Name(response.status());
      if (response.status() == HealthCheckResponse::SERVING) {
        std::printf("%s\n", name.c_str());
        return absl::OkStatus();
      }
      status = absl::UnavailableError(absl::StrCat(
          address, " reports ", name, " for \"", request.service(), "\""));
    }
    if (absl::Now() + kRetryInterval > give_up) return status;
    absl::SleepFor(kRetryInterval);
  }
}

}  // namespace fivestar::cli
