#include "services/registry/change_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/registry/registry.h"

namespace fivestar::registry {

absl::StatusOr<std::unique_ptr<ChangeFeed>> ChangeFeed::Create(
    RegistryStore* store, bool shared) {
  ASSIGN_OR_RETURN(std::unique_ptr<StoreFeed> feed,
                   StoreFeed::Create(store, "registry", v1::HEARTBEAT,
                                     shared ? kReplicaFeedPollInterval
                                            : absl::ZeroDuration()));
  return std::unique_ptr<ChangeFeed>(new ChangeFeed(store, std::move(feed)));
}

absl::StatusOr<FeedSubscription<v1::Change>> ChangeFeed::Open(
    const Principal& principal, const v1::WatchChangesRequest& request) {
  return feed_->Open(principal, request, [&](const std::string& region_id) {
    // A region above the scope follows the scope: the feed keeps only
    // the entries below both.
    return AuthorizeRegionFilter(
               store_, principal, "ancestor_region_id", region_id,
               absl::StrCat("watch the changes below ", region_id))
        .status();
  });
}

}  // namespace fivestar::registry
