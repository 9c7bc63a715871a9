// The registry's change feed: "village or region X was created, changed,
// moved or deleted at sequence N", replayed from a client's cursor and then
// followed live, so that services below the registry (project tracking,
// scoring) learn which villages to re-resolve without polling. The store
// writes each entry in the same transaction as the change it records; this
// class decides which region a follower may filter by. Reading entries,
// waking idle followers, the cursor checks and the stream itself are the
// common parts (StoreChangeFeed in common/change_feed.h,
// common/watch_reactor.h).
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
  // observer; with `shared` (other replicas write the same database) it
  // also polls the store for their entries (see StoreChangeFeed).
  static absl::StatusOr<std::unique_ptr<ChangeFeed>> Create(
      RegistryStore* store, bool shared);

  // Checks a WatchChanges request (permission, heartbeat interval, feed id,
  // cursor, region filter) and returns what the stream follows: the changes
  // whose lineage before or after the change holds the principal's scope
  // and the requested region.
  absl::StatusOr<FeedSubscription<v1::Change>> Open(
      const Principal& principal, const v1::WatchChangesRequest& request);

  // Ends every follower and refuses new ones. Idempotent.
  void Close() { feed_->Close(); }
  bool closed() const { return feed_->closed(); }

  // The feed's newest-sequence gauge (feed="registry"), for
  // ServerMetrics::Expose.
  std::weak_ptr<prometheus::Collectable> metrics() const {
    return feed_->metrics();
  }

 private:
  using StoreFeed = StoreChangeFeed<RegistryStore, v1::Change>;

  ChangeFeed(RegistryStore* store, std::unique_ptr<StoreFeed> feed)
      : store_(store), feed_(std::move(feed)) {}

  RegistryStore* store_;
  const std::unique_ptr<StoreFeed> feed_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_CHANGE_FEED_H_
