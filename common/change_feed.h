// The service-independent half of a change feed ("entity X changed at
// sequence N", replayed from a follower's cursor and then followed live):
// lineage paths for scope filtering, the in-process notifier that wakes idle
// followers when new entries commit (so no thread ever blocks waiting for
// changes), the checks every WatchChanges request shares, and the
// newest-sequence gauge. Each service keeps its own entries, store and
// message type; common/watch_reactor.h streams them.
#ifndef FIVESTAR_COMMON_CHANGE_FEED_H_
#define FIVESTAR_COMMON_CHANGE_FEED_H_

#include <google/protobuf/duration.pb.h>
#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace fivestar {

// Where an entity sat in the region tree when it changed, as a path from the
// root: "/410000/411300/411323/411323-huiche/<entity>/" for the lineage
// {entity, 411323-huiche, 411323, 411300, 410000} (the entity first, as
// Authorize() takes it). Stored with each entry so that a feed can be
// filtered by region without asking anyone, and so that a filtered feed is
// the same sequence every time it is replayed.
std::string LineagePath(absl::Span<const std::string> lineage);

// The part of a lineage path that marks `id` as an ancestor (or the entity
// itself): "/<id>/".
std::string PathComponent(absl::string_view id);

// The lineage (entity first, root last) of a lineage path; empty for "" or
// "/".
std::vector<std::string> LineageOfPath(absl::string_view path);

// A page of a feed read for one follower.
template <typename Message>
struct FeedBatch {
  // The entries the follower may see, in sequence order.
  std::vector<Message> changes;
  // Every sequence up to this one has been examined (matching or not): the
  // follower's next read starts after it.
  uint64_t scanned_through = 0;
};

// Someone following a feed live (a WatchChanges stream).
class ChangeWatcher {
 public:
  virtual ~ChangeWatcher() = default;
  // New entries may have committed since the watcher last waited.
  virtual void OnNewChanges() = 0;
  // The feed is closing (server shutdown): end the stream.
  virtual void OnFeedClosed() = 0;
};

// Knows the newest committed sequence of one feed, wakes the followers that
// wait beyond it, and ends them all on Close(). Thread-safe. It never calls
// a watcher while holding its own lock, so watchers may call back in.
class FeedNotifier {
 public:
  // `feed` names the feed in the metric's label ("registry", "projects");
  // `newest` is the newest sequence already committed.
  FeedNotifier(const std::string& feed, uint64_t newest);

  FeedNotifier(const FeedNotifier&) = delete;
  FeedNotifier& operator=(const FeedNotifier&) = delete;

  // The store committed entries up to `newest`: wakes every waiting
  // watcher once. Call outside the store's lock (watchers read the store).
  void Published(uint64_t newest);

  // The newest sequence published so far.
  uint64_t newest() const;

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

  // The feed's metrics, to serve beside the server's own (see
  // ServerMetrics::Expose): the gauge
  // fivestar_feed_newest_sequence{feed="<feed>"}, the newest sequence
  // committed. It lives as long as the notifier.
  std::weak_ptr<prometheus::Collectable> metrics() const { return metrics_; }

 private:
  const std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Gauge& newest_gauge_;

  mutable absl::Mutex mu_;
  uint64_t newest_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Watchers waiting for the next commit; woken once each.
  std::vector<std::weak_ptr<ChangeWatcher>> waiting_ ABSL_GUARDED_BY(mu_);
  // Every live watcher, for Close().
  std::vector<std::weak_ptr<ChangeWatcher>> tracked_ ABSL_GUARDED_BY(mu_);
};

// Checks a follower's cursor against the feed: FAILED_PRECONDITION when
// `requested_feed_id` is set and is not `feed_id`; OUT_OF_RANGE when
// `after_sequence` is beyond `newest` (read from the store, not from the
// notifier: a client may have read an entry whose commit has not been
// published yet). Either way the cursor belongs to another database.
absl::Status CheckFeedCursor(absl::string_view feed_id,
                             absl::string_view requested_feed_id,
                             uint64_t after_sequence, uint64_t newest);

// The bounds of a WatchChanges heartbeat interval.
inline constexpr absl::Duration kMinHeartbeatInterval = absl::Seconds(1);
inline constexpr absl::Duration kMaxHeartbeatInterval = absl::Hours(1);

// The heartbeat interval a follower asked for: zero (unset or 0: no
// heartbeats) or kMinHeartbeatInterval..kMaxHeartbeatInterval. Anything
// else is INVALID_ARGUMENT naming `field`.
absl::StatusOr<absl::Duration> ParseHeartbeatInterval(
    const google::protobuf::Duration& interval, absl::string_view field);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CHANGE_FEED_H_
