#include "common/calendar.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar {
namespace {

// True when `text` has digits exactly where `pattern` has '9' and the same
// character elsewhere.
bool MatchesShape(absl::string_view text, absl::string_view pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (pattern[i] == '9' ? !absl::ascii_isdigit(text[i])
                          : text[i] != pattern[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::TimeZone ChinaStandardTime() {
  static const absl::TimeZone zone = absl::FixedTimeZone(8 * 60 * 60);
  return zone;
}

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field,
                                         absl::string_view text) {
  absl::CivilDay day;
  // The round trip rejects dates that parse by normalizing, e.g. 2022-02-30.
  if (!MatchesShape(text, "9999-99-99") || !absl::ParseCivilTime(text, &day) ||
      FormatDate(day) != text) {
    return FieldError(
        field,
        absl::StrCat("must be a date \"YYYY-MM-DD\", got \"", text, "\""));
  }
  if (day < kFirstDay || day > kLastDay) {
    return FieldError(
        field, absl::StrCat("must be from ", FormatDate(kFirstDay), " to ",
                            FormatDate(kLastDay), ", got ", text));
  }
  return day;
}

absl::StatusOr<absl::CivilMonth> ParseMonth(absl::string_view field,
                                            absl::string_view text) {
  absl::CivilMonth month;
  if (!MatchesShape(text, "9999-99") || !absl::ParseCivilTime(text, &month) ||
      FormatMonth(month) != text) {
    return FieldError(
        field, absl::StrCat("must be a month \"YYYY-MM\", got \"", text, "\""));
  }
  if (month < absl::CivilMonth(kFirstDay) ||
      month > absl::CivilMonth(kLastDay)) {
    return FieldError(
        field, absl::StrCat("must be from 2000-01 to 2100-12, got ", text));
  }
  return month;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::FormatCivilTime(day);
}

std::string FormatMonth(absl::CivilMonth month) {
  return absl::FormatCivilTime(month);
}

absl::CivilDay DayInChina(absl::Time time) {
  return absl::ToCivilDay(time, ChinaStandardTime());
}

absl::CivilMonth MonthInChina(absl::Time time) {
  return absl::ToCivilMonth(time, ChinaStandardTime());
}

absl::Time StartOfDay(absl::CivilDay day) {
  return absl::FromCivil(day, ChinaStandardTime());
}

absl::Time EndOfMonth(absl::CivilMonth month) {
  return absl::FromCivil(month + 1, ChinaStandardTime()) -
         absl::Microseconds(1);
}

}  // namespace fivestar
