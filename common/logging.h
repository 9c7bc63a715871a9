// Structured logs for every server: one line per event in logfmt
// ("ts=... level=info service=registry msg=... key=value"), on stderr so that
// container runtimes collect them.
#ifndef FIVESTAR_COMMON_LOGGING_H_
#define FIVESTAR_COMMON_LOGGING_H_

#include <fmt/format.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fivestar {

// Sets up the default spdlog logger for `service` at `level` (one of trace,
// debug, info, warn, error, off). INVALID_ARGUMENT names an unknown level.
absl::Status InitLogging(absl::string_view service, absl::string_view level);

// Quotes a value for logfmt when it holds spaces, quotes or '='.
std::string LogValue(absl::string_view value);

}  // namespace fivestar

// Debian's absl::string_view is its own type, not std::string_view; let
// spdlog/fmt format it like any string.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view value, FormatContext& context) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(value.data(), value.size()), context);
  }
};

#endif  // FIVESTAR_COMMON_LOGGING_H_
