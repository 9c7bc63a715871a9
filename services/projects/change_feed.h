// Project tracking's change feed: "village X changed at sequence N",
// replayed from a client's cursor and then followed live. The store writes
// each entry in the same transaction as the change it records; this class
// decides which region a follower may filter by (asking the registry).
// Reading entries, waking idle followers, the cursor checks and the stream
// itself are the common parts (StoreChangeFeed in common/change_feed.h,
// common/watch_reactor.h).
#ifndef FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_
#define FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/change_feed.h"
#include "common/registry_client/jurisdiction.h"
#include "common/watch_reactor.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

class ChangeFeed {
 public:
  // `store` and `jurisdiction` must outlive the feed. Makes the feed the
  // store's commit observer; with `shared` (other replicas write the same
  // database) it also polls the store for their entries (see
  // StoreChangeFeed).
  static absl::StatusOr<std::unique_ptr<ChangeFeed>> Create(
      ProjectsStore* store, const Jurisdiction* jurisdiction, bool shared);

  // Checks a WatchChanges request (permission, heartbeat interval, feed id,
  // cursor, region filter) and returns what the stream follows.
  absl::StatusOr<FeedSubscription<v1::Change>> Open(
      const Principal& principal, const v1::WatchChangesRequest& request);

  // Ends every follower and refuses new ones. Idempotent.
  void Close() { feed_->Close(); }
  bool closed() const { return feed_->closed(); }

  // The feed's newest-sequence gauge (feed="projects"), for
  // ServerMetrics::Expose.
  std::weak_ptr<prometheus::Collectable> metrics() const {
    return feed_->metrics();
  }

 private:
  using StoreFeed = StoreChangeFeed<ProjectsStore, v1::Change>;

  ChangeFeed(std::unique_ptr<StoreFeed> feed, const Jurisdiction* jurisdiction)
      : feed_(std::move(feed)), jurisdiction_(jurisdiction) {}

  const std::unique_ptr<StoreFeed> feed_;
  const Jurisdiction* jurisdiction_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_
