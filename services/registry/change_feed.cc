#include "services/registry/change_feed.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::registry {
namespace {

// One follower's view: the changes whose lineage path, after or before the
// change, holds every one of `path_components` (the principal's scope, the
// requested region).
class RegistryFeedSource final : public NotifiedFeedSource<v1::Change> {
 public:
  RegistryFeedSource(RegistryStore* store, FeedNotifier* notifier,
                     std::string feed_id,
                     std::vector<std::string> path_components)
      : NotifiedFeedSource(notifier),
        store_(store),
        feed_id_(std::move(feed_id)),
        path_components_(std::move(path_components)) {}

  absl::StatusOr<FeedBatch<v1::Change>> ReadAfter(uint64_t scanned_through,
                                                  int limit) override {
    return store_->ReadChanges(scanned_through, path_components_, limit);
  }

  v1::Change Heartbeat(uint64_t position) override {
    v1::Change heartbeat;
    heartbeat.set_sequence(position);
    heartbeat.set_feed_id(feed_id_);
    heartbeat.set_kind(v1::HEARTBEAT);
    return heartbeat;
  }

 private:
  RegistryStore* const store_;
  const std::string feed_id_;
  const std::vector<std::string> path_components_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeFeed>> ChangeFeed::Create(
    RegistryStore* store) {
  ASSIGN_OR_RETURN(std::string feed_id, store->FeedId());
  ASSIGN_OR_RETURN(uint64_t newest, store->NewestSequence());
  std::unique_ptr<ChangeFeed> feed(
      new ChangeFeed(store, std::move(feed_id), newest));
  FeedNotifier* notifier = &feed->notifier_;
  store->SetCommitObserver(
      [notifier](uint64_t sequence) { notifier->Published(sequence); });
  return feed;
}

ChangeFeed::~ChangeFeed() { store_->SetCommitObserver(nullptr); }

absl::StatusOr<FeedSubscription<v1::Change>> ChangeFeed::Open(
    const Principal& principal, const v1::WatchChangesRequest& request) {
  RETURN_IF_ERROR(
      AuthorizeRole(principal, Role::kViewer, "watch the change feed"));
  FeedSubscription<v1::Change> subscription;
  ASSIGN_OR_RETURN(subscription.heartbeat_interval,
                   ParseHeartbeatInterval(request.heartbeat_interval(),
                                          "heartbeat_interval"));
  ASSIGN_OR_RETURN(uint64_t newest, store_->NewestSequence());
  RETURN_IF_ERROR(CheckFeedCursor(feed_id_, request.feed_id(),
                                  request.after_sequence(), newest));
  subscription.after_sequence = request.after_sequence();
  std::vector<std::string> path_components;
  if (!principal.is_global()) {
    path_components.push_back(PathComponent(principal.scope));
  }
  const std::string& region_id = request.ancestor_region_id();
  if (!region_id.empty()) {
    RETURN_IF_ERROR(ValidateId("ancestor_region_id", region_id));
    absl::StatusOr<std::vector<std::string>> chain =
        store_->RegionLineage(region_id);
    if (absl::IsNotFound(chain.status())) {
      return FieldError("ancestor_region_id",
                        absl::StrCat("region ", region_id, " does not exist"));
    }
    RETURN_IF_ERROR(chain.status());
    RETURN_IF_ERROR(
        Authorize(principal, Role::kViewer, *chain,
                  absl::StrCat("watch the changes below ", region_id)));
    path_components.push_back(PathComponent(region_id));
  }
  subscription.source = std::make_unique<RegistryFeedSource>(
      store_, &notifier_, feed_id_, std::move(path_components));
  return subscription;
}

}  // namespace fivestar::registry
