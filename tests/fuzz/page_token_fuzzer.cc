// Fuzzes page tokens (EncodePageToken, DecodePageToken), which every List
// method decodes from what a client sends. The input is
//   <filters> '\n' <after> '\n' <token>
// (the token is the rest, newlines included; missing parts are empty).
// Beyond not crashing, it checks that
// - decoding an arbitrary token gives a position or INVALID_ARGUMENT naming
//   page_token, and a position it gives survives a fresh token;
// - Decode(Encode(filters, after), filters) == after;
// - a token made for other filters is refused.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/validation.h"
#include "tests/fuzz/fuzz_check.h"

namespace fivestar {
namespace {

// The next part of `input` up to a newline (or the end), consumed.
absl::string_view NextPart(absl::string_view* input) {
  const size_t end = input->find('\n');
  const absl::string_view part = input->substr(0, end);
  input->remove_prefix(end == absl::string_view::npos ? input->size()
                                                      : end + 1);
  return part;
}

void CheckRefused(const absl::StatusOr<std::string>& decoded,
                  absl::string_view what) {
  FUZZ_CHECK(
      !decoded.ok() &&
          decoded.status().code() == absl::StatusCode::kInvalidArgument &&
          absl::StartsWith(decoded.status().message(), "page_token: "),
      what, " must be INVALID_ARGUMENT naming page_token, got ",
      decoded.ok() ? "\"" + *decoded + "\"" : decoded.status().ToString());
}

void FuzzPageToken(absl::string_view input) {
  const absl::string_view filters = NextPart(&input);
  const absl::string_view after = NextPart(&input);
  const absl::string_view token = input;

  // Whatever a client sends.
  const absl::StatusOr<std::string> decoded = DecodePageToken(token, filters);
  if (decoded.ok()) {
    FUZZ_CHECK(!token.empty() || decoded->empty(),
               "an empty token gave position \"", *decoded, "\"");
    const absl::StatusOr<std::string> again =
        DecodePageToken(EncodePageToken(filters, *decoded), filters);
    FUZZ_CHECK(again.ok() && *again == *decoded,
               "the position of an accepted token did not survive "
               "re-encoding");
  } else {
    CheckRefused(decoded, "a token the server did not issue");
  }

  // What a server issues.
  const std::string issued = EncodePageToken(filters, after);
  FUZZ_CHECK(!issued.empty(), "an issued token is empty");
  const absl::StatusOr<std::string> resumed = DecodePageToken(issued, filters);
  FUZZ_CHECK(resumed.ok() && *resumed == after,
             "Decode(Encode(filters, after), filters) != after: ",
             resumed.ok() ? *resumed : resumed.status().ToString());

  // The same token with other filters.
  if (token != filters) {
    CheckRefused(DecodePageToken(issued, token),
                 "a token issued for other filters");
  }
}

}  // namespace
}  // namespace fivestar

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fivestar::FuzzPageToken(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
