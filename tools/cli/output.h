// Printing for the `fivestar` command-line client: protobuf messages as one
// line of protobuf's JSON mapping (the format of --output=json and of
// export files) or as readable "field: value" lines, and the small text
// forms the readable output shares (quantities, rates, China time, star
// names, columns aligned by display width).
#ifndef FIVESTAR_TOOLS_CLI_OUTPUT_H_
#define FIVESTAR_TOOLS_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fivestar/common/v1/star.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

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

// A quantity without needless decimals: 780, 12.5, 0.125.
std::string Quantity(double value);

// A rate of 0–1 as a percentage with one decimal: "75.1 %".
std::string Percent(double rate);

// A timestamp in China Standard Time, to the second: "2022-09-30 18:00:00".
std::string ChinaTimeText(const google::protobuf::Timestamp& timestamp);

// The star's Chinese name, as the proto's comments give it ("支部过硬星");
// empty for STAR_UNSPECIFIED.
const char* StarNameZh(common::v1::Star star);

// The columns `text` (UTF-8) takes on a terminal: East Asian wide and
// fullwidth characters (Chinese, fullwidth punctuation) take two, combining
// marks none, anything else one. Symbols of ambiguous width (★, ↑, –) count
// as one, as in a non-CJK locale. Bytes that are not valid UTF-8 count one
// each.
int DisplayWidth(absl::string_view text);

// `text` followed by spaces up to `width` columns (unchanged when wider).
std::string PadRight(absl::string_view text, int width);

// Spaces then `text`, up to `width` columns (unchanged when wider).
std::string PadLeft(absl::string_view text, int width);

// Rows of cells as lines whose columns line up by display width, two spaces
// apart; column i is right-aligned (for numbers) when right_aligned[i] is
// true. Rows may be shorter than others; trailing spaces are dropped.
std::vector<std::string> AlignColumns(
    const std::vector<std::vector<std::string>>& rows,
    const std::vector<bool>& right_aligned);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_OUTPUT_H_
