// Storage of regions and villages and of their change feed, behind an
// interface so that the embedded SQLite store and a future PostgreSQL store
// are interchangeable. A store keeps its data consistent on its own (every
// method is atomic; parents and regions referenced by villages must exist;
// etags are compared inside the write; every write that creates, changes,
// moves or deletes a region or village appends its change-feed entry in the
// same transaction, so the feed's sequence is gapless and never runs ahead
// of or behind the data) but knows nothing of field rules or permissions:
// those belong to the Registry logic above it.
#ifndef FIVESTAR_SERVICES_REGISTRY_REGISTRY_STORE_H_
#define FIVESTAR_SERVICES_REGISTRY_REGISTRY_STORE_H_

#include <google/protobuf/arena.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/change_feed.h"
#include "fivestar/registry/v1/registry.pb.h"

namespace fivestar::registry {

using ::fivestar::registry::v1::Region;
using ::fivestar::registry::v1::RegionKind;
using ::fivestar::registry::v1::Village;

// Which regions to list: those strictly below `ancestor_id` (any depth; all
// when empty), and `ancestor_id` itself when `include_ancestor`, of `kind`
// (any when unspecified), with id > `after_id`, in id order, at most
// `limit`.
struct RegionQuery {
  std::string ancestor_id;
  bool include_ancestor = false;
  RegionKind kind = v1::REGION_KIND_UNSPECIFIED;
  std::string after_id;
  int limit = 100;
};

// Which villages to list: those below `ancestor_id` (all when empty), with
// `target_level` (any when 0), with id > `after_id`, in id order, at most
// `limit`.
struct VillageQuery {
  std::string ancestor_id;
  int target_level = 0;
  std::string after_id;
  int limit = 100;
};

// A village and the ids from its region up to the root, read together.
struct LocatedVillage {
  Village village;
  std::vector<std::string> region_lineage;
};

// A village as an import holds it and hands it to the store: the columns
// the store indexes, and the village without its output-only fields as
// deterministic protobuf bytes (what the store keeps of it). The views
// point into the EncodedVillages that holds it.
struct EncodedVillage {
  absl::string_view id;
  absl::string_view region_id;
  int32_t target_level = 0;
  absl::string_view bytes;
};

// The villages of an import, encoded, in the order added. A national
// import holds half a million: each is kept as its encoded bytes and
// columns, one after another in large arena blocks (122 bytes a village of
// the generator's national data, plus 24 of bookkeeping), not as three
// strings of its own in a vector that doubles as it grows. With it the
// registry's peak during that import fell from 317 to 245 MiB.
class EncodedVillages {
 public:
  EncodedVillages();
  // The villages encoded in order (for tests and small imports).
  EncodedVillages(std::initializer_list<Village> villages);
  EncodedVillages(const EncodedVillages&) = delete;
  EncodedVillages& operator=(const EncodedVillages&) = delete;

  // Encodes `village` and keeps it; returns it as kept.
  EncodedVillage Add(const Village& village);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  EncodedVillage operator[](size_t i) const;

 private:
  // Where one village's id, region id and bytes lie, one after another.
  struct Entry {
    const char* data;
    uint32_t id_size;
    uint32_t region_id_size;
    uint32_t bytes_size;
    int32_t target_level;
  };

  google::protobuf::Arena arena_;
  std::deque<Entry> entries_;
};

// A page of the change feed read for one follower.
using ChangeBatch = FeedBatch<v1::Change>;

// What an import did (or, dry, would do).
struct ImportCounts {
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
};

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // NOT_FOUND when absent.
  virtual absl::StatusOr<Region> GetRegion(const std::string& id) = 0;
  // The ids from the region itself up to its root. NOT_FOUND when absent.
  virtual absl::StatusOr<std::vector<std::string>> RegionLineage(
      const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<Region>> ListRegions(
      const RegionQuery& query) = 0;
  // Stores a new region, setting create/update times and etag.
  // ALREADY_EXISTS when the id is taken; FAILED_PRECONDITION when the parent
  // does not exist.
  virtual absl::StatusOr<Region> CreateRegion(const Region& region) = 0;
  // Replaces a region (moving its subtree when the parent changed) if its
  // etag is still `expected_etag`; ABORTED otherwise.
  virtual absl::StatusOr<Region> UpdateRegion(
      const Region& region, const std::string& expected_etag) = 0;
  // Deletes a region if `expected_etag` is empty or current (ABORTED
  // otherwise). FAILED_PRECONDITION while it has child regions or villages.
  virtual absl::Status DeleteRegion(const std::string& id,
                                    const std::string& expected_etag) = 0;

  virtual absl::StatusOr<Village> GetVillage(const std::string& id) = 0;
  // The villages in the order of `ids`; NOT_FOUND names the first missing.
  virtual absl::StatusOr<std::vector<Village>> GetVillages(
      const std::vector<std::string>& ids) = 0;
  // The villages in the order of `ids`, each with its region's lineage, all
  // as of one snapshot (a village and where it sits always agree);
  // NOT_FOUND names the first missing village.
  virtual absl::StatusOr<std::vector<LocatedVillage>> GetLocatedVillages(
      const std::vector<std::string>& ids) = 0;
  virtual absl::StatusOr<std::vector<Village>> ListVillages(
      const VillageQuery& query) = 0;
  // ALREADY_EXISTS when the id is taken; FAILED_PRECONDITION when the region
  // does not exist.
  virtual absl::StatusOr<Village> CreateVillage(const Village& village) = 0;
  virtual absl::StatusOr<Village> UpdateVillage(
      const Village& village, const std::string& expected_etag) = 0;
  virtual absl::Status DeleteVillage(const std::string& id,
                                     const std::string& expected_etag) = 0;

  // Creates or replaces all `regions` (ordered parents first) and then all
  // `villages` in one transaction, with one change-feed entry per record
  // created or replaced. Records equal to the stored ones (output fields
  // aside) are left untouched and get no entry. With `dry_run`, counts and
  // rolls back (no entries either).
  virtual absl::StatusOr<ImportCounts> Import(
      const std::vector<Region>& regions, const EncodedVillages& villages,
      bool dry_run) = 0;

  // --- Change feed ---------------------------------------------------------

  // Called with the newest sequence after every committed write that
  // appended entries, outside the store's lock. Set once, before serving
  // (nullptr to stop).
  virtual void SetCommitObserver(std::function<void(uint64_t)> observer) = 0;
  // The identity of this database's feed.
  virtual absl::StatusOr<std::string> FeedId() = 0;
  // The newest sequence, 0 when the feed is empty.
  virtual absl::StatusOr<uint64_t> NewestSequence() = 0;
  // Changes after `after_sequence` whose lineage path after the change, or
  // before it (moves), holds every one of `path_components` ("/<id>/"), at
  // most `limit`.
  virtual absl::StatusOr<ChangeBatch> ReadChanges(
      uint64_t after_sequence, const std::vector<std::string>& path_components,
      int limit) = 0;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_REGISTRY_STORE_H_
