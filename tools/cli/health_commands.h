// A probe of the standard gRPC health service (grpc.health.v1), usable as a
// container health check against any fivestar server.
#ifndef FIVESTAR_TOOLS_CLI_HEALTH_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_HEALTH_COMMANDS_H_

#include "absl/status/status.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// health <address> [<service>]: asks the server at <address> whether
// <service> (default "", the server as a whole) is serving; prints the
// status and fails (exit 1) unless it is SERVING.
absl::Status Health(const Invocation& invocation);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_HEALTH_COMMANDS_H_
