// Fuzzes rubric files as scoring reads them at start-up: ParseRubricText,
// then ValidateRubric (without and with an indicator catalogue), then
// PlaceRubricError for an invalid rubric, or NormalizeRubric and NeedsOf for
// a valid one. Beyond not crashing, it checks that
// - a syntax error is INVALID_ARGUMENT "<source>:<line>:<column>: ...";
// - a validation error is INVALID_ARGUMENT naming a path under "rubric.",
//   and PlaceRubricError keeps it, at most prefixed with its position;
// - a rubric valid against the catalogue is valid without one, stays valid
//   when normalized, and needs only windows and keys the rules allow.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/scoring/rubric.h"
#include "tests/fuzz/fuzz_check.h"

namespace fivestar::scoring {
namespace {

constexpr char kSource[] = "fuzz.textproto";

// The indicator keys of the default catalogue that the default rubric reads.
const IndicatorCatalogue& Catalogue() {
  static const IndicatorCatalogue* const catalogue = [] {
    auto* keys = new IndicatorCatalogue;
    for (const char* key :
         {"accidents", "civic_activities", "civilized_families",
          "collective_income_yuan_ytd", "criminal_cases", "disputes_mediated",
          "disputes_received", "hd_cameras_installed", "inspection_score",
          "moral_models", "people_trained", "petitions"}) {
      (*keys)[key] = IndicatorInfo{0, 1e9, false};
    }
    return keys;
  }();
  return *catalogue;
}

// True when `message` starts "<source>:<line>:<column>: " (both >= 1).
bool StartsWithPosition(absl::string_view message) {
  if (!absl::ConsumePrefix(&message, kSource) ||
      !absl::ConsumePrefix(&message, ":")) {
    return false;
  }
  const std::vector<absl::string_view> parts =
      absl::StrSplit(message, absl::MaxSplits(':', 2));
  int line = 0;
  int column = 0;
  return parts.size() == 3 && absl::SimpleAtoi(parts[0], &line) && line >= 1 &&
         absl::SimpleAtoi(parts[1], &column) && column >= 1 &&
         absl::StartsWith(parts[2], " ");
}

void CheckInvalid(const absl::Status& invalid, const std::string& text) {
  FUZZ_CHECK(invalid.code() == absl::StatusCode::kInvalidArgument &&
                 absl::StartsWith(invalid.message(), "rubric."),
             "a validation error must name a path under \"rubric.\", got ",
             invalid.ToString());
  const absl::Status placed = PlaceRubricError(invalid, text, kSource);
  FUZZ_CHECK(placed.code() == absl::StatusCode::kInvalidArgument,
             "PlaceRubricError changed the code: ", placed.ToString());
  if (placed.message() == invalid.message()) return;
  FUZZ_CHECK(
      absl::EndsWith(placed.message(), absl::StrCat(": ", invalid.message())) &&
          StartsWithPosition(placed.message()),
      "PlaceRubricError must only prefix a position: ", invalid.ToString(),
      " became ", placed.ToString());
}

void CheckValid(const v1::Rubric& rubric) {
  const v1::Rubric normalized = NormalizeRubric(rubric);
  const absl::Status still = ValidateRubric(normalized, &Catalogue());
  FUZZ_CHECK(still.ok(),
             "a normalized valid rubric is invalid: ", still.ToString());
  const InputNeeds needs = NeedsOf(normalized);
  FUZZ_CHECK(needs.indicator_months >= 1 && needs.indicator_months <= 120,
             "indicator window of ", needs.indicator_months, " months");
  for (const int weeks : needs.compliance_weeks) {
    FUZZ_CHECK(weeks >= 1 && weeks <= 104, "compliance window of ", weeks,
               " weeks");
  }
  for (const std::string& key : needs.indicator_keys) {
    FUZZ_CHECK(Catalogue().contains(key), "needs an unknown indicator ", key);
  }
}

// Parses and validates `text` as scoring's start-up does.
void FuzzRubricText(const std::string& text) {
  const absl::StatusOr<v1::Rubric> rubric = ParseRubricText(text, kSource);
  if (!rubric.ok()) {
    FUZZ_CHECK(rubric.status().code() == absl::StatusCode::kInvalidArgument &&
                   StartsWithPosition(rubric.status().message()),
               "a syntax error must be \"", kSource,
               ":<line>:<column>: ...\", got ", rubric.status().ToString());
    return;
  }
  const absl::Status without_catalogue = ValidateRubric(*rubric, nullptr);
  if (!without_catalogue.ok()) CheckInvalid(without_catalogue, text);
  const absl::Status with_catalogue = ValidateRubric(*rubric, &Catalogue());
  if (!with_catalogue.ok()) {
    CheckInvalid(with_catalogue, text);
    return;
  }
  FUZZ_CHECK(without_catalogue.ok(),
             "valid with the catalogue but not without: ",
             without_catalogue.ToString());
  CheckValid(*rubric);
}

}  // namespace
}  // namespace fivestar::scoring

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fivestar::fuzz::QuietProtobufLog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fivestar::scoring::FuzzRubricText(
      std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
