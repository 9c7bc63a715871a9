// Commands that make bearer tokens and the lines of a server's tokens file
// (see common/auth.h). They work offline and print text whatever --output.
#ifndef FIVESTAR_TOOLS_CLI_TOKEN_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_TOKEN_COMMANDS_H_

#include "absl/status/status.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// hash-token <token|->: prints the SHA-256 hex of the token (read from the
// first line of stdin for "-"), the first field of a tokens-file line.
absl::Status HashToken(const Invocation& invocation);

// new-token <role> <scope> <name>: prints a new random token on the first
// line and its tokens-file line "<sha256> <role> <scope> <name>" on the
// second.
absl::Status NewToken(const Invocation& invocation);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_TOKEN_COMMANDS_H_
