#include "common/registry_client/registry_village_directory.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/peer_client.h"
#include "common/status.h"

namespace fivestar {
namespace {

// Villages per ListVillages page: the registry's maximum.
constexpr int kVillagePage = 1000;

constexpr char kRegistry[] = "the village registry";

}  // namespace

RegistryVillageDirectory::RegistryVillageDirectory(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    RegistryDirectoryOptions options, const Clock* clock)
    : stub_(registry::v1::RegistryService::NewStub(channel)),
      options_(std::move(options)),
      clock_(clock),
      limit_(options_.max_in_flight) {}

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

absl::StatusOr<std::vector<std::string>> RegistryVillageDirectory::FetchLineage(
    const registry::v1::GetAncestorsRequest& request, const std::string& self,
    absl::string_view what) {
  ASSIGN_OR_RETURN(PeerCallLimit::Slot slot, limit_.Acquire(kRegistry, what));
  grpc::ClientContext context;
  PreparePeerCall(context, options_.bearer_token, options_.deadline);
  registry::v1::GetAncestorsResponse response;
  grpc::Status status = stub_->GetAncestors(&context, request, &response);
  if (!status.ok()) return PeerCallError(status, kRegistry, what);
  std::vector<std::string> lineage = {self};
  for (const registry::v1::Region& region : response.ancestors()) {
    lineage.push_back(region.id());
  }
  return lineage;
}

RegistryVillageDirectory::Answer RegistryVillageDirectory::Shared(
    Cache& cache, const std::string& key, const std::string& flight_key,
    absl::FunctionRef<Answer()> fetch) {
  std::shared_ptr<Flight> flight;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    if (Lookup(cache, key, &ids)) return ids;
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
  return Shared(villages_, village_id, absl::StrCat("village|", village_id),
                [&] { return FetchVillageLineage(village_id); });
}

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::RegionLineage(const std::string& region_id) {
  return Shared(regions_, region_id, absl::StrCat("region|", region_id),
                [&] { return FetchRegionLineage(region_id); });
}

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::VillagesUnder(const std::string& region_id) {
  return Shared(subtrees_, region_id, absl::StrCat("subtree|", region_id),
                [&] { return FetchVillagesUnder(region_id); });
}

RegistryVillageDirectory::Answer RegistryVillageDirectory::FetchVillageLineage(
    const std::string& village_id) {
  registry::v1::GetAncestorsRequest request;
  request.set_village_id(village_id);
  absl::StatusOr<std::vector<std::string>> fetched = FetchLineage(
      request, village_id, absl::StrCat("look up village ", village_id));
  if (absl::IsNotFound(fetched.status())) {
    return absl::NotFoundError(absl::StrCat("village ", village_id,
                                            " does not exist in the registry"));
  }
  if (!fetched.ok()) return fetched.status();
  absl::MutexLock lock(&mu_);
  Remember(villages_, village_id, *fetched);
  return fetched;
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
    ASSIGN_OR_RETURN(PeerCallLimit::Slot slot, limit_.Acquire(kRegistry, what));
    grpc::ClientContext context;
    PreparePeerCall(context, options_.bearer_token, options_.deadline);
    registry::v1::ListVillagesResponse response;
    grpc::Status status = stub_->ListVillages(&context, request, &response);
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

}  // namespace fivestar
