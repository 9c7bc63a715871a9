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
  // it below the server's handler threads.
  int max_in_flight = 8;
  // Most answers kept per kind; beyond it, expired ones are dropped first
  // and then everything.
  size_t max_entries = 200'000;
};

// Asks the registry over one channel shared for the life of the process.
//
// Identical lookups in flight share one registry call (single flight): the
// first caller for a key asks the registry, later callers for the same key
// wait for its answer (a success, NOT_FOUND or a failure alike) and take no
// place of the PeerCallLimit, so a cold burst for one village or region
// makes one call, while distinct lookups still each need a place.
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
  absl::StatusOr<std::vector<std::string>> VillagesUnder(
      const std::string& region_id) override;

  // Villages still cached are answered from the cache; the others cost one
  // BatchGetVillages per 1,000 distinct ids plus one GetAncestors per
  // distinct region among them that is not cached (RegionLineage), so a
  // province's 46,000 villages take 46 + (at most) 2,400 calls, not 46,000.
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

  // The answer for `key` of `cache`: the cached one if fresh, else that of
  // the lookup in flight for `flight_key`, else `fetch()`'s (which caches
  // what it should).
  Answer Shared(Cache& cache, const std::string& key,
                const std::string& flight_key,
                absl::FunctionRef<Answer()> fetch);
  Answer FetchVillageLineage(const std::string& village_id);
  Answer FetchRegionLineage(const std::string& region_id);
  Answer FetchVillagesUnder(const std::string& region_id);

  // The cached answer for `key`, if fresh.
  bool Lookup(const Cache& cache, const std::string& key,
              std::vector<std::string>* ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Cache& cache, const std::string& key,
                const std::vector<std::string>& ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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

  std::unique_ptr<registry::v1::RegistryService::Stub> stub_;
  const RegistryDirectoryOptions options_;
  const Clock* clock_;
  PeerCallLimit limit_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(mu_);
  int shared_waiters_ ABSL_GUARDED_BY(mu_) = 0;
  Cache villages_ ABSL_GUARDED_BY(mu_);
  Cache regions_ ABSL_GUARDED_BY(mu_);
  Cache subtrees_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_REGISTRY_CLIENT_REGISTRY_VILLAGE_DIRECTORY_H_
