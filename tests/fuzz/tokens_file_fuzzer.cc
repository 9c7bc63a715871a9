// Fuzzes the servers' tokens files (TokenTable::Parse, then Find). The
// input is the file's text. Beyond not crashing, it checks that
// - an error is INVALID_ARGUMENT naming a line of the file;
// - every principal Find returns has a role, a scope and a name, each one
//   field of the line (no blank, no '#');
// - a line appended for a known token makes that token find exactly its
//   principal (unless the file already holds that hash).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "tests/fuzz/fuzz_check.h"

namespace fivestar {
namespace {

constexpr absl::string_view kProbeToken = "fuzz-probe-token";
constexpr absl::string_view kProbeScope = "411323-huiche";
constexpr absl::string_view kProbeName = "fuzz-probe";

// A principal field as Parse must leave it: non-empty, one field.
bool IsOneField(absl::string_view field) {
  return !field.empty() && !absl::c_any_of(field, [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '#';
  });
}

void CheckPrincipal(const Principal& principal, absl::string_view token) {
  const int role = static_cast<int>(principal.role);
  FUZZ_CHECK(role >= static_cast<int>(Role::kViewer) &&
                 role <= static_cast<int>(Role::kAdmin) &&
                 IsOneField(principal.scope) && IsOneField(principal.name),
             "token \"", token, "\" found a malformed principal: role ", role,
             ", scope \"", principal.scope, "\", name \"", principal.name,
             "\"");
}

void FuzzTokensFile(const std::string& text) {
  const absl::StatusOr<TokenTable> table = TokenTable::Parse(text);
  if (!table.ok()) {
    absl::string_view message = table.status().message();
    int line = 0;
    const size_t lines = absl::c_count(text, '\n') + 1;
    FUZZ_CHECK(
        table.status().code() == absl::StatusCode::kInvalidArgument &&
            absl::ConsumePrefix(&message, "tokens file line ") &&
            absl::SimpleAtoi(message.substr(0, message.find(':')), &line) &&
            line >= 1 && static_cast<size_t>(line) <= lines,
        "an error must name a line of the file (1..", lines, "), got ",
        table.status().ToString());
    return;
  }

  // Every word of the file as a token: a hash, a role, a name...
  int words = 0;
  for (absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
    if (++words > 64) break;
    if (const Principal* found = table->Find(word)) {
      CheckPrincipal(*found, word);
    }
  }

  const std::string probe_hash = Sha256Hex(kProbeToken);
  const absl::StatusOr<TokenTable> appended = TokenTable::Parse(absl::StrCat(
      text, "\n", probe_hash, " operator ", kProbeScope, " ", kProbeName));
  if (absl::StrContains(absl::AsciiStrToLower(text), probe_hash)) return;
  FUZZ_CHECK(appended.ok() && appended->size() == table->size() + 1,
             "appending a valid line to a valid file: ",
             appended.ok() ? absl::StrCat(appended->size(), " principals")
                           : appended.status().ToString());
  const Principal* probe = appended->Find(kProbeToken);
  FUZZ_CHECK(probe != nullptr && probe->role == Role::kOperator &&
                 probe->scope == kProbeScope && probe->name == kProbeName,
             "the appended line's token did not find its principal");
}

}  // namespace
}  // namespace fivestar

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fivestar::FuzzTokensFile(
      std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
