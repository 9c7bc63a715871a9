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

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::VillageLineage(const std::string& village_id) {
  std::vector<std::string> lineage;
  {
    absl::MutexLock lock(&mu_);
    if (Lookup(villages_, village_id, &lineage)) return lineage;
  }
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

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::RegionLineage(const std::string& region_id) {
  std::vector<std::string> lineage;
  {
    absl::MutexLock lock(&mu_);
    if (Lookup(regions_, region_id, &lineage)) return lineage;
  }
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

absl::StatusOr<std::vector<std::string>>
RegistryVillageDirectory::VillagesUnder(const std::string& region_id) {
  std::vector<std::string> villages;
  {
    absl::MutexLock lock(&mu_);
    if (Lookup(subtrees_, region_id, &villages)) return villages;
  }
  // Asking for the region first turns "no such region" into NOT_FOUND
  // (ListVillages reports it as a bad argument).
  absl::StatusOr<std::vector<std::string>> lineage = RegionLineage(region_id);
  if (!lineage.ok()) return lineage.status();
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
