// An in-memory copy of every stored region (the region tree), so that the
// lineage of a region, asked for by nearly every call to check scopes, is a
// few hash lookups instead of a read transaction. SqlRegistryStore keeps
// it exactly in step with its regions table: writes collect their changes
// while their transaction runs, and the tree takes them only once that
// transaction committed (a rolled back write leaves it as it was).
#ifndef FIVESTAR_SERVICES_REGISTRY_REGION_TREE_H_
#define FIVESTAR_SERVICES_REGISTRY_REGION_TREE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fivestar/registry/v1/registry.pb.h"

namespace fivestar::registry {

// One committed change to the tree: `region` stored (created, changed or
// moved), or, with `erased`, the region of id region.id() deleted.
struct RegionTreeChange {
  v1::Region region;
  bool erased = false;
};

// Every stored region by id, each with its parent, and the change-feed
// sequences that tell which database snapshots it matches. Thread-safe.
class RegionTree {
 public:
  // Replaces the contents with `regions`, read in the snapshot whose newest
  // change-feed sequence is `sequence`.
  void Reset(std::vector<v1::Region> regions, uint64_t sequence);

  // Applies the changes of one committed write batch whose newest
  // change-feed sequence is `sequence` (a batch that changed no region
  // passes no changes). Ignored when `sequence` is older than the tree's
  // (the regions it read may have changed since).
  void Apply(const std::vector<RegionTreeChange>& changes, uint64_t sequence);

  // The region `id`; NOT_FOUND ("region <id> not found") when absent.
  absl::StatusOr<v1::Region> Get(const std::string& id) const;
  // The ids from region `id` up to its root; NOT_FOUND when absent.
  absl::StatusOr<std::vector<std::string>> Lineage(const std::string& id) const;
  // As Lineage, but only if the tree equals the regions of the database
  // snapshot whose newest change-feed sequence is `sequence`; nullopt when
  // it may not (a write committed after the snapshot changed a region, or
  // one the snapshot sees has not reached the tree yet), in which case the
  // caller reads the lineage from its snapshot instead.
  std::optional<absl::StatusOr<std::vector<std::string>>> LineageAt(
      const std::string& id, uint64_t sequence) const;

  // Every region, in id order (for tests that compare it with the
  // database).
  std::vector<v1::Region> All() const;
  // The newest sequence applied so far.
  uint64_t sequence() const;

 private:
  absl::StatusOr<std::vector<std::string>> LineageLocked(
      const std::string& id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, v1::Region> regions_ ABSL_GUARDED_BY(mu_);
  // The newest sequence applied, and the sequence of the newest batch that
  // changed a region: the tree matches every snapshot in between.
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t changed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_REGION_TREE_H_
