// The expected 2022-09 evaluations of the 21 Huiche villages under the
// default rubric (tests/scoring/testdata/huiche_2022-09_expected.txt,
// computed independently of the evaluator), for tests to compare with.
#ifndef FIVESTAR_TESTS_SCORING_HUICHE_EXPECTED_H_
#define FIVESTAR_TESTS_SCORING_HUICHE_EXPECTED_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fivestar::scoring::testing {

struct ExpectedStar {
  bool earned = false;
  int points = 0;
  std::string reason;  // empty when earned
};

struct ExpectedVillage {
  std::string village_id;
  int stars = 0;                         // stars earned
  int points = 0;                        // over the five stars
  std::array<ExpectedStar, 5> per_star;  // index StarIndex(star)
};

// Parses the file's text ('#' lines and blank lines skipped).
// INVALID_ARGUMENT naming the line when one is malformed.
absl::StatusOr<std::vector<ExpectedVillage>> ParseHuicheExpected(
    absl::string_view text);

// Reads and parses the file below the source tree, in file order.
absl::StatusOr<std::vector<ExpectedVillage>> LoadHuicheExpected();

// The file's path below the source tree.
inline constexpr char kHuicheExpectedPath[] =
    "tests/scoring/testdata/huiche_2022-09_expected.txt";

}  // namespace fivestar::scoring::testing

#endif  // FIVESTAR_TESTS_SCORING_HUICHE_EXPECTED_H_
