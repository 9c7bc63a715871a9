#include "services/scoring/scoring_fields.h"

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::scoring {

absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view field,
                                             const std::string& period,
                                             absl::Time now) {
  if (period.empty()) return FieldError(field, "required");
  ASSIGN_OR_RETURN(absl::CivilMonth month, ParseMonth(field, period));
  const absl::CivilMonth this_month = MonthInChina(now);
  if (month > this_month) {
    return FieldError(field,
                      absl::StrCat("must not be after the current month ",
                                   FormatMonth(this_month), ", got ", period));
  }
  return month;
}

absl::Status ValidateStar(absl::string_view field, int star, bool required) {
  if (!fivestar::common::v1::Star_IsValid(star)) {
    return FieldError(field, absl::StrCat("unknown value ", star));
  }
  if (required && star == fivestar::common::v1::STAR_UNSPECIFIED) {
    return FieldError(field, "required (one of the five stars)");
  }
  return absl::OkStatus();
}

absl::Status ValidateRequiredId(absl::string_view field,
                                const std::string& id) {
  if (id.empty()) return FieldError(field, "required");
  return ValidateId(field, id);
}

absl::StatusOr<std::vector<std::string>> AuthorizeNamedVillage(
    const Jurisdiction& jurisdiction, const Principal& principal, Role role,
    const std::string& village_id, absl::string_view what) {
  absl::StatusOr<std::vector<std::string>> lineage =
      jurisdiction.directory()->VillageLineage(village_id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, lineage.status(), what);
  }
  if (absl::IsNotFound(lineage.status())) {
    return absl::NotFoundError(absl::StrCat("village ", village_id,
                                            " does not exist in the registry"));
  }
  RETURN_IF_ERROR(lineage.status());
  // What AuthorizeVillage checks once it has the lineage, without asking
  // the directory a second time.
  RETURN_IF_ERROR(Authorize(principal, role, *lineage, what));
  return lineage;
}

}  // namespace fivestar::scoring
