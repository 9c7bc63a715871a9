// The change feed: "village X changed at sequence N", replayed from a
// client's cursor and then followed live. The store writes each entry in the
// same transaction as the change it records; this class decides what a
// follower may see, reads entries for it, and wakes idle followers when new
// entries commit (an in-process notifier: no thread ever blocks waiting for
// changes).
#ifndef FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_
#define FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Someone following the feed live (a WatchChanges stream).
class ChangeWatcher {
 public:
  virtual ~ChangeWatcher() = default;
  // New entries may have committed since the watcher last waited.
  virtual void OnNewChanges() = 0;
  // The feed is closing (server shutdown): end the stream.
  virtual void OnFeedClosed() = 0;
};

// Where a follower stands and what it may see.
struct FeedCursor {
  // Every sequence up to here has been examined for this follower.
  uint64_t scanned_through = 0;
  // Lineage-path components every delivered change must hold (the
  // principal's scope, the requested region).
  std::vector<std::string> path_components;
};

class ChangeFeed {
 public:
  // `store` and `jurisdiction` must outlive the feed. Makes the feed the
  // store's commit observer.
  static absl::StatusOr<std::unique_ptr<ChangeFeed>> Create(
      ProjectsStore* store, const Jurisdiction* jurisdiction);
  ~ChangeFeed();

  // Checks a WatchChanges request (feed id, cursor, region filter,
  // permission) and returns the follower's starting cursor.
  absl::StatusOr<FeedCursor> Open(const Principal& principal,
                                  const v1::WatchChangesRequest& request);

  // The next changes for `cursor`, at most `limit`.
  absl::StatusOr<ChangeBatch> Read(const FeedCursor& cursor, int limit);

  // Registers `watcher` to be woken once by the next commit after
  // `scanned_through`. False when such a commit already happened (read
  // again instead) or the feed is closed.
  bool WaitBeyond(uint64_t scanned_through,
                  const std::shared_ptr<ChangeWatcher>& watcher);

  // Makes `watcher` known for Close(); false when the feed is already
  // closed.
  bool Track(const std::shared_ptr<ChangeWatcher>& watcher);

  // Ends every follower (OnFeedClosed) and refuses new ones. Idempotent.
  void Close();
  bool closed() const;

 private:
  ChangeFeed(ProjectsStore* store, const Jurisdiction* jurisdiction,
             std::string feed_id, uint64_t newest)
      : store_(store),
        jurisdiction_(jurisdiction),
        feed_id_(std::move(feed_id)),
        newest_(newest) {}

  // Called by the store after each commit that appended entries.
  void Published(uint64_t newest);

  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const std::string feed_id_;

  mutable absl::Mutex mu_;
  uint64_t newest_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Watchers waiting for the next commit; woken once each.
  std::vector<std::weak_ptr<ChangeWatcher>> waiting_ ABSL_GUARDED_BY(mu_);
  // Every live watcher, for Close().
  std::vector<std::weak_ptr<ChangeWatcher>> tracked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_CHANGE_FEED_H_
