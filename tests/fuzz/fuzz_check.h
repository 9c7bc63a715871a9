// What the fuzzers share: FUZZ_CHECK, for the properties they assert beyond
// "does not crash", and quieting protobuf's log so that a malformed input
// does not flood stderr.
#ifndef FIVESTAR_TESTS_FUZZ_FUZZ_CHECK_H_
#define FIVESTAR_TESTS_FUZZ_FUZZ_CHECK_H_

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace fivestar::fuzz {

// Reports a broken property and aborts, so libFuzzer keeps the input.
[[noreturn]] inline void Fail(const char* file, int line, const char* condition,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  %s\n", file, line,
               condition, detail.c_str());
  std::abort();
}

// Drops protobuf's ERROR and WARNING lines (its parsers log some input
// errors as well as returning them); FATAL still ends the run.
inline void QuietProtobufLog() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level,
                                     const char* file, int line,
                                     const std::string& message) {
    if (level == google::protobuf::LOGLEVEL_FATAL) {
      std::fprintf(stderr, "[libprotobuf FATAL %s:%d] %s\n", file, line,
                   message.c_str());
    }
  });
}

}  // namespace fivestar::fuzz

// Aborts with the condition and StrCat(detail...) when `condition` is
// false. `detail` says what was being checked, with the values involved.
#define FUZZ_CHECK(condition, ...)                           \
  do {                                                       \
    if (!(condition)) {                                      \
      ::fivestar::fuzz::Fail(__FILE__, __LINE__, #condition, \
                             ::absl::StrCat(__VA_ARGS__));   \
    }                                                        \
  } while (0)

#endif  // FIVESTAR_TESTS_FUZZ_FUZZ_CHECK_H_
