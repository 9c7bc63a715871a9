#include "services/projects/change_feed.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::projects {

absl::StatusOr<std::unique_ptr<ChangeFeed>> ChangeFeed::Create(
    ProjectsStore* store, const Jurisdiction* jurisdiction) {
  ASSIGN_OR_RETURN(std::string feed_id, store->FeedId());
  ASSIGN_OR_RETURN(uint64_t newest, store->NewestSequence());
  std::unique_ptr<ChangeFeed> feed(
      new ChangeFeed(store, jurisdiction, std::move(feed_id), newest));
  ChangeFeed* raw = feed.get();
  store->SetCommitObserver(
      [raw](uint64_t sequence) { raw->Published(sequence); });
  return feed;
}

absl::StatusOr<FeedCursor> ChangeFeed::Open(
    const Principal& principal, const v1::WatchChangesRequest& request) {
  RETURN_IF_ERROR(
      AuthorizeRole(principal, Role::kViewer, "watch the change feed"));
  if (!request.feed_id().empty() && request.feed_id() != feed_id_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "feed_id ", request.feed_id(), " is not this server's feed (", feed_id_,
        "): the database was recreated; resynchronise from 0"));
  }
  FeedCursor cursor;
  cursor.scanned_through = request.after_sequence();
  // The store, not newest_: a client may have read an entry whose commit
  // has not reached Published() yet.
  ASSIGN_OR_RETURN(uint64_t newest, store_->NewestSequence());
  if (request.after_sequence() > newest) {
    return absl::OutOfRangeError(absl::StrCat(
        "after_sequence ", request.after_sequence(),
        " is beyond the newest sequence ", newest,
        "; the cursor belongs to another database: resynchronise from 0"));
  }
  if (!principal.is_global()) {
    cursor.path_components.push_back(PathComponent(principal.scope));
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
    cursor.path_components.push_back(
        PathComponent(request.ancestor_region_id()));
  }
  return cursor;
}

absl::StatusOr<ChangeBatch> ChangeFeed::Read(const FeedCursor& cursor,
                                             int limit) {
  return store_->ReadChanges(cursor.scanned_through, cursor.path_components,
                             limit);
}

ChangeFeed::~ChangeFeed() { store_->SetCommitObserver(nullptr); }

bool ChangeFeed::WaitBeyond(uint64_t scanned_through,
                            const std::shared_ptr<ChangeWatcher>& watcher) {
  absl::MutexLock lock(&mu_);
  if (closed_ || newest_ > scanned_through) return false;
  waiting_.push_back(watcher);
  return true;
}

bool ChangeFeed::Track(const std::shared_ptr<ChangeWatcher>& watcher) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  tracked_.erase(std::remove_if(tracked_.begin(), tracked_.end(),
                                [](const std::weak_ptr<ChangeWatcher>& w) {
                                  return w.expired();
                                }),
                 tracked_.end());
  tracked_.push_back(watcher);
  return true;
}

void ChangeFeed::Published(uint64_t newest) {
  std::vector<std::weak_ptr<ChangeWatcher>> wake;
  {
    absl::MutexLock lock(&mu_);
    newest_ = std::max(newest_, newest);
    wake.swap(waiting_);
  }
  // Outside the lock: a woken watcher reads the store and may wait again.
  for (const std::weak_ptr<ChangeWatcher>& weak : wake) {
    if (std::shared_ptr<ChangeWatcher> watcher = weak.lock()) {
      watcher->OnNewChanges();
    }
  }
}

void ChangeFeed::Close() {
  std::vector<std::weak_ptr<ChangeWatcher>> everyone;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    everyone.swap(tracked_);
    waiting_.clear();
  }
  for (const std::weak_ptr<ChangeWatcher>& weak : everyone) {
    if (std::shared_ptr<ChangeWatcher> watcher = weak.lock()) {
      watcher->OnFeedClosed();
    }
  }
}

bool ChangeFeed::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

}  // namespace fivestar::projects
