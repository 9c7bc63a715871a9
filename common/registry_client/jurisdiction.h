// Who may act on which village, with the registry's region tree as the map:
// the permission chain of anything about a village is [village, its region,
// ..., root], as the VillageDirectory tells it.
#ifndef FIVESTAR_COMMON_REGISTRY_CLIENT_JURISDICTION_H_
#define FIVESTAR_COMMON_REGISTRY_CLIENT_JURISDICTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "common/registry_client/village_directory.h"

namespace fivestar {

// The village filters of a list request, with the field names to blame.
struct VillageFilter {
  std::string village_id;
  std::string village_field = "village_id";
  std::string region_id;
  std::string region_field = "ancestor_region_id";
};

// What a list or change stream filtered by a region may show a principal:
// the readable subset below the filter (see AuthorizeListFilter).
struct RegionFilterBounds {
  // The villages shown lie below this region; empty when `village_id` is
  // set.
  std::string region_id;
  // Set for a principal scoped to one village when the filter lies above
  // it: that village alone.
  std::string village_id;
};

class Jurisdiction {
 public:
  // `directory` must outlive the jurisdiction.
  explicit Jurisdiction(VillageDirectory* directory) : directory_(directory) {}

  VillageDirectory* directory() const { return directory_; }

  // For a write about a village: checks that `principal` may act there with
  // `role` and returns the village's lineage (always asked of the
  // directory, so a write fails with UNAVAILABLE rather than go unchecked
  // when the registry is down). When the registry does not know the
  // village: for a scoped principal the PERMISSION_DENIED of a village
  // outside its scope (ConcealAbsence: no existence oracle); for a global
  // one INVALID_ARGUMENT naming `field`, or FAILED_PRECONDITION when
  // `field` is empty (a stored record whose village has left the registry).
  absl::StatusOr<std::vector<std::string>> AuthorizeVillage(
      const Principal& principal, Role role, const std::string& village_id,
      absl::string_view field, absl::string_view what) const;

  // For a write about many villages at once (an import): as
  // AuthorizeVillage for each of `village_ids`, with `fields[i]` as the
  // field to blame and "<what> <village id>" as what is done, but asking the
  // directory in one batch (VillageDirectory::VillageLineages). Returns the
  // lineages in order, or the error AuthorizeVillage would give for the
  // first village, in order, that fails.
  absl::StatusOr<std::vector<std::vector<std::string>>> AuthorizeVillages(
      const Principal& principal, Role role,
      const std::vector<std::string>& village_ids,
      const std::vector<std::string>& fields, absl::string_view what) const;

  // For a read of something in a village: as AuthorizeVillage with the
  // viewer role, but a principal with global scope needs no lookup, so
  // such reads keep working while the registry is down.
  absl::Status AuthorizeVillageRead(const Principal& principal,
                                    const std::string& village_id,
                                    absl::string_view what) const;

  // Checks that `principal` may act on a region with `role` and returns the
  // region's lineage. When the registry does not know the region: for a
  // scoped principal the PERMISSION_DENIED of a region outside its scope
  // (ConcealAbsence); for a global one INVALID_ARGUMENT naming `field`, or
  // NOT_FOUND when `field` is empty.
  absl::StatusOr<std::vector<std::string>> AuthorizeRegion(
      const Principal& principal, Role role, const std::string& region_id,
      absl::string_view field, absl::string_view what) const;

  // The ancestry of `principal`'s scope, the scope's own id first; empty for
  // a global principal and for a scope the registry does not know.
  absl::StatusOr<std::vector<std::string>> ScopeLineage(
      const Principal& principal) const;

  // Checks a list or stream filter naming region `region_id` for the
  // viewer role and returns what the call may show below it: the region
  // itself when it lies within the principal's scope (or the principal is
  // global), the principal's whole scope when the region lies above it.
  // PERMISSION_DENIED when the region lies wholly outside the scope, or
  // (scoped principal) the registry does not know it; for a global
  // principal, an unknown region is INVALID_ARGUMENT naming `field`, or
  // NOT_FOUND when `field` is empty.
  absl::StatusOr<RegionFilterBounds> AuthorizeRegionFilter(
      const Principal& principal, const std::string& region_id,
      absl::string_view field, absl::string_view what) const;

  // The villages a list may show to `principal` (viewer role) given its
  // filters: nullopt for "every village" (a global principal without
  // filters), else the ids (possibly none). A region filter within or
  // above the principal's scope shows what the principal may read below
  // it (AuthorizeRegionFilter); a region filter wholly outside the scope,
  // a village filter outside it, or a filter naming a region or village
  // the registry does not know, is PERMISSION_DENIED for a scoped
  // principal; without filters, a scoped principal sees its own subtree
  // (or its own village).
  absl::StatusOr<std::optional<std::vector<std::string>>> VisibleVillages(
      const Principal& principal, const VillageFilter& filter,
      absl::string_view what) const;

 private:
  VillageDirectory* directory_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_REGISTRY_CLIENT_JURISDICTION_H_
