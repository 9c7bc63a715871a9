#include "tests/scoring/huiche_expected.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fivestar/common/v1/star.pb.h"
#include "services/scoring/village_inputs.h"
#include "tests/testing/ndjson.h"

namespace fivestar::scoring::testing {
namespace {

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(kHuicheExpectedPath, ":", line, ": ", what));
}

// "name=<int>" → the int.
bool ParseCount(absl::string_view field, absl::string_view name, int* out) {
  return absl::ConsumePrefix(&field, name) &&
         absl::ConsumePrefix(&field, "=") && absl::SimpleAtoi(field, out);
}

int StarIndexOf(absl::string_view name) {
  fivestar::common::v1::Star star;
  if (!fivestar::common::v1::Star_Parse(std::string(name), &star) ||
      star == fivestar::common::v1::STAR_UNSPECIFIED) {
    return -1;
  }
  return StarIndex(star);
}

}  // namespace

absl::StatusOr<std::vector<ExpectedVillage>> ParseHuicheExpected(
    absl::string_view text) {
  std::vector<ExpectedVillage> villages;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, " | ");
    std::vector<absl::string_view> fields =
        absl::StrSplit(parts[0], ' ', absl::SkipEmpty());
    if (fields.size() != 8) return LineError(number, "expected 8 fields");
    ExpectedVillage village;
    village.village_id = std::string(fields[0]);
    if (!ParseCount(fields[1], "stars", &village.stars) ||
        !ParseCount(fields[2], "points", &village.points)) {
      return LineError(number, "expected stars=<n> points=<n>");
    }
    for (int i = 0; i < 5; ++i) {
      // <STAR>=<0|1>:<points>, in star order.
      std::vector<absl::string_view> kv = absl::StrSplit(fields[3 + i], '=');
      std::vector<absl::string_view> value =
          kv.size() == 2 ? absl::StrSplit(kv[1], ':')
                         : std::vector<absl::string_view>{};
      int earned = 0;
      if (kv.size() != 2 || StarIndexOf(kv[0]) != i || value.size() != 2 ||
          !absl::SimpleAtoi(value[0], &earned) ||
          !absl::SimpleAtoi(value[1], &village.per_star[i].points)) {
        return LineError(number,
                         absl::StrCat("bad star field ", fields[3 + i]));
      }
      village.per_star[i].earned = earned == 1;
    }
    for (size_t p = 1; p < parts.size(); ++p) {
      std::pair<absl::string_view, absl::string_view> reason =
          absl::StrSplit(parts[p], absl::MaxSplits(": ", 1));
      const int index = StarIndexOf(reason.first);
      if (index < 0 || reason.second.empty()) {
        return LineError(number, absl::StrCat("bad reason ", parts[p]));
      }
      village.per_star[index].reason = std::string(reason.second);
    }
    villages.push_back(std::move(village));
  }
  return villages;
}

absl::StatusOr<std::vector<ExpectedVillage>> LoadHuicheExpected() {
  const std::string path = fivestar::testing::SourcePath(kHuicheExpectedPath);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseHuicheExpected(text.str());
}

}  // namespace fivestar::scoring::testing
