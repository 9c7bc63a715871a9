// The calendar of the contract: dates ("YYYY-MM-DD") and months ("YYYY-MM")
// are civil dates in China Standard Time (UTC+8, no daylight saving), and
// "today" and "the current month" are taken there.
#ifndef FIVESTAR_COMMON_CALENDAR_H_
#define FIVESTAR_COMMON_CALENDAR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace fivestar {

// UTC+8.
absl::TimeZone ChinaStandardTime();

// The earliest and latest dates the contract accepts.
inline constexpr absl::CivilDay kFirstDay(2000, 1, 1);
inline constexpr absl::CivilDay kLastDay(2100, 12, 31);

// Parses exactly "YYYY-MM-DD" (a real date within kFirstDay..kLastDay).
// INVALID_ARGUMENT names `field` otherwise.
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field,
                                         absl::string_view text);

// Parses exactly "YYYY-MM" (a month within 2000-01..2100-12).
// INVALID_ARGUMENT names `field` otherwise.
absl::StatusOr<absl::CivilMonth> ParseMonth(absl::string_view field,
                                            absl::string_view text);

std::string FormatDate(absl::CivilDay day);
std::string FormatMonth(absl::CivilMonth month);

// The date / month of an instant in China Standard Time.
absl::CivilDay DayInChina(absl::Time time);
absl::CivilMonth MonthInChina(absl::Time time);

// The first instant of a day in China Standard Time.
absl::Time StartOfDay(absl::CivilDay day);

// The last instant (to the microsecond) of a month in China Standard Time.
absl::Time EndOfMonth(absl::CivilMonth month);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CALENDAR_H_
