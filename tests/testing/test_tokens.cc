#include "tests/testing/test_tokens.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"

namespace fivestar::testing {

TokenTable TestTokenTable(std::initializer_list<TestPrincipal> principals) {
  // Through the file format, so tests exercise what servers parse.
  std::string text = "# test principals\n";
  for (const TestPrincipal& principal : principals) {
    absl::StrAppendFormat(&text, "%s %s %s %s\n", Sha256Hex(principal.token),
                          principal.role, principal.scope, principal.name);
  }
  absl::StatusOr<TokenTable> table = TokenTable::Parse(text);
  if (!table.ok()) {
    std::fprintf(stderr, "bad test tokens: %s\n",
                 table.status().ToString().c_str());
    std::abort();
  }
  return *std::move(table);
}

}  // namespace fivestar::testing
