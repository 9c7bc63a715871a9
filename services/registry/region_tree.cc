#include "services/registry/region_tree.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace fivestar::registry {
namespace {

// Kinds strictly fall toward the leaves, so no lineage is longer than the
// number of kinds; a longer walk means the tree holds a cycle.
constexpr int kMaxDepth = 16;

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("region ", id, " not found"));
}

}  // namespace

void RegionTree::Reset(std::vector<v1::Region> regions, uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  regions_.clear();
  regions_.reserve(regions.size());
  for (v1::Region& region : regions) {
    std::string id = region.id();
    regions_.insert_or_assign(std::move(id), std::move(region));
  }
  applied_ = sequence;
  changed_ = sequence;
}

void RegionTree::Apply(const std::vector<RegionTreeChange>& changes,
                       uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  // Older than what the tree holds (a replica's catch-up that read an
  // earlier snapshot than one already applied): its regions may be stale.
  if (sequence < applied_) return;
  for (const RegionTreeChange& change : changes) {
    if (change.erased) {
      regions_.erase(change.region.id());
    } else {
      regions_.insert_or_assign(change.region.id(), change.region);
    }
  }
  applied_ = std::max(applied_, sequence);
  if (!changes.empty()) changed_ = applied_;
}

absl::StatusOr<v1::Region> RegionTree::Get(const std::string& id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = regions_.find(id);
  if (it == regions_.end()) return NotFound(id);
  return it->second;
}

absl::StatusOr<std::vector<std::string>> RegionTree::LineageLocked(
    const std::string& id) const {
  std::vector<std::string> lineage;
  auto it = regions_.find(id);
  if (it == regions_.end()) return NotFound(id);
  while (true) {
    lineage.push_back(it->second.id());
    const std::string& parent = it->second.parent_id();
    if (parent.empty()) break;
    FIVESTAR_CHECK(lineage.size() < kMaxDepth,
                   "region tree: lineage of " + id + " does not end");
    it = regions_.find(parent);
    FIVESTAR_CHECK(it != regions_.end(),
                   "region tree: the parent " + parent + " is missing");
  }
  return lineage;
}

absl::StatusOr<std::vector<std::string>> RegionTree::Lineage(
    const std::string& id) const {
  absl::ReaderMutexLock lock(&mu_);
  return LineageLocked(id);
}

std::optional<absl::StatusOr<std::vector<std::string>>> RegionTree::LineageAt(
    const std::string& id, uint64_t sequence) const {
  absl::ReaderMutexLock lock(&mu_);
  if (sequence < changed_ || sequence > applied_) return std::nullopt;
  return LineageLocked(id);
}

std::vector<v1::Region> RegionTree::All() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<v1::Region> all;
  all.reserve(regions_.size());
  for (const auto& [id, region] : regions_) all.push_back(region);
  std::sort(
      all.begin(), all.end(),
      [](const v1::Region& a, const v1::Region& b) { return a.id() < b.id(); });
  return all;
}

uint64_t RegionTree::sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return applied_;
}

}  // namespace fivestar::registry
