// Command-line parsing with environment-variable fallbacks: every flag
// `--some_flag` may also be set as FIVESTAR_SOME_FLAG. The command line wins
// over the environment, which wins over the flag's default.
#ifndef FIVESTAR_COMMON_FLAGS_H_
#define FIVESTAR_COMMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fivestar {

// The environment variable that backs `flag_name`: "port" -> "FIVESTAR_PORT".
std::string EnvironmentVariableForFlag(absl::string_view flag_name);

// Applies FIVESTAR_* environment variables to the matching flags, then parses
// the command line. Call once per process, first thing in main (Abseil
// allows setting the usage message only once). Exits with a message naming the
// variable when one holds a value its flag cannot take. Returns the positional
// arguments.
std::vector<char*> ParseFlagsWithEnvironment(int argc, char** argv,
                                             absl::string_view usage);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_FLAGS_H_
