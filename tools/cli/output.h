// Printing of protobuf messages for the `fivestar` command-line client: one
// line of protobuf's JSON mapping (the format of --output=json and of
// export files), or readable "field: value" lines.
#ifndef FIVESTAR_TOOLS_CLI_OUTPUT_H_
#define FIVESTAR_TOOLS_CLI_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace fivestar::cli {

// `message` as one line of protobuf's JSON mapping with the proto field
// names (e.g. "parent_id", not "parentId"), without a trailing newline.
absl::StatusOr<std::string> ToJsonLine(
    const google::protobuf::Message& message);

// Parses one line of protobuf's JSON mapping into `message`. Unknown fields
// are an error. INVALID_ARGUMENT says what is wrong with the line.
absl::Status FromJsonLine(const std::string& line,
                          google::protobuf::Message* message);

// `text` (UTF-8) as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

// "name (name_en)", or `name` alone when `name_en` is empty.
std::string WithEnglish(const std::string& name, const std::string& name_en);

// Prints ToJsonLine(message) and a newline on stdout.
absl::Status PrintJsonLine(const google::protobuf::Message& message);

// Prints the fields of `message` on stdout, one "name: value" line each, the
// values aligned. Empty strings, empty lists and unset messages are left
// out; timestamps read as RFC 3339; nested messages as "outer.inner".
void PrintFields(const google::protobuf::Message& message);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_OUTPUT_H_
