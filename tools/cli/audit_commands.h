// The `audit` command: a service's audit log (fivestar.audit.v1), which only
// a global admin may read. See SECURITY.md, "Audit log".
#ifndef FIVESTAR_TOOLS_CLI_AUDIT_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_AUDIT_COMMANDS_H_

#include <string>

#include "absl/status/status.h"
#include "fivestar/audit/v1/audit.pb.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// audit --service=registry|projects|scoring [--principal=<name>]
// [--method=<Method or /full/name>] [--outcome=<CODE>] [--since=<RFC3339>]
// [--until=<RFC3339>] [--oldest_first]: every matching event of that
// service's log (all pages), newest first unless --oldest_first; one line
// each, or one JSON document each with --output=json.
absl::Status Audit(const Invocation& invocation);

// One event as a line of the readable output: sequence, China time,
// principal with role and scope, method (without its service), target,
// request ids, outcome and peer.
std::string AuditEventLine(const audit::v1::AuditEvent& event);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_AUDIT_COMMANDS_H_
