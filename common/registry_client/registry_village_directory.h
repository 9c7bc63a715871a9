// VillageDirectory over the registry's gRPC API (GetAncestors, ListVillages,
// BatchGetVillages), with a cache of its answers.
#ifndef FIVESTAR_COMMON_REGISTRY_CLIENT_REGISTRY_VILLAGE_DIRECTORY_H_
#define FIVESTAR_COMMON_REGISTRY_CLIENT_REGISTRY_VILLAGE_DIRECTORY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/peer_client.h"
#include "common/registry_client/village_directory.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"

namespace fivestar {

struct RegistryDirectoryOptions {
  // Presented to the registry on every call; its principal needs the viewer
  // role over every village this service handles (typically global scope).
  std::string bearer_token;
  // Deadline of each call to the registry.
  absl::Duration deadline = absl::Seconds(2);
  // How long an answer is reused. Zero disables the cache.
  absl::Duration cache_ttl = absl::Seconds(60);
  // Most calls to the registry in flight at once (see PeerCallLimit); keep
  // it below the server's handler threads. A call beyond it waits at most
  // a quarter of `deadline` for a place, then fails with UNAVAILABLE.
  int max_in_flight = 8;
  // Most answers kept per kind; beyond it, expired ones are dropped first
  // and then everything.
  size_t max_entries = 200'000;
};

// Asks the registry over one channel shared for the life of the process.
//
// Lookups are gathered rather than made one by one, so that a cold cache
// under many calls at once costs a few registry calls, not one per id:
// - Villages: the distinct villages asked for while a lookup is in flight
//   are asked together in the next BatchGetVillages (group commit's
//   pattern: one batch in flight, the next one filling up behind it, at
//   most 1,000 ids). Callers of one batch take one place of the
//   PeerCallLimit between them, however many they are.
// - Regions: with the cache on, the whole region tree (a province's 2,600
//   regions, a nation's 45,000) is read with ListRegions, 1,000 a page, and
//   every lineage and kind is answered from it until the TTL; a region the
//   tree does not hold (created since it was read) is asked with
//   GetAncestors (or GetRegion for its kind). With the cache off, every
//   region is asked so.
// - Identical lookups in flight share one registry call (single flight):
//   later callers for the same key wait for the first one's answer (a
//   success, NOT_FOUND or a failure alike) and take no place of the
//   PeerCallLimit.
// A caller waiting for another's call, or for a place of the
// PeerCallLimit, holds its thread meanwhile, so a registry that stops
// answering must not collect callers without bound. A quarter of the
// deadline is the most a lookup queues: a call that finds every place
// taken waits that long for one; while a village batch has been in flight
// for longer, a village lookup that would queue behind it is refused at
// once with UNAVAILABLE ("is slow to answer"); and when a batch fails to
// reach the registry, the batch gathered behind it fails with it instead of
// waiting out a second deadline.
//
// Only positive answers are cached: a village created in the registry a
// moment ago must be usable at once, and an unknown id costs one indexed
// lookup in the registry, by an authenticated caller. Failures to reach the
// registry are never cached; a cached answer still within its TTL is served
// while the registry is down.
class RegistryVillageDirectory final : public VillageDirectory {
 public:
  // `clock` decides expiry and must outlive the directory.
  RegistryVillageDirectory(
      const std::shared_ptr<grpc::ChannelInterface>& channel,
      RegistryDirectoryOptions options, const Clock* clock);

  absl::StatusOr<std::vector<std::string>> VillageLineage(
      const std::string& village_id) override;
  absl::StatusOr<std::vector<std::string>> RegionLineage(
      const std::string& region_id) override;
  absl::StatusOr<registry::v1::RegionKind> RegionKindOf(
      const std::string& region_id) override;
  absl::StatusOr<std::vector<std::string>> VillagesUnder(
      const std::string& region_id) override;

  // Villages still cached are answered from the cache; the others cost one
  // BatchGetVillages per 1,000 distinct ids plus their regions' lineages
  // (RegionLineage: the region tree's few ListRegions pages with the cache
  // on, one GetAncestors per distinct region with it off), so a province's
  // 46,000 villages take 46 + 3 calls (cache off: + 2,400), not 46,000.
  // An id the registry does not know costs about log2(1,000) more
  // BatchGetVillages to single it out. The villages' own lineages are not
  // added to the cache (a bulk caller such as an import would only evict
  // everyone else's answers); their regions' are.
  absl::StatusOr<std::vector<std::vector<std::string>>> VillageLineages(
      const std::vector<std::string>& village_ids) override;

  // Callers waiting for a lookup another caller is making (for tests and
  // metrics).
  int shared_waiters() const;
  // Calls to the registry in flight (for tests and metrics).
  int registry_calls_in_flight() const { return limit_.in_flight(); }

 private:
  struct Entry {
    std::vector<std::string> ids;
    absl::Time expires;
  };
  using Cache = absl::flat_hash_map<std::string, Entry>;
  using Answer = absl::StatusOr<std::vector<std::string>>;
  // One lookup in flight, shared by every caller of its key.
  struct Flight {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    Answer answer ABSL_GUARDED_BY(mu);
  };
  // Villages asked together in one BatchGetVillages; its fields are
  // guarded by the directory's mu_.
  struct VillageBatch {
    // Distinct ids, in order of arrival.
    std::vector<std::string> ids;
    bool done = false;
    // When done: each id's answer (a lineage or NOT_FOUND), or, when the
    // batch failed as a whole, `failure` for every id.
    absl::flat_hash_map<std::string, std::vector<std::string>> lineages;
    absl::Status failure;
  };
  // The region tree as ListRegions read it: each region's parent ("" for a
  // root) and kind.
  struct RegionNode {
    std::string parent;
    registry::v1::RegionKind kind;
  };
  struct RegionTree {
    absl::flat_hash_map<std::string, RegionNode> nodes;
    absl::Time expires;
  };

  // The answer for `key` of `cache` (null: none): the cached one if fresh,
  // else that of the lookup in flight for `flight_key`, else `fetch()`'s
  // (which caches what it should).
  Answer Shared(const Cache* cache, const std::string& key,
                const std::string& flight_key,
                absl::FunctionRef<Answer()> fetch);
  Answer FetchRegionLineage(const std::string& region_id);
  Answer FetchVillagesUnder(const std::string& region_id);

  // The region tree, read again when absent or expired (one reader at a
  // time; the others wait for it). Null with the cache off; empty when the
  // registry has more than max_entries regions.
  absl::StatusOr<std::shared_ptr<const RegionTree>> Tree();
  absl::StatusOr<std::shared_ptr<const RegionTree>> FetchTree();
  // Asks the registry for the villages of `batch` (made the one in
  // flight by the caller) and fills in its answers.
  void FetchBatch(VillageBatch& batch);

  // The cached answer for `key`, if fresh.
  bool Lookup(const Cache& cache, const std::string& key,
              std::vector<std::string>* ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Cache& cache, const std::string& key,
                const std::vector<std::string>& ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls `method` of the registry with a place of the limit (its
  // refusal is the error), the deadline and the token; the call's own
  // status is the value.
  template <typename Request, typename Response>
  absl::StatusOr<grpc::Status> Ask(
      grpc::Status (registry::v1::RegistryService::Stub::*method)(
          grpc::ClientContext*, const Request&, Response*),
      const Request& request, Response* response, absl::string_view what);
  // Lineage of the subject of `request`, whose own id is `self`.
  absl::StatusOr<std::vector<std::string>> FetchLineage(
      const registry::v1::GetAncestorsRequest& request, const std::string& self,
      absl::string_view what);
  // Sets `region_of[id]` to the region of each village of `ids` the
  // registry knows (one BatchGetVillages; halves again on NOT_FOUND to find
  // the unknown ids, which are left out).
  absl::Status FetchRegions(
      absl::Span<const std::string> ids,
      absl::flat_hash_map<std::string, std::string>* region_of);
  // [village_id] followed by the lineage of each village's region in
  // `region_of`, for every village whose region still exists. Regions are
  // asked once each (RegionLineage).
  absl::StatusOr<absl::flat_hash_map<std::string, std::vector<std::string>>>
  LineagesOf(const std::vector<std::string>& village_ids,
             const absl::flat_hash_map<std::string, std::string>& region_of);

  std::unique_ptr<registry::v1::RegistryService::Stub> stub_;
  const RegistryDirectoryOptions options_;
  const Clock* clock_;
  PeerCallLimit limit_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(mu_);
  int shared_waiters_ ABSL_GUARDED_BY(mu_) = 0;
  // The batch filling up (null when none), whether one is in flight, and
  // the batch each village id asked for is in.
  std::shared_ptr<VillageBatch> open_batch_ ABSL_GUARDED_BY(mu_);
  bool batch_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // When the batch in flight was sent (wall time, like the call's
  // deadline), and how the last batch ended.
  absl::Time batch_sent_ ABSL_GUARDED_BY(mu_);
  absl::Status last_batch_failure_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<VillageBatch>>
      village_batches_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RegionTree> tree_ ABSL_GUARDED_BY(mu_);
  Cache villages_ ABSL_GUARDED_BY(mu_);
  Cache regions_ ABSL_GUARDED_BY(mu_);
  Cache subtrees_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_REGISTRY_CLIENT_REGISTRY_VILLAGE_DIRECTORY_H_
