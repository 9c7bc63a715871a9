// What project tracking needs to know of the village registry: whether a
// village or region exists, where it sits in the region tree (for permission
// checks and the change feed), and which villages lie below a region (for
// region filters and summaries). An interface, so that tests can fake
// failures the real registry cannot produce.
#ifndef FIVESTAR_COMMON_REGISTRY_CLIENT_VILLAGE_DIRECTORY_H_
#define FIVESTAR_COMMON_REGISTRY_CLIENT_VILLAGE_DIRECTORY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "fivestar/registry/v1/registry.pb.h"

namespace fivestar {

class VillageDirectory {
 public:
  virtual ~VillageDirectory() = default;

  // The village's lineage: [village_id, its region, ..., root region].
  // NOT_FOUND when the registry has no such village; UNAVAILABLE when the
  // registry cannot be asked.
  virtual absl::StatusOr<std::vector<std::string>> VillageLineage(
      const std::string& village_id) = 0;

  // The lineages of many villages at once, one per id of `village_ids` in
  // the same order (an id may repeat); a village the registry does not know
  // gets an empty lineage. UNAVAILABLE (or the registry's other failures)
  // when the registry cannot be asked. Implementations ask in a few calls
  // rather than one per village; this default asks VillageLineage per id.
  virtual absl::StatusOr<std::vector<std::vector<std::string>>> VillageLineages(
      const std::vector<std::string>& village_ids);

  // The region's lineage: [region_id, its parent, ..., root region].
  // NOT_FOUND when the registry has no such region; UNAVAILABLE as above.
  virtual absl::StatusOr<std::vector<std::string>> RegionLineage(
      const std::string& region_id) = 0;

  // The region's kind (TOWNSHIP, COUNTY, ...). NOT_FOUND when the registry
  // has no such region; UNAVAILABLE as above.
  virtual absl::StatusOr<registry::v1::RegionKind> RegionKindOf(
      const std::string& region_id) = 0;

  // The ids of every village below the region (any depth), in id order.
  // NOT_FOUND when the registry has no such region; UNAVAILABLE as above.
  virtual absl::StatusOr<std::vector<std::string>> VillagesUnder(
      const std::string& region_id) = 0;
};

inline absl::StatusOr<std::vector<std::vector<std::string>>>
VillageDirectory::VillageLineages(const std::vector<std::string>& village_ids) {
  std::vector<std::vector<std::string>> lineages;
  lineages.reserve(village_ids.size());
  for (const std::string& id : village_ids) {
    absl::StatusOr<std::vector<std::string>> lineage = VillageLineage(id);
    if (absl::IsNotFound(lineage.status())) {
      lineages.emplace_back();
      continue;
    }
    if (!lineage.ok()) return lineage.status();
    lineages.push_back(*std::move(lineage));
  }
  return lineages;
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_REGISTRY_CLIENT_VILLAGE_DIRECTORY_H_
