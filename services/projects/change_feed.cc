#include "services/projects/change_feed.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::projects {
namespace {

// One follower's view: the changes whose lineage path holds every one of
// `path_components` (the principal's scope, the requested region).
class ProjectsFeedSource final : public NotifiedFeedSource<v1::Change> {
 public:
  ProjectsFeedSource(ProjectsStore* store, FeedNotifier* notifier,
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
  ProjectsStore* const store_;
  const std::string feed_id_;
  const std::vector<std::string> path_components_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeFeed>> ChangeFeed::Create(
    ProjectsStore* store, const Jurisdiction* jurisdiction) {
  ASSIGN_OR_RETURN(std::string feed_id, store->FeedId());
  ASSIGN_OR_RETURN(uint64_t newest, store->NewestSequence());
  std::unique_ptr<ChangeFeed> feed(
      new ChangeFeed(store, jurisdiction, std::move(feed_id), newest));
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
  if (!request.ancestor_region_id().empty()) {
    RETURN_IF_ERROR(
        ValidateId("ancestor_region_id", request.ancestor_region_id()));
    RETURN_IF_ERROR(jurisdiction_
                        ->AuthorizeRegion(
                            principal, Role::kViewer,
                            request.ancestor_region_id(), "ancestor_region_id",
                            absl::StrCat("watch the changes below ",
                                         request.ancestor_region_id()))
                        .status());
    path_components.push_back(PathComponent(request.ancestor_region_id()));
  }
  subscription.source = std::make_unique<ProjectsFeedSource>(
      store_, &notifier_, feed_id_, std::move(path_components));
  return subscription;
}

}  // namespace fivestar::projects
