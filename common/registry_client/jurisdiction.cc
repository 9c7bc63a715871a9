#include "common/registry_client/jurisdiction.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar {

absl::StatusOr<std::vector<std::string>> Jurisdiction::AuthorizeVillage(
    const Principal& principal, Role role, const std::string& village_id,
    absl::string_view field, absl::string_view what) const {
  // The role needs no lookup; checking it first spares the registry.
  RETURN_IF_ERROR(AuthorizeRole(principal, role, what));
  absl::StatusOr<std::vector<std::string>> lineage =
      directory_->VillageLineage(village_id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, lineage.status(), what);
  }
  if (absl::IsNotFound(lineage.status())) {
    if (field.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "village ", village_id, " no longer exists in the registry"));
    }
    return FieldError(field, absl::StrCat("village ", village_id,
                                          " does not exist in the registry"));
  }
  RETURN_IF_ERROR(lineage.status());
  RETURN_IF_ERROR(Authorize(principal, role, *lineage, what));
  return lineage;
}

absl::Status Jurisdiction::AuthorizeVillageRead(const Principal& principal,
                                                const std::string& village_id,
                                                absl::string_view what) const {
  if (principal.is_global()) {
    return AuthorizeRole(principal, Role::kViewer, what);
  }
  return AuthorizeVillage(principal, Role::kViewer, village_id, "", what)
      .status();
}

absl::StatusOr<std::vector<std::string>> Jurisdiction::AuthorizeRegion(
    const Principal& principal, Role role, const std::string& region_id,
    absl::string_view field, absl::string_view what) const {
  RETURN_IF_ERROR(AuthorizeRole(principal, role, what));
  absl::StatusOr<std::vector<std::string>> lineage =
      directory_->RegionLineage(region_id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, lineage.status(), what);
  }
  if (absl::IsNotFound(lineage.status())) {
    if (field.empty()) return lineage.status();
    return FieldError(field, absl::StrCat("region ", region_id,
                                          " does not exist in the registry"));
  }
  RETURN_IF_ERROR(lineage.status());
  RETURN_IF_ERROR(Authorize(principal, role, *lineage, what));
  return lineage;
}

absl::StatusOr<std::optional<std::vector<std::string>>>
Jurisdiction::VisibleVillages(const Principal& principal,
                              const VillageFilter& filter,
                              absl::string_view what) const {
  using Result = std::optional<std::vector<std::string>>;
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, what));
  if (!filter.village_id.empty()) {
    RETURN_IF_ERROR(ValidateId(filter.village_field, filter.village_id));
  }
  if (!filter.region_id.empty()) {
    RETURN_IF_ERROR(ValidateId(filter.region_field, filter.region_id));
    RETURN_IF_ERROR(AuthorizeRegion(principal, Role::kViewer, filter.region_id,
                                    filter.region_field, what)
                        .status());
    ASSIGN_OR_RETURN(std::vector<std::string> villages,
                     directory_->VillagesUnder(filter.region_id));
    if (filter.village_id.empty()) return Result(std::move(villages));
    // The region is inside the principal's scope, so is all below it.
    const bool below =
        std::binary_search(villages.begin(), villages.end(), filter.village_id);
    return Result(below ? std::vector<std::string>{filter.village_id}
                        : std::vector<std::string>{});
  }
  if (!filter.village_id.empty()) {
    if (!principal.is_global()) {
      RETURN_IF_ERROR(AuthorizeVillage(principal, Role::kViewer,
                                       filter.village_id, filter.village_field,
                                       what)
                          .status());
    }
    return Result(std::vector<std::string>{filter.village_id});
  }
  if (principal.is_global()) return Result();
  // No filter: the principal's own subtree, whether its scope is a region
  // or a single village.
  absl::StatusOr<std::vector<std::string>> villages =
      directory_->VillagesUnder(principal.scope);
  if (!absl::IsNotFound(villages.status())) {
    RETURN_IF_ERROR(villages.status());
    return Result(*std::move(villages));
  }
  absl::StatusOr<std::vector<std::string>> own =
      directory_->VillageLineage(principal.scope);
  if (absl::IsNotFound(own.status())) return Result(std::vector<std::string>{});
  RETURN_IF_ERROR(own.status());
  return Result(std::vector<std::string>{principal.scope});
}

}  // namespace fivestar
