// Fuzzes the CLI's reading of NDJSON import files (NdjsonReader, as
// import-registry, import-projects and set-indicators use it): the input is
// a whole file, decoded line by line as each of the three record types.
// Beyond not crashing, it checks that
// - a line that does not decode is INVALID_ARGUMENT naming the file and line;
// - reading an in-memory file never fails;
// - a decoded record, printed as export-registry prints it (ToJsonLine), is
//   one line that decodes to the same record (export then import loses
//   nothing).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fivestar/projects/v1/projects.pb.h"
#include "fivestar/registry/v1/registry.pb.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/output.h"

namespace fivestar::cli {
namespace {

constexpr char kFileName[] = "fuzz.ndjson";

// Whether two records hold the same values (doubles compared with ==, but
// NaN, which JSON writes as "NaN" and reads back, equal to NaN).
bool SameRecord(const google::protobuf::Message& a,
                const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

// Decodes every line of `text` as a Record, checking the properties above.
template <typename Record>
void DecodeAll(const std::string& text) {
  std::istringstream in(text);
  NdjsonReader reader(in, kFileName);
  Record record;
  while (reader.NextLine()) {
    const absl::Status decoded = reader.Decode(&record);
    if (!decoded.ok()) {
      const std::string where =
          absl::StrCat(kFileName, ":", reader.line_number(), ": ");
      FUZZ_CHECK(decoded.code() == absl::StatusCode::kInvalidArgument &&
                     absl::StartsWith(decoded.message(), where),
                 "a bad line's error must start with \"", where, "\", got ",
                 decoded.ToString());
      continue;
    }
    const absl::StatusOr<std::string> json = ToJsonLine(record);
    FUZZ_CHECK(json.ok(), "ToJsonLine of a decoded ",
               Record::descriptor()->name(), ": ", json.status().ToString());
    FUZZ_CHECK(json->find('\n') == std::string::npos,
               "ToJsonLine printed a newline: ", *json);
    Record again;
    const absl::Status redecoded = FromJsonLine(*json, &again);
    FUZZ_CHECK(redecoded.ok(), "FromJsonLine of ", *json, ": ",
               redecoded.ToString());
    FUZZ_CHECK(SameRecord(again, record),
               "export then import changed the record: line \"", reader.line(),
               "\" printed as ", *json);
  }
  const absl::Status read = reader.status();
  FUZZ_CHECK(read.ok(), "reading a string failed: ", read.ToString());
}

}  // namespace
}  // namespace fivestar::cli

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fivestar::fuzz::QuietProtobufLog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fivestar::cli::DecodeAll<fivestar::registry::v1::RegistryRecord>(text);
  fivestar::cli::DecodeAll<fivestar::projects::v1::ProjectRecord>(text);
  fivestar::cli::DecodeAll<fivestar::projects::v1::IndicatorValue>(text);
  return 0;
}
