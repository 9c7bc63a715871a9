#include "services/projects/change_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::projects {

absl::StatusOr<std::unique_ptr<ChangeFeed>> ChangeFeed::Create(
    ProjectsStore* store, const Jurisdiction* jurisdiction, bool shared) {
  ASSIGN_OR_RETURN(std::unique_ptr<StoreFeed> feed,
                   StoreFeed::Create(store, "projects", v1::HEARTBEAT,
                                     shared ? kReplicaFeedPollInterval
                                            : absl::ZeroDuration()));
  return std::unique_ptr<ChangeFeed>(
      new ChangeFeed(std::move(feed), jurisdiction));
}

absl::StatusOr<FeedSubscription<v1::Change>> ChangeFeed::Open(
    const Principal& principal, const v1::WatchChangesRequest& request) {
  return feed_->Open(
      principal, request, [&](const std::string& region_id) -> absl::Status {
        RETURN_IF_ERROR(ValidateId("ancestor_region_id", region_id));
        // A region above the scope follows the scope: the feed keeps only
        // the entries below both.
        return jurisdiction_
            ->AuthorizeRegionFilter(
                principal, region_id, "ancestor_region_id",
                absl::StrCat("watch the changes below ", region_id))
            .status();
      });
}

}  // namespace fivestar::projects
