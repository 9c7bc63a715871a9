#include "common/registry_client/jurisdiction.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/check.h"
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

absl::StatusOr<std::vector<std::vector<std::string>>>
Jurisdiction::AuthorizeVillages(const Principal& principal, Role role,
                                const std::vector<std::string>& village_ids,
                                const std::vector<std::string>& fields,
                                absl::string_view what) const {
  FIVESTAR_CHECK(fields.size() == village_ids.size(),
                 "AuthorizeVillages needs one field per village");
  if (village_ids.empty()) return std::vector<std::vector<std::string>>();
  RETURN_IF_ERROR(AuthorizeRole(principal, role,
                                absl::StrCat(what, " ", village_ids.front())));
  ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> lineages,
                   directory_->VillageLineages(village_ids));
  FIVESTAR_CHECK(lineages.size() == village_ids.size(),
                 "VillageLineages answered another number of villages");
  for (size_t i = 0; i < village_ids.size(); ++i) {
    const std::string& village_id = village_ids[i];
    const std::string what_here = absl::StrCat(what, " ", village_id);
    if (lineages[i].empty()) {
      const absl::Status absent = absl::NotFoundError(absl::StrCat(
          "village ", village_id, " does not exist in the registry"));
      if (!principal.is_global()) {
        return ConcealAbsence(principal, role, absent, what_here);
      }
      if (fields[i].empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "village ", village_id, " no longer exists in the registry"));
      }
      return FieldError(fields[i], absent.message());
    }
    RETURN_IF_ERROR(Authorize(principal, role, lineages[i], what_here));
  }
  return lineages;
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

absl::StatusOr<std::vector<std::string>> Jurisdiction::ScopeLineage(
    const Principal& principal) const {
  if (principal.is_global()) return std::vector<std::string>();
  absl::StatusOr<std::vector<std::string>> region =
      directory_->RegionLineage(principal.scope);
  if (!absl::IsNotFound(region.status())) return region;
  absl::StatusOr<std::vector<std::string>> village =
      directory_->VillageLineage(principal.scope);
  if (absl::IsNotFound(village.status())) return std::vector<std::string>();
  return village;
}

absl::StatusOr<RegionFilterBounds> Jurisdiction::AuthorizeRegionFilter(
    const Principal& principal, const std::string& region_id,
    absl::string_view field, absl::string_view what) const {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, what));
  absl::StatusOr<std::vector<std::string>> lineage =
      directory_->RegionLineage(region_id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, Role::kViewer, lineage.status(), what);
  }
  if (absl::IsNotFound(lineage.status())) {
    if (field.empty()) return lineage.status();
    return FieldError(field, absl::StrCat("region ", region_id,
                                          " does not exist in the registry"));
  }
  RETURN_IF_ERROR(lineage.status());
  RegionFilterBounds bounds;
  bounds.region_id = region_id;
  if (principal.is_global()) return bounds;
  ASSIGN_OR_RETURN(std::vector<std::string> scope_chain,
                   ScopeLineage(principal));
  RETURN_IF_ERROR(AuthorizeListFilter(principal, Role::kViewer, *lineage,
                                      scope_chain, what));
  if (FilterAboveScope(principal, region_id, scope_chain)) {
    // The scope's own lineage says what it is: a region's starts with
    // itself and has no village, a village's is one longer than its
    // region's.
    absl::StatusOr<std::vector<std::string>> as_region =
        directory_->RegionLineage(principal.scope);
    if (as_region.ok()) {
      bounds.region_id = principal.scope;
    } else if (absl::IsNotFound(as_region.status())) {
      bounds.region_id.clear();
      bounds.village_id = principal.scope;
    } else {
      return as_region.status();
    }
  }
  return bounds;
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
    ASSIGN_OR_RETURN(RegionFilterBounds bounds,
                     AuthorizeRegionFilter(principal, filter.region_id,
                                           filter.region_field, what));
    std::vector<std::string> villages;
    if (!bounds.village_id.empty()) {
      villages.push_back(bounds.village_id);
    } else {
      ASSIGN_OR_RETURN(villages, directory_->VillagesUnder(bounds.region_id));
    }
    if (filter.village_id.empty()) return Result(std::move(villages));
    // A village filter must itself be readable.
    if (!principal.is_global()) {
      RETURN_IF_ERROR(AuthorizeVillage(principal, Role::kViewer,
                                       filter.village_id, filter.village_field,
                                       what)
                          .status());
    }
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
