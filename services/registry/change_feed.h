// The registry's change feed: "village or region X was created, changed,
// moved or deleted at sequence N", replayed from a client's cursor and then
// followed live, so that services below the registry (project tracking,
// scoring) learn which villages to re-resolve without polling. The store
// writes each entry in the same transaction as the change it records; this
// class decides what a follower may see and reads entries for it. Waking
// idle followers, the cursor checks and the stream itself are the common
// parts (common/change_feed.h, common/watch_reactor.h).
#ifndef FIVESTAR_SERVICES_REGISTRY_CHANGE_FEED_H_
#define FIVESTAR_SERVICES_REGISTRY_CHANGE_FEED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/change_feed.h"
#include "common/watch_reactor.h"
#include "fivestar/registry/v1/registry.pb.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

class ChangeFeed {
 public:
  // `store` must outlive the feed. Makes the feed the store's commit
  // observer.
  static absl::StatusOr<std::unique_ptr<ChangeFeed>> Create(
      RegistryStore* store);
  ~ChangeFeed();

  // Checks a WatchChanges request (permission, heartbeat interval, feed id,
  // cursor, region filter) and returns what the stream follows: the changes
  // whose lineage before or after the change holds the principal's scope
  // and the requested region.
  absl::StatusOr<FeedSubscription<v1::Change>> Open(
      const Principal& principal, const v1::WatchChangesRequest& request);

  // Ends every follower and refuses new ones. Idempotent.
  void Close() { notifier_.Close(); }
  bool closed() const { return notifier_.closed(); }

  // The feed's newest-sequence gauge (feed="registry"), for
  // ServerMetrics::Expose.
  std::weak_ptr<prometheus::Collectable> metrics() const {
    return notifier_.metrics();
  }

 private:
  ChangeFeed(RegistryStore* store, std::string feed_id, uint64_t newest)
      : store_(store),
        feed_id_(std::move(feed_id)),
        notifier_("registry", newest) {}

  RegistryStore* store_;
  const std::string feed_id_;
  FeedNotifier notifier_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_CHANGE_FEED_H_
