#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace fivestar {

absl::Status InitLogging(absl::string_view service, absl::string_view level) {
  const std::string name = absl::AsciiStrToLower(level);
  const spdlog::level::level_enum parsed = spdlog::level::from_str(name);
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && name != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log_level: must be one of trace, debug, info, warn, error, off; got ",
        level));
  }
  spdlog::drop(std::string(service));
  auto logger = spdlog::stderr_logger_mt(std::string(service));
  logger->set_pattern(absl::StrCat(
      "ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l service=", service, " %v"));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

std::string LogValue(absl::string_view value) {
  if (!value.empty() && value.find_first_of(" \"=\t\n") == value.npos) {
    return std::string(value);
  }
  return absl::StrCat(
      "\"",
      absl::StrReplaceAll(value,
                          {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
      "\"");
}

}  // namespace fivestar
