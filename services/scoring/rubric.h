// Rubrics (评星方案) as data: the rules a rubric must obey before it is
// stored, its normal stored form, reading it from a text file, and what an
// evaluation under it needs read. Pure functions: no I/O but LoadRubricFile.
#ifndef FIVESTAR_SERVICES_SCORING_RUBRIC_H_
#define FIVESTAR_SERVICES_SCORING_RUBRIC_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/village_inputs.h"

namespace fivestar::scoring {

// What scoring knows of one indicator of project tracking's catalogue
// (ListIndicatorDefinitions): the range of its values.
struct IndicatorInfo {
  double min_value = 0;
  double max_value = 0;
  bool integral = false;
};

// Indicator key → its range.
using IndicatorCatalogue = absl::flat_hash_map<std::string, IndicatorInfo>;

// OK when `rubric` obeys every rule written in the comments of Rubric and
// the messages it holds; INVALID_ARGUMENT naming the path below `field` and
// the rule otherwise, e.g.
//   rubric.stars[1].criteria[2].indicator.key: unknown indicator "foo" (not
//   in project tracking's catalogue)
// Paths index the rubric as given (before NormalizeRubric). With a
// `catalogue`, every indicator key must be in it; with nullptr that check is
// skipped. A threshold an indicator cannot reach is allowed: the rubric may
// be meant for a changed catalogue. Output-only fields are ignored.
absl::Status ValidateRubric(const v1::Rubric& rubric,
                            const IndicatorCatalogue* catalogue,
                            absl::string_view field = "rubric");

// The stored form: star rules in star order, output-only fields (version,
// active, creator, create_time) cleared; nothing else changes (a `months`
// of 0 stays 0 — the evaluator reads it as 12).
v1::Rubric NormalizeRubric(v1::Rubric rubric);

// Parses a rubric in protobuf text format. INVALID_ARGUMENT on a syntax
// error, as "<source>:<line>:<column>: <protobuf's message>" (both 1-based,
// where protobuf noticed the error). Does not validate.
absl::StatusOr<v1::Rubric> ParseRubricText(absl::string_view text,
                                           absl::string_view source);

// Reads and parses a rubric file (ParseRubricText with the path as source).
// NOT_FOUND when the file does not exist, FAILED_PRECONDITION when it cannot
// be read; both name the path. Does not validate: the caller does, with its
// catalogue.
absl::StatusOr<v1::Rubric> LoadRubricFile(const std::string& path);

// Places a ValidateRubric error (with the default field "rubric") in the
// rubric's text: "<source>:<line>:<column>: rubric.stars[1]...: <rule>",
// at the named field or, when the text lacks it (a required field left
// out), at the nearest enclosing one that is there. Other statuses, and
// errors it cannot place, come back unchanged. For start-up, e.g.
//   status = PlaceRubricError(ValidateRubric(rubric, &catalogue), text, path);
absl::Status PlaceRubricError(const absl::Status& status,
                              absl::string_view text, absl::string_view source);

// PlaceRubricError with the text read again from the file at `path`.
absl::Status PlaceRubricFileError(const absl::Status& status,
                                  const std::string& path);

// What evaluations under `rubric` read: every indicator key (ratios
// included), the widest indicator window (0 → 12 months; 1 when no
// indicator is read) and each distinct compliance window (0 → 12 weeks).
InputNeeds NeedsOf(const v1::Rubric& rubric);

// The window of an indicator input in months, "0 means 12" applied.
int WindowMonths(const v1::IndicatorInput& input);

// The weeks of a reporting-compliance input, "0 means 12" applied.
int ComplianceWeeks(const v1::ReportingComplianceInput& input);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_RUBRIC_H_
