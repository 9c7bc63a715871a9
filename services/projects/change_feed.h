// Project tracking's change feed: "village X changed at sequence N",
// replayed from a client's cursor and then followed live. The store writes
// each entry in the same transaction as the change it records; this class
// decides what a follower may see and reads entries for it. Waking idle
// followers, the cursor checks and the stream itself are the common parts
// (common/change_feed.h, common/watch_reactor.h).
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
  // store's commit observer.
  static absl::StatusOr<std::unique_ptr<ChangeFeed>> Create(
      ProjectsStore* store, const Jurisdiction* jurisdiction);
  ~ChangeFeed();

  // Checks a WatchChanges request (permission, heartbeat interval, feed id,
  // cursor, region filter) and returns what the stream follows.
  absl::StatusOr<FeedSubscription<v1::Change>> Open(
      const Principal& principal, const v1::WatchChangesRequest& request);

  // Ends every follower and refuses new ones. Idempotent.
  void Close() { notifier_.Close(); }
  bool closed() const { return notifier_.closed(); }

  // The feed's newest-sequence gauge (feed="projects"), for
  // ServerMetrics::Expose.
  std::weak_ptr<prometheus::Collectable> metrics() const {
    return notifier_.metrics();
  }

 private:
  ChangeFeed(ProjectsStore* store, const Jurisdiction* jurisdiction,
             std::string feed_id, uint64_t newest)
      : store_(store),
        jurisdiction_(jurisdiction),
        feed_id_(std::move(feed_id)),
        notifier_("projects", newest) {}

  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const std::string feed_id_;
  FeedNotifier notifier_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_
