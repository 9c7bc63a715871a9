// Field checks scoring's requests share.
#ifndef FIVESTAR_SERVICES_SCORING_SCORING_FIELDS_H_
#define FIVESTAR_SERVICES_SCORING_SCORING_FIELDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/registry_client/jurisdiction.h"
#include "fivestar/common/v1/star.pb.h"

namespace fivestar::scoring {

// A required "YYYY-MM" from 2000-01 to the current month (China time) of
// `now`.
absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view field,
                                             const std::string& period,
                                             absl::Time now);

// A star field: STAR_UNSPECIFIED allowed when `required` is false.
absl::Status ValidateStar(absl::string_view field, int star, bool required);

// A required id of a village or region.
absl::Status ValidateRequiredId(absl::string_view field, const std::string& id);

// Jurisdiction::AuthorizeVillage for a request naming a village: NOT_FOUND
// (rather than a field error) when the registry does not know it, as the
// contract's RPCs promise, for a global principal; a scoped one gets the
// PERMISSION_DENIED of a village outside its scope (ConcealAbsence).
// Returns the village's lineage.
absl::StatusOr<std::vector<std::string>> AuthorizeNamedVillage(
    const Jurisdiction& jurisdiction, const Principal& principal, Role role,
    const std::string& village_id, absl::string_view what);

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_SCORING_FIELDS_H_
