// The text helpers of the `fivestar` client: column alignment by display
// width (Chinese names take two columns a character), what-if arguments,
// leaderboard movement and stars, yuan and the progress bar of
// evaluate-region, star names typed on the command line, and the reading of
// NDJSON import files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ios>
#include <istream>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "fivestar/projects/v1/projects.pb.h"
#include "fivestar/registry/v1/registry.pb.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "tests/testing/status_matchers.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/invocation.h"
#include "tools/cli/output.h"
#include "tools/cli/scoring_commands.h"

namespace fivestar::cli {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;

TEST(DisplayWidthTest, ChineseTakesTwoColumnsAndSymbolsOne) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("回车镇"), 6);
  EXPECT_EQ(DisplayWidth("垱子岭村 01"), 11);
  EXPECT_EQ(DisplayWidth("（定星）"), 8);  // fullwidth parentheses
  EXPECT_EQ(DisplayWidth("★★★ 3"), 5);
  EXPECT_EQ(DisplayWidth("↑3"), 2);
  EXPECT_EQ(DisplayWidth("–"), 1);
}

TEST(DisplayWidthTest, CombiningMarksTakeNoColumn) {
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1);  // e + U+0301
}

TEST(DisplayWidthTest, InvalidBytesCountOneEach) {
  EXPECT_EQ(DisplayWidth("\xFF\xFE"), 2);
  EXPECT_EQ(DisplayWidth("a\xE5\x9B"), 3);  // a truncated 回
}

TEST(PadTest, PadsToDisplayWidth) {
  EXPECT_EQ(PadRight("回车", 6), "回车  ");
  EXPECT_EQ(PadLeft("回车", 6), "  回车");
  EXPECT_EQ(PadRight("ab", 4), "ab  ");
  EXPECT_EQ(PadLeft("12", 4), "  12");
}

TEST(PadTest, WiderTextIsLeftAlone) {
  EXPECT_EQ(PadRight("回车镇", 4), "回车镇");
  EXPECT_EQ(PadLeft("12345", 2), "12345");
}

TEST(AlignColumnsTest, ChineseColumnsLineUp) {
  const std::vector<std::string> lines =
      AlignColumns({{"rank", "name", "points"},
                    {"1", "垱子岭村", "330"},
                    {"10", "丹水", "75"}},
                   {true, false, true});
  EXPECT_THAT(lines,
              ElementsAre("rank  name      points", "   1  垱子岭村     330",
                          "  10  丹水          75"));
}

TEST(AlignColumnsTest, ShortRowsAndTrailingSpacesAreDropped) {
  const std::vector<std::string> lines =
      AlignColumns({{"a", "bbbb"}, {"cc"}, {"d", ""}}, {});
  EXPECT_THAT(lines, ElementsAre("a   bbbb", "cc", "d"));
}

TEST(WhatIfArgumentsTest, IndicatorForTheEvaluatedMonth) {
  scoring::v1::WhatIfRequest request;
  ASSERT_OK(ParseWhatIfOverrides(
      {"indicator=collective_income_yuan_ytd=100000"}, &request));
  ASSERT_EQ(request.indicator_overrides_size(), 1);
  EXPECT_EQ(request.indicator_overrides(0).indicator_key(),
            "collective_income_yuan_ytd");
  EXPECT_EQ(request.indicator_overrides(0).period(), "");
  EXPECT_EQ(request.indicator_overrides(0).value(), 100000);
  EXPECT_EQ(request.criterion_overrides_size(), 0);
}

TEST(WhatIfArgumentsTest, IndicatorForAnotherMonthAndCriteria) {
  scoring::v1::WhatIfRequest request;
  ASSERT_OK(ParseWhatIfOverrides(
      {"indicator=petitions@2022-03=0", "criterion=branch_task_completion=0.8",
       "criterion=committee_members=-1.5e1"},
      &request));
  ASSERT_EQ(request.indicator_overrides_size(), 1);
  EXPECT_EQ(request.indicator_overrides(0).indicator_key(), "petitions");
  EXPECT_EQ(request.indicator_overrides(0).period(), "2022-03");
  EXPECT_EQ(request.indicator_overrides(0).value(), 0);
  ASSERT_EQ(request.criterion_overrides_size(), 2);
  EXPECT_EQ(request.criterion_overrides(0).criterion_id(),
            "branch_task_completion");
  EXPECT_EQ(request.criterion_overrides(0).actual(), 0.8);
  EXPECT_EQ(request.criterion_overrides(1).criterion_id(), "committee_members");
  EXPECT_EQ(request.criterion_overrides(1).actual(), -15);
}

TEST(WhatIfArgumentsTest, MalformedArgumentsAreUsageErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"indicator=petitions",
       "\"indicator=petitions\": must be indicator=<key>[@YYYY-MM]=<value> "
       "or criterion=<id>=<value>"},
      {"indicator==3",
       "\"indicator==3\": must be indicator=<key>[@YYYY-MM]=<value> or "
       "criterion=<id>=<value>"},
      {"indicator=petitions@=3",
       "\"indicator=petitions@=3\": must be "
       "indicator=<key>[@YYYY-MM]=<value>"},
      {"indicator=@2022-03=3",
       "\"indicator=@2022-03=3\": must be indicator=<key>[@YYYY-MM]=<value>"},
      {"criterion=x=abc",
       "\"criterion=x=abc\": the value \"abc\" is not a finite number"},
      {"criterion=x=inf",
       "\"criterion=x=inf\": the value \"inf\" is not a finite number"},
      {"criterion=x=1=2",
       "\"criterion=x=1=2\": the value \"1=2\" is not a finite number"},
      {"income=3=4",
       "\"income=3=4\": an override starts with indicator= or criterion="},
  };
  for (const auto& [argument, message] : cases) {
    scoring::v1::WhatIfRequest request;
    const absl::Status status = ParseWhatIfOverrides({argument}, &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << argument;
    EXPECT_EQ(status.message(), message) << argument;
    EXPECT_TRUE(IsUsageError(status)) << argument;
  }
}

scoring::v1::LeaderboardEntry Entry(int rank, int previous_rank) {
  scoring::v1::LeaderboardEntry entry;
  entry.set_rank(rank);
  entry.set_previous_rank(previous_rank);
  entry.set_rank_change(previous_rank == 0 ? 0 : previous_rank - rank);
  return entry;
}

TEST(MovementTextTest, ArrowsDashAndNew) {
  EXPECT_EQ(MovementText(Entry(2, 5)), "↑3");
  EXPECT_EQ(MovementText(Entry(4, 3)), "↓1");
  EXPECT_EQ(MovementText(Entry(7, 7)), "–");
  EXPECT_EQ(MovementText(Entry(1, 0)), "new");
}

TEST(StarsTextTest, RepeatedStarsThenTheNumber) {
  EXPECT_EQ(StarsText(0), "0");
  EXPECT_EQ(StarsText(1), "★ 1");
  EXPECT_EQ(StarsText(5), "★★★★★ 5");
}

TEST(YuanTextTest, ThousandsSeparators) {
  EXPECT_EQ(YuanText(0), "0 yuan");
  EXPECT_EQ(YuanText(999), "999 yuan");
  EXPECT_EQ(YuanText(30000), "30,000 yuan");
  EXPECT_EQ(YuanText(1234567), "1,234,567 yuan");
  EXPECT_EQ(YuanText(-21000), "-21,000 yuan");
}

TEST(ProgressTextTest, BarFillsWithVillagesHandled) {
  EXPECT_EQ(ProgressText(12, 0, 21, 10),
            "[#####.....] 12/21 evaluated, 0 failed");
  EXPECT_EQ(ProgressText(0, 0, 21, 10),
            "[..........] 0/21 evaluated, 0 failed");
  EXPECT_EQ(ProgressText(20, 1, 21, 10),
            "[##########] 20/21 evaluated, 1 failed");
}

TEST(ProgressTextTest, NoVillagesKnownYet) {
  EXPECT_EQ(ProgressText(0, 0, 0, 4), "[....] 0/0 evaluated, 0 failed");
}

TEST(ParseStarTest, EnumNamesInAnyCase) {
  EXPECT_THAT(ParseStar("<star>", "BRANCH_STRONG"),
              ::fivestar::testing::IsOkAndHolds(common::v1::BRANCH_STRONG));
  EXPECT_THAT(ParseStar("<star>", "civilized_happy"),
              ::fivestar::testing::IsOkAndHolds(common::v1::CIVILIZED_HAPPY));
  EXPECT_THAT(ParseStar("--star", "Eco-Livable"),
              ::fivestar::testing::IsOkAndHolds(common::v1::ECO_LIVABLE));
}

TEST(ParseStarTest, UnknownNamesListTheValidOnes) {
  for (const std::string name : {"golden", "star_unspecified", ""}) {
    const absl::StatusOr<common::v1::Star> star = ParseStar("<star>", name);
    EXPECT_THAT(star, StatusIs(absl::StatusCode::kInvalidArgument,
                               "<star>: must be branch_strong, "
                               "industry_thriving, eco_livable, safe_lawful "
                               "or civilized_happy, got \"" +
                                   name + "\""));
    EXPECT_TRUE(IsUsageError(star.status()));
  }
}

TEST(NdjsonReaderTest, DecodesEachNonBlankLineWithItsNumber) {
  std::istringstream in(
      "{\"village_id\": \"v1\", \"indicator_key\": \"accidents\", "
      "\"period\": \"2022-09\", \"value\": 2}\n"
      "\n"
      "  \t\r\n"
      "{\"village_id\": \"v2\", \"value\": 0.5}");
  NdjsonReader reader(in, "values.ndjson");
  projects::v1::IndicatorValue value;
  ASSERT_TRUE(reader.NextLine());
  EXPECT_EQ(reader.line_number(), 1);
  ASSERT_OK(reader.Decode(&value));
  EXPECT_EQ(value.village_id(), "v1");
  EXPECT_EQ(value.indicator_key(), "accidents");
  EXPECT_EQ(value.value(), 2);
  ASSERT_TRUE(reader.NextLine());
  EXPECT_EQ(reader.line_number(), 4);
  EXPECT_EQ(reader.line(), "{\"village_id\": \"v2\", \"value\": 0.5}");
  ASSERT_OK(reader.Decode(&value));
  EXPECT_EQ(value.village_id(), "v2");
  EXPECT_EQ(value.indicator_key(), "");  // decoding replaces, never merges
  EXPECT_EQ(value.value(), 0.5);
  EXPECT_FALSE(reader.NextLine());
  EXPECT_OK(reader.status());
}

TEST(NdjsonReaderTest, BadLinesNameTheFileAndLine) {
  std::istringstream in(
      "{\"region\": {\"id\": \"410000\"}}\n"
      "\n"
      "{\"region\": {\"id\": \"411300\"}, \"colour\": \"red\"}\n"
      "{\"village\": \n");
  NdjsonReader reader(in, "registry.ndjson");
  registry::v1::RegistryRecord record;
  ASSERT_TRUE(reader.NextLine());
  ASSERT_OK(reader.Decode(&record));
  EXPECT_EQ(record.region().id(), "410000");
  ASSERT_TRUE(reader.NextLine());
  EXPECT_THAT(
      reader.Decode(&record),
      StatusIs(absl::StatusCode::kInvalidArgument, "registry.ndjson:3: "));
  EXPECT_THAT(reader.Decode(&record),
              StatusIs(absl::StatusCode::kInvalidArgument, "colour"));
  ASSERT_TRUE(reader.NextLine());
  EXPECT_THAT(
      reader.Decode(&record),
      StatusIs(absl::StatusCode::kInvalidArgument, "registry.ndjson:4: "));
  EXPECT_FALSE(reader.NextLine());
  EXPECT_OK(reader.status());
}

// Serves `text`, then fails as a disk would.
class FailingBuffer : public std::streambuf {
 public:
  explicit FailingBuffer(std::string text) : text_(std::move(text)) {
    setg(text_.data(), text_.data(), text_.data() + text_.size());
  }

 protected:
  int_type underflow() override {
    throw std::ios_base::failure("input/output error");
  }

 private:
  std::string text_;
};

TEST(NdjsonReaderTest, ReadErrorsNameTheLineThatFailed) {
  FailingBuffer buffer("{\"village_id\": \"v1\"}\n");
  std::istream in(&buffer);
  NdjsonReader reader(in, "values.ndjson");
  projects::v1::IndicatorValue value;
  ASSERT_TRUE(reader.NextLine());
  ASSERT_OK(reader.Decode(&value));
  EXPECT_FALSE(reader.NextLine());
  EXPECT_THAT(reader.status(), StatusIs(absl::StatusCode::kDataLoss,
                                        "values.ndjson:2: read error"));
}

TEST(NdjsonReaderTest, EmptyInputHasNoLines) {
  std::istringstream in("\n \n");
  NdjsonReader reader(in, "stdin");
  EXPECT_FALSE(reader.NextLine());
  EXPECT_OK(reader.status());
}

}  // namespace
}  // namespace fivestar::cli
