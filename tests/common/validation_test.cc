// Tests of common/validation: each check returns OK or INVALID_ARGUMENT
// naming the field and the rule, counting characters as code points.
#include "common/validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::google::protobuf::RepeatedPtrField;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST(ValidateIdTest, AcceptsLettersDigitsDotUnderscoreDash) {
  EXPECT_OK(ValidateId("village.id", "411323-huiche_v01.a"));
  EXPECT_OK(ValidateId("village.id", "x"));
  EXPECT_OK(ValidateId("village.id", std::string(64, 'a')));
}

TEST(ValidateIdTest, EmptyIsRequired) {
  EXPECT_THAT(ValidateId("village.id", ""),
              StatusIs(kInvalid, "village.id: required"));
}

TEST(ValidateIdTest, SixtyFiveCharactersIsTooLong) {
  EXPECT_THAT(ValidateId("village.id", std::string(65, 'a')),
              StatusIs(kInvalid,
                       "village.id: must be at most 64 characters, "
                       "got 65"));
}

TEST(ValidateIdTest, OtherCharactersAreRejected) {
  for (const char* id : {"a b", "a/b", "a:b", "村", "a\nb", "a+b"}) {
    SCOPED_TRACE(id);
    EXPECT_THAT(
        ValidateId("village.id", id),
        StatusIs(kInvalid, "village.id: must use only [A-Za-z0-9._-], got \""));
  }
}

TEST(ValidateIdTest, EscapesTheBadIdInTheMessage) {
  EXPECT_THAT(ValidateId("id", "a\nb"), StatusIs(kInvalid, "got \"a\\nb\""));
}

TEST(Utf8LengthTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("回车镇"), 3u);  // 9 bytes.
  EXPECT_EQ(Utf8Length("é"), 1u);
  EXPECT_EQ(Utf8Length("😀x"), 2u);  // A 4-byte sequence, then ASCII.
}

TEST(ValidateTextTest, AcceptsTextWithinBoundsCountedInCodePoints) {
  // Six code points, eighteen bytes: fits a max of 6.
  EXPECT_OK(ValidateText("village.name", "回车镇回车镇", 1, 6));
  EXPECT_OK(ValidateText("village.name", "a", 1, 1));
  EXPECT_OK(ValidateText("village.name", "回车 镇", 1, 6));
}

TEST(ValidateTextTest, EmptyIsRequiredUnlessMinIsZero) {
  EXPECT_THAT(ValidateText("village.name", "", 1, 10),
              StatusIs(kInvalid, "village.name: required"));
  EXPECT_OK(ValidateText("village.note", "", 0, 10));
}

TEST(ValidateTextTest, TooLongNamesBoundsAndLengthInCodePoints) {
  EXPECT_THAT(ValidateText("village.name", "回车镇回车镇回", 1, 6),
              StatusIs(kInvalid,
                       "village.name: must be 1..6 characters, "
                       "got 7"));
}

TEST(ValidateTextTest, TooShortNamesBounds) {
  EXPECT_THAT(ValidateText("village.name", "ab", 3, 6),
              StatusIs(kInvalid,
                       "village.name: must be 3..6 characters, "
                       "got 2"));
}

TEST(ValidateTextTest, ControlCharactersAreRejected) {
  for (const char* text : {"a\nb", "a\tb", "a\rb",
                           "a\x7f"
                           "b",
                           "a\x01"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ValidateText("village.name", text, 1, 10),
                StatusIs(kInvalid,
                         "village.name: must not contain control "
                         "characters"));
  }
}

TEST(ValidateTextTest, LeadingOrTrailingWhitespaceIsRejected) {
  for (const char* text : {" a", "a ", " "}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ValidateText("village.name", text, 1, 10),
                StatusIs(kInvalid,
                         "village.name: must not start or end with "
                         "whitespace"));
  }
}

TEST(ValidateTextTest, FullWidthSpaceAtEitherEndIsRejected) {
  // U+3000, the ideographic space Chinese input methods produce.
  for (const char* text : {"\xE3\x80\x80毛河", "毛河\xE3\x80\x80"}) {
    EXPECT_THAT(ValidateText("village.name", text, 1, 10),
                StatusIs(kInvalid,
                         "village.name: must not start or end with "
                         "whitespace"));
  }
  EXPECT_OK(ValidateText("village.name", "毛\xE3\x80\x80河", 1, 10));
}

TEST(ValidateTextTest, C1ControlCharactersAreRejected) {
  EXPECT_THAT(
      ValidateText("village.name",
                   "a\xC2\x85"
                   "b",
                   1, 10),
      StatusIs(kInvalid, "village.name: must not contain control characters"));
  EXPECT_OK(ValidateText("village.name", "caf\xC3\xA9", 1, 10));  // é
  EXPECT_OK(ValidateText("village.name", "\xC2\xB7", 1, 10));     // U+00B7 ·
}

TEST(ValidateRangeTest, AcceptsBothBoundsAndBetween) {
  EXPECT_OK(ValidateRange("village.target_level", 0, 0, 5));
  EXPECT_OK(ValidateRange("village.target_level", 3, 0, 5));
  EXPECT_OK(ValidateRange("village.target_level", 5, 0, 5));
}

TEST(ValidateRangeTest, OutsideNamesFieldBoundsAndValue) {
  EXPECT_THAT(ValidateRange("village.target_level", 7, 0, 5),
              StatusIs(kInvalid, "village.target_level: must be 0..5, got 7"));
  EXPECT_THAT(ValidateRange("village.target_level", -1, 0, 5),
              StatusIs(kInvalid, "village.target_level: must be 0..5, got -1"));
}

RepeatedPtrField<std::string> Tags(std::initializer_list<const char*> tags) {
  RepeatedPtrField<std::string> field;
  for (const char* tag : tags) field.Add(tag);
  return field;
}

TEST(ValidateTagsTest, AcceptsDistinctTagsWithinLimits) {
  EXPECT_OK(ValidateTags("village.tags", Tags({"山区", "border"}), 2, 6));
  EXPECT_OK(ValidateTags("village.tags", Tags({}), 0, 6));
}

TEST(ValidateTagsTest, TooManyTagsNamesLimitAndCount) {
  EXPECT_THAT(ValidateTags("village.tags", Tags({"a", "b", "c"}), 2, 6),
              StatusIs(kInvalid,
                       "village.tags: must hold at most 2 tags, "
                       "got 3"));
}

TEST(ValidateTagsTest, EmptyTagIsRequiredAtItsIndex) {
  EXPECT_THAT(ValidateTags("village.tags", Tags({"a", ""}), 5, 6),
              StatusIs(kInvalid, "village.tags[1]: required"));
}

TEST(ValidateTagsTest, OverlongTagNamesItsIndex) {
  EXPECT_THAT(ValidateTags("village.tags", Tags({"abcdefg"}), 5, 6),
              StatusIs(kInvalid,
                       "village.tags[0]: must be 1..6 characters, "
                       "got 7"));
}

TEST(ValidateTagsTest, DuplicateNamesTheLaterIndex) {
  EXPECT_THAT(ValidateTags("x", Tags({"山区", "山区"}), 5, 6),
              StatusIs(kInvalid, "x[1]: duplicate tag \"山区\""));
  EXPECT_THAT(ValidateTags("x", Tags({"a", "b", "a"}), 5, 6),
              StatusIs(kInvalid, "x[2]: duplicate tag \"a\""));
}

TEST(EffectivePageSizeTest, ZeroMeansTheDefault) {
  EXPECT_THAT(EffectivePageSize(0, 50, 500), IsOkAndHolds(50));
}

TEST(EffectivePageSizeTest, RequestedWithinOneToMaxIsKept) {
  EXPECT_THAT(EffectivePageSize(1, 50, 500), IsOkAndHolds(1));
  EXPECT_THAT(EffectivePageSize(500, 50, 500), IsOkAndHolds(500));
}

TEST(EffectivePageSizeTest, NegativeIsInvalid) {
  EXPECT_THAT(EffectivePageSize(-1, 50, 500),
              StatusIs(kInvalid, "page_size: must be 0..500, got -1"));
}

TEST(EffectivePageSizeTest, AboveMaxIsInvalid) {
  EXPECT_THAT(EffectivePageSize(501, 50, 500),
              StatusIs(kInvalid, "page_size: must be 0..500, got 501"));
}

constexpr char kFilters[] = "region=411323;status=active";

TEST(PageTokenTest, RoundTripsThePosition) {
  for (const std::string& after : std::vector<std::string>{
           "v-0042", "回车镇|2024", std::string("a\0b", 3), ":::", ""}) {
    const std::string token = EncodePageToken(kFilters, after);
    EXPECT_THAT(DecodePageToken(token, kFilters), IsOkAndHolds(after));
  }
}

TEST(PageTokenTest, IsUrlSafe) {
  const std::string token = EncodePageToken(kFilters, "\xff\xfe\xfd?/+");
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos) << token;
}

TEST(PageTokenTest, EmptyTokenGivesEmptyPosition) {
  EXPECT_THAT(DecodePageToken("", kFilters), IsOkAndHolds(""));
}

TEST(PageTokenTest, TokenForOtherFiltersIsInvalid) {
  const std::string token = EncodePageToken(kFilters, "v-0042");
  EXPECT_THAT(DecodePageToken(token, "region=411324;status=active"),
              StatusIs(kInvalid,
                       "page_token: was issued for a request with "
                       "other filters"));
}

TEST(PageTokenTest, GarbageIsInvalid) {
  for (const std::string& token : std::vector<std::string>{
           "not base64 at all!", "YWJj",
           EncodePageToken(kFilters, "x").substr(1), std::string("\0\0", 2)}) {
    SCOPED_TRACE(token);
    EXPECT_THAT(
        DecodePageToken(token, kFilters),
        StatusIs(kInvalid, "page_token: is not a token this server issued"));
  }
}

}  // namespace
}  // namespace fivestar
