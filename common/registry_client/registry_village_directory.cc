#include "common/registry_client/registry_village_directory.h"

#include <spdlog/spdlog.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/peer_client.h"
#include "common/status.h"

namespace fivestar {
namespace {

// Villages per ListVillages page: the registry's maximum.
constexpr int kVillagePage = 1000;
// Ids per BatchGetVillages call: the registry's maximum.
constexpr size_t kBatchGetVillages = 1000;
// Regions per ListRegions page: the registry's maximum.
constexpr int kRegionPage = 1000;
// Deeper than any real region tree (province, city, county, township,
// district): a longer chain in a tree read page by page while regions
// moved is not trusted.
constexpr size_t kMaxDepth = 32;

constexpr char kRegistry[] = "the village registry";

// What a lookup of `ids` (at least one) does, for error messages.
std::string LookUpVillages(absl::Span<const std::string> ids) {
  return ids.size() == 1 ? absl::StrCat("look up village ", ids.front())
                         : absl::StrCat("look up ", ids.size(),
                                        " villages from ", ids.front());
}

}  // namespace

RegistryVillageDirectory::RegistryVillageDirectory(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    RegistryDirectoryOptions options, const Clock* clock)
    : stub_(registry::v1::RegistryService::NewStub(channel)),
      options_(std::move(options)),
      clock_(clock),
      limit_(options_.max_in_flight, options_.deadline / 4) {}

bool RegistryVillageDirectory::Lookup(const Cache& cache,
                                      const std::string& key,
                                      std::vector<std::string>* ids) {
  auto it = cache.find(key);
  if (it == cache.end() || it->second.expires <= clock_->Now()) return false;
  *ids = it->second.ids;
  return true;
}

void RegistryVillageDirectory::Remember(Cache& cache, const std::string& key,
                                        const std::vector<std::string>& ids) {
  if (options_.cache_ttl <= absl::ZeroDuration()) return;
  const absl::Time now = clock_->Now();
  if (cache.size() >= options_.max_entries) {
    absl::erase_if(cache, [now](const auto& entry) {
      return entry.second.expires <= now;
    });
    if (cache.size() >= options_.max_entries) cache.clear();
  }
  cache[key] = Entry{ids, now + options_.cache_ttl};
}

template <typename Request, typename Response>
absl::StatusOr<grpc::Status> RegistryVillageDirectory::Ask(
    grpc::Status (registry::v1::RegistryService::Stub::*method)(
        grpc::ClientContext*, const Request&, Response*),
    const Request& request, Response* response, absl::string_view what) {
  ASSIGN_OR_RETURN(PeerCallLimit::Slot slot, limit_.Acquire(kRegistry, what));
  grpc::ClientContext context;
  PreparePeerCall(context, options_.bearer_token, options_.deadline);
  return (stub_.get()->*method)(&context, request, response);
}

absl::StatusOr<std::vector<std::string>> RegistryVillageDirectory::FetchLineage(
    const registry::v1::GetAncestorsRequest& request, const std::string& self,
    absl::string_view what) {
  registry::v1::GetAncestorsResponse response;
  ASSIGN_OR_RETURN(grpc::Status status,
                   Ask(&registry::v1::RegistryService::Stub::GetAncestors,
                       request, &response, what));
  if (!status.ok()) return PeerCallError(status, kRegistry, what);
  std::vector<std::string> lineage = {self};
  for (const registry::v1::Region& region : response.ancestors()) {
    lineage.push_back(region.id());
  }
  return lineage;
}

RegistryVillageDirectory::Answer RegistryVillageDirectory::Shared(
    const Cache* cache, const std::string& key, const std::string& flight_key,
    absl::FunctionRef<Answer()> fetch) {
  std::shared_ptr<Flight> flight;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    if (cache != nullptr && Lookup(*cache, key, &ids)) return ids;
    auto [it, inserted] = flights_.try_emplace(flight_key);
    if (inserted) it->second = std::make_shared<Flight>();
    flight = it->second;
    lead = inserted;
    if (!lead) ++shared_waiters_;
  }
  if (!lead) {
    flight->mu.LockWhen(absl::Condition(&flight->done));
    Answer answer = flight->answer;
    flight->mu.Unlock();
    absl::MutexLock lock(&mu_);
    --shared_waiters_;
    return answer;
  }
  Answer answer = fetch();
  {
    // The cache (filled by fetch) answers later callers from here on.
    absl::MutexLock lock(&mu_);
    flights_.erase(flight_key);
  }
  absl::MutexLock lock(&flight->mu);
  flight->answer = answer;
  flight->done = true;
  return answer;
}

int RegistryVillageDirectory::shared_waiters() const {
  absl::MutexLock lock(&mu_);
  return shared_waiters_;
}

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::VillageLineage(const std::string& village_id) {
  std::shared_ptr<VillageBatch> batch;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    if (Lookup(villages_, village_id, &ids)) return ids;
    auto joined = village_batches_.find(village_id);
    if (joined != village_batches_.end()) {
      batch = joined->second;  // Asked already, in flight or filling up.
    } else if (const absl::Duration waited = absl::Now() - batch_sent_;
               batch_in_flight_ && waited > options_.deadline / 4) {
      // The registry is slow: refuse rather than queue behind it.
      return absl::UnavailableError(absl::StrCat(
          kRegistry, " is slow to answer: a lookup has waited ",
          absl::FormatDuration(absl::Trunc(waited, absl::Milliseconds(1))),
          " for it, so this one did not look up village ", village_id,
          "; retry later"));
    } else if (open_batch_ != nullptr &&
               open_batch_->ids.size() < kBatchGetVillages) {
      batch = open_batch_;
      batch->ids.push_back(village_id);
      village_batches_.emplace(village_id, batch);
    }
    if (batch != nullptr) {
      ++shared_waiters_;
      mu_.Await(absl::Condition(&batch->done));
      --shared_waiters_;
    } else {
      // Lead a new batch: let it fill up while the one in flight (if any)
      // is answered, then send it.
      lead = true;
      batch = std::make_shared<VillageBatch>();
      batch->ids.push_back(village_id);
      village_batches_.emplace(village_id, batch);
      open_batch_ = batch;
      const bool behind = batch_in_flight_;
      ++shared_waiters_;
      mu_.Await(absl::Condition(
          +[](bool* in_flight) { return !*in_flight; }, &batch_in_flight_));
      --shared_waiters_;
      // Closed: later ids start the next batch (a full batch may already
      // have been followed by another).
      if (open_batch_ == batch) open_batch_ = nullptr;
      if (behind && absl::IsUnavailable(last_batch_failure_)) {
        // The batch ahead could not reach the registry a moment ago:
        // asking again would make these callers wait a second deadline.
        batch->failure = absl::UnavailableError(absl::StrCat(
            kRegistry, " could not be reached to ", LookUpVillages(batch->ids),
            ": the lookup just before failed: ",
            last_batch_failure_.message()));
        for (const std::string& id : batch->ids) village_batches_.erase(id);
        batch->done = true;
        lead = false;
      } else {
        batch_in_flight_ = true;
        batch_sent_ = absl::Now();
      }
    }
  }
  if (lead) {
    // Only the leader writes the batch's answers until `done` is set, so
    // they are filled in outside mu_.
    FetchBatch(*batch);
    absl::MutexLock lock(&mu_);
    for (const std::string& id : batch->ids) village_batches_.erase(id);
    last_batch_failure_ = batch->failure;
    batch_in_flight_ = false;
    batch->done = true;
  }
  if (!batch->failure.ok()) return batch->failure;
  auto lineage = batch->lineages.find(village_id);
  if (lineage == batch->lineages.end()) {
    return absl::NotFoundError(absl::StrCat("village ", village_id,
                                            " does not exist in the registry"));
  }
  return lineage->second;
}

void RegistryVillageDirectory::FetchBatch(VillageBatch& batch) {
  absl::flat_hash_map<std::string, std::string> region_of;
  absl::Status fetched = FetchRegions(batch.ids, &region_of);
  if (!fetched.ok()) {
    batch.failure = std::move(fetched);
    return;
  }
  absl::StatusOr<absl::flat_hash_map<std::string, std::vector<std::string>>>
      lineages = LineagesOf(batch.ids, region_of);
  if (!lineages.ok()) {
    batch.failure = lineages.status();
    return;
  }
  batch.lineages = *std::move(lineages);
  absl::MutexLock lock(&mu_);
  for (const auto& [id, lineage] : batch.lineages) {
    Remember(villages_, id, lineage);
  }
}

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::RegionLineage(const std::string& region_id) {
  ASSIGN_OR_RETURN(std::shared_ptr<const RegionTree> tree, Tree());
  if (tree != nullptr) {
    auto at = tree->nodes.find(region_id);
    std::vector<std::string> lineage;
    while (at != tree->nodes.end() && lineage.size() < kMaxDepth) {
      lineage.push_back(at->first);
      if (at->second.parent.empty()) return lineage;  // The root.
      at = tree->nodes.find(at->second.parent);
    }
    // Not in the tree (created since it was read), or its chain broken by
    // a move between two pages: ask for this one.
  }
  return Shared(&regions_, region_id, absl::StrCat("region|", region_id),
                [&] { return FetchRegionLineage(region_id); });
}

absl::StatusOr<registry::v1::RegionKind> RegistryVillageDirectory::RegionKindOf(
    const std::string& region_id) {
  ASSIGN_OR_RETURN(std::shared_ptr<const RegionTree> tree, Tree());
  if (tree != nullptr) {
    auto at = tree->nodes.find(region_id);
    if (at != tree->nodes.end()) return at->second.kind;
  }
  // Not in the tree (created since it was read), or the cache off.
  const std::string what = absl::StrCat("look up region ", region_id);
  registry::v1::GetRegionRequest request;
  request.set_id(region_id);
  registry::v1::Region region;
  ASSIGN_OR_RETURN(grpc::Status status,
                   Ask(&registry::v1::RegistryService::Stub::GetRegion, request,
                       &region, what));
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(
        absl::StrCat("region ", region_id, " does not exist in the registry"));
  }
  if (!status.ok()) return PeerCallError(status, kRegistry, what);
  return region.kind();
}

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::VillagesUnder(const std::string& region_id) {
  return Shared(&subtrees_, region_id, absl::StrCat("subtree|", region_id),
                [&] { return FetchVillagesUnder(region_id); });
}

absl::StatusOr<std::shared_ptr<const RegistryVillageDirectory::RegionTree>>
RegistryVillageDirectory::Tree() {
  if (options_.cache_ttl <= absl::ZeroDuration()) return nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (tree_ != nullptr && tree_->expires > clock_->Now()) return tree_;
  }
  // One reader at a time: the others wait for its tree (or its failure).
  std::shared_ptr<const RegionTree> tree;
  Answer read = Shared(nullptr, "", "tree|", [&]() -> Answer {
    absl::StatusOr<std::shared_ptr<const RegionTree>> fetched = FetchTree();
    if (!fetched.ok()) return fetched.status();
    return std::vector<std::string>();
  });
  if (!read.ok()) return read.status();
  absl::MutexLock lock(&mu_);
  return tree_;
}

absl::StatusOr<std::shared_ptr<const RegistryVillageDirectory::RegionTree>>
RegistryVillageDirectory::FetchTree() {
  auto tree = std::make_shared<RegionTree>();
  const absl::Time expires = clock_->Now() + options_.cache_ttl;
  registry::v1::ListRegionsRequest request;
  request.set_page_size(kRegionPage);
  const std::string what = "list its regions";
  do {
    registry::v1::ListRegionsResponse response;
    ASSIGN_OR_RETURN(grpc::Status status,
                     Ask(&registry::v1::RegistryService::Stub::ListRegions,
                         request, &response, what));
    if (!status.ok()) return PeerCallError(status, kRegistry, what);
    for (const registry::v1::Region& region : response.regions()) {
      tree->nodes.emplace(region.id(),
                          RegionNode{region.parent_id(), region.kind()});
    }
    if (tree->nodes.size() > options_.max_entries) {
      // Too many to keep: until the TTL, every region is asked on its own.
      tree->nodes.clear();
      break;
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  tree->expires = expires;
  absl::MutexLock lock(&mu_);
  tree_ = tree;
  return tree_;
}

RegistryVillageDirectory::Answer RegistryVillageDirectory::FetchRegionLineage(
    const std::string& region_id) {
  registry::v1::GetAncestorsRequest request;
  request.set_region_id(region_id);
  absl::StatusOr<std::vector<std::string>> fetched = FetchLineage(
      request, region_id, absl::StrCat("look up region ", region_id));
  if (absl::IsNotFound(fetched.status())) {
    return absl::NotFoundError(
        absl::StrCat("region ", region_id, " does not exist in the registry"));
  }
  if (!fetched.ok()) return fetched.status();
  absl::MutexLock lock(&mu_);
  Remember(regions_, region_id, *fetched);
  return fetched;
}

RegistryVillageDirectory::Answer RegistryVillageDirectory::FetchVillagesUnder(
    const std::string& region_id) {
  // Asking for the region first turns "no such region" into NOT_FOUND
  // (ListVillages reports it as a bad argument).
  absl::StatusOr<std::vector<std::string>> lineage = RegionLineage(region_id);
  if (!lineage.ok()) return lineage.status();
  std::vector<std::string> villages;
  registry::v1::ListVillagesRequest request;
  request.set_ancestor_id(region_id);
  request.set_page_size(kVillagePage);
  const std::string what = absl::StrCat("list the villages of ", region_id);
  do {
    registry::v1::ListVillagesResponse response;
    ASSIGN_OR_RETURN(grpc::Status status,
                     Ask(&registry::v1::RegistryService::Stub::ListVillages,
                         request, &response, what));
    if (!status.ok()) return PeerCallError(status, kRegistry, what);
    for (const registry::v1::Village& village : response.villages()) {
      villages.push_back(village.id());
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  absl::MutexLock lock(&mu_);
  Remember(subtrees_, region_id, villages);
  return villages;
}

absl::Status RegistryVillageDirectory::FetchRegions(
    absl::Span<const std::string> ids,
    absl::flat_hash_map<std::string, std::string>* region_of) {
  if (ids.empty()) return absl::OkStatus();
  const std::string what = LookUpVillages(ids);
  registry::v1::BatchGetVillagesRequest request;
  for (const std::string& id : ids) request.add_ids(id);
  registry::v1::BatchGetVillagesResponse response;
  ASSIGN_OR_RETURN(grpc::Status status,
                   Ask(&registry::v1::RegistryService::Stub::BatchGetVillages,
                       request, &response, what));
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    // Some id is unknown: the halves tell which (an unknown one alone).
    if (ids.size() == 1) return absl::OkStatus();
    const size_t half = ids.size() / 2;
    RETURN_IF_ERROR(FetchRegions(ids.subspan(0, half), region_of));
    return FetchRegions(ids.subspan(half), region_of);
  }
  if (!status.ok()) return PeerCallError(status, kRegistry, what);
  if (response.villages_size() != static_cast<int>(ids.size())) {
    return absl::InternalError(
        absl::StrCat("the registry answered BatchGetVillages for ", ids.size(),
                     " ids with ", response.villages_size(), " villages"));
  }
  for (const registry::v1::Village& village : response.villages()) {
    (*region_of)[village.id()] = village.region_id();
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::flat_hash_map<std::string, std::vector<std::string>>>
RegistryVillageDirectory::LineagesOf(
    const std::vector<std::string>& village_ids,
    const absl::flat_hash_map<std::string, std::string>& region_of) {
  // Each distinct region once, even with the cache off. An empty lineage
  // marks a region deleted since its village was read: the village is gone
  // too.
  absl::flat_hash_map<std::string, std::vector<std::string>> region_lineage;
  absl::flat_hash_map<std::string, std::vector<std::string>> lineage_of;
  for (const std::string& village_id : village_ids) {
    auto region = region_of.find(village_id);
    if (region == region_of.end()) continue;  // Unknown to the registry.
    auto [above, fresh] = region_lineage.try_emplace(region->second);
    if (fresh) {
      absl::StatusOr<std::vector<std::string>> fetched =
          RegionLineage(region->second);
      if (fetched.ok()) {
        above->second = *std::move(fetched);
      } else if (!absl::IsNotFound(fetched.status())) {
        return fetched.status();
      }
    }
    if (above->second.empty()) continue;
    std::vector<std::string> lineage = {village_id};
    lineage.insert(lineage.end(), above->second.begin(), above->second.end());
    lineage_of.emplace(village_id, std::move(lineage));
  }
  return lineage_of;
}

absl::StatusOr<std::vector<std::vector<std::string>>>
RegistryVillageDirectory::VillageLineages(
    const std::vector<std::string>& village_ids) {
  std::vector<std::vector<std::string>> lineages(village_ids.size());
  // The distinct ids the cache cannot answer, in order of first appearance.
  std::vector<std::string> missing;
  absl::flat_hash_set<std::string> seen;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < village_ids.size(); ++i) {
      if (Lookup(villages_, village_ids[i], &lineages[i])) continue;
      if (seen.insert(village_ids[i]).second) {
        missing.push_back(village_ids[i]);
      }
    }
  }
  if (missing.empty()) return lineages;
  absl::flat_hash_map<std::string, std::string> region_of;
  for (size_t begin = 0; begin < missing.size(); begin += kBatchGetVillages) {
    RETURN_IF_ERROR(FetchRegions(
        absl::MakeConstSpan(missing).subspan(begin, kBatchGetVillages),
        &region_of));
  }
  ASSIGN_OR_RETURN(auto lineage_of, LineagesOf(missing, region_of));
  for (size_t i = 0; i < village_ids.size(); ++i) {
    if (!lineages[i].empty()) continue;
    auto it = lineage_of.find(village_ids[i]);
    if (it != lineage_of.end()) lineages[i] = it->second;
  }
  return lineages;
}

}  // namespace fivestar
