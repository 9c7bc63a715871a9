// The service-independent half of a change feed ("entity X changed at
// sequence N", replayed from a follower's cursor and then followed live):
// lineage paths for scope filtering, the in-process notifier that wakes idle
// followers when new entries commit (so no thread ever blocks waiting for
// changes), the checks every WatchChanges request shares, the
// newest-sequence gauge, and StoreChangeFeed, which ties these to a store
// that keeps the entries. Each service keeps its own entries, store, message
// type and region check; common/watch_reactor.h streams them.
#ifndef FIVESTAR_COMMON_CHANGE_FEED_H_
#define FIVESTAR_COMMON_CHANGE_FEED_H_

#include <google/protobuf/duration.pb.h>
#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/auth.h"
#include "common/status.h"

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

// One follower's view of a feed: its filter is fixed when the source is
// made; the position is the reactor's.
template <typename Message>
class FeedSource {
 public:
  virtual ~FeedSource() = default;

  // The next entries after `scanned_through` that this follower may see,
  // at most `limit`.
  virtual absl::StatusOr<FeedBatch<Message>> ReadAfter(uint64_t scanned_through,
                                                       int limit) = 0;
  // A HEARTBEAT message: no entity, `sequence` = `position`.
  virtual Message Heartbeat(uint64_t position) = 0;

  // As FeedNotifier (WaitBeyond, Track, closed, newest).
  virtual bool WaitBeyond(uint64_t scanned_through,
                          const std::shared_ptr<ChangeWatcher>& watcher) = 0;
  virtual bool Track(const std::shared_ptr<ChangeWatcher>& watcher) = 0;
  virtual bool closed() const = 0;
  virtual uint64_t newest() const = 0;
};

// What a feed's Open() hands the reactor for one accepted request.
template <typename Message>
struct FeedSubscription {
  std::unique_ptr<FeedSource<Message>> source;
  // The follower's cursor: it has everything up to here.
  uint64_t after_sequence = 0;
  // Zero for no heartbeats.
  absl::Duration heartbeat_interval = absl::ZeroDuration();
};

// FeedSource on a FeedNotifier: a service implements only ReadAfter and
// Heartbeat.
template <typename Message>
class NotifiedFeedSource : public FeedSource<Message> {
 public:
  // `notifier` must outlive the source.
  explicit NotifiedFeedSource(FeedNotifier* notifier) : notifier_(notifier) {}

  bool WaitBeyond(uint64_t scanned_through,
                  const std::shared_ptr<ChangeWatcher>& watcher) override {
    return notifier_->WaitBeyond(scanned_through, watcher);
  }
  bool Track(const std::shared_ptr<ChangeWatcher>& watcher) override {
    return notifier_->Track(watcher);
  }
  bool closed() const override { return notifier_->closed(); }
  uint64_t newest() const override { return notifier_->newest(); }

 private:
  FeedNotifier* const notifier_;
};

// Checks a follower's cursor against the feed: FAILED_PRECONDITION when
// `requested_feed_id` is set and is not `feed_id`; OUT_OF_RANGE when
// `after_sequence` is beyond `newest` (read from the store, not from the
// notifier: a client may have read an entry whose commit has not been
// published yet). Either way the cursor belongs to another database.
absl::Status CheckFeedCursor(absl::string_view feed_id,
                             absl::string_view requested_feed_id,
                             uint64_t after_sequence, uint64_t newest);

// How often a feed on a database that replicas share asks the database for
// its newest sequence, to wake its followers for entries other replicas
// committed (this process's own commits wake them at once).
inline constexpr absl::Duration kReplicaFeedPollInterval =
    absl::Milliseconds(100);

// The bounds of a WatchChanges heartbeat interval.
inline constexpr absl::Duration kMinHeartbeatInterval = absl::Seconds(1);
inline constexpr absl::Duration kMaxHeartbeatInterval = absl::Hours(1);

// The heartbeat interval a follower asked for: zero (unset or 0: no
// heartbeats) or kMinHeartbeatInterval..kMaxHeartbeatInterval. Anything
// else is INVALID_ARGUMENT naming `field`.
absl::StatusOr<absl::Duration> ParseHeartbeatInterval(
    const google::protobuf::Duration& interval, absl::string_view field);

// The part of a service's change feed that follows from its store. The
// store writes each entry in the transaction of the change it records, tags
// it with a lineage path and reads entries back filtered by path
// components; this class wakes idle followers on each commit and makes the
// checks every WatchChanges request shares. `Store` provides FeedId(),
// NewestSequence(), SetCommitObserver(std::function<void(uint64_t)>) and
// ReadChanges(after_sequence, path_components, limit) returning
// absl::StatusOr<FeedBatch<Message>>; `Message` has sequence, feed_id and
// kind fields.
template <typename Store, typename Message>
class StoreChangeFeed {
 public:
  using Kind = decltype(std::declval<const Message&>().kind());

  // Reads the feed id and newest sequence of `store`, which must outlive the
  // feed, and makes the feed the store's commit observer until it is
  // destroyed. `name` labels the feed's metric ("registry", "projects");
  // heartbeats carry `heartbeat_kind`. With `poll_interval` positive (a
  // database other replicas write too), a thread of the feed also reads
  // the store's newest sequence that often and wakes the followers when
  // it moved, until Close().
  static absl::StatusOr<std::unique_ptr<StoreChangeFeed>> Create(
      Store* store, const std::string& name, Kind heartbeat_kind,
      absl::Duration poll_interval = absl::ZeroDuration()) {
    ASSIGN_OR_RETURN(std::string feed_id, store->FeedId());
    ASSIGN_OR_RETURN(uint64_t newest, store->NewestSequence());
    std::unique_ptr<StoreChangeFeed> feed(new StoreChangeFeed(
        store, std::move(feed_id), name, newest, heartbeat_kind));
    FeedNotifier* notifier = &feed->notifier_;
    store->SetCommitObserver(
        [notifier](uint64_t sequence) { notifier->Published(sequence); });
    if (poll_interval > absl::ZeroDuration()) {
      StoreChangeFeed* raw = feed.get();
      feed->poller_ = std::thread([raw, poll_interval] {
        while (!raw->stopping_.WaitForNotificationWithTimeout(poll_interval)) {
          // A failed read (the database away) is tried again next time.
          absl::StatusOr<uint64_t> newest = raw->store_->NewestSequence();
          if (newest.ok() && *newest > raw->notifier_.newest()) {
            raw->notifier_.Published(*newest);
          }
        }
      });
    }
    return feed;
  }

  ~StoreChangeFeed() {
    Close();
    store_->SetCommitObserver(nullptr);
  }

  StoreChangeFeed(const StoreChangeFeed&) = delete;
  StoreChangeFeed& operator=(const StoreChangeFeed&) = delete;

  // Checks a WatchChanges `request`, in this order: the viewer role, its
  // heartbeat_interval, its feed_id and after_sequence against the feed,
  // then (when set) its ancestor_region_id with `check_region(region_id)`,
  // which returns the service's verdict (field rules, existence,
  // permission). Returns what the stream follows: the entries whose lineage
  // path holds the principal's scope (unless global) and the region.
  template <typename Request, typename CheckRegion>
  absl::StatusOr<FeedSubscription<Message>> Open(const Principal& principal,
                                                 const Request& request,
                                                 CheckRegion check_region) {
    RETURN_IF_ERROR(
        AuthorizeRole(principal, Role::kViewer, "watch the change feed"));
    FeedSubscription<Message> subscription;
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
      RETURN_IF_ERROR(check_region(region_id));
      path_components.push_back(PathComponent(region_id));
    }
    subscription.source =
        std::make_unique<Source>(this, std::move(path_components));
    return subscription;
  }

  // Ends every follower and refuses new ones, and stops polling. Idempotent;
  // not concurrently with itself.
  void Close() {
    notifier_.Close();
    if (!stopping_.HasBeenNotified()) stopping_.Notify();
    if (poller_.joinable()) poller_.join();
  }
  bool closed() const { return notifier_.closed(); }

  // The feed's newest-sequence gauge, for ServerMetrics::Expose.
  std::weak_ptr<prometheus::Collectable> metrics() const {
    return notifier_.metrics();
  }

 private:
  // One follower's view: the entries whose lineage path holds every one of
  // `path_components` (as the store reads them).
  class Source final : public NotifiedFeedSource<Message> {
   public:
    Source(StoreChangeFeed* feed, std::vector<std::string> path_components)
        : NotifiedFeedSource<Message>(&feed->notifier_),
          feed_(feed),
          path_components_(std::move(path_components)) {}

    absl::StatusOr<FeedBatch<Message>> ReadAfter(uint64_t scanned_through,
                                                 int limit) override {
      return feed_->store_->ReadChanges(scanned_through, path_components_,
                                        limit);
    }

    Message Heartbeat(uint64_t position) override {
      Message heartbeat;
      heartbeat.set_sequence(position);
      heartbeat.set_feed_id(feed_->feed_id_);
      heartbeat.set_kind(feed_->heartbeat_kind_);
      return heartbeat;
    }

   private:
    StoreChangeFeed* const feed_;
    const std::vector<std::string> path_components_;
  };

  StoreChangeFeed(Store* store, std::string feed_id, const std::string& name,
                  uint64_t newest, Kind heartbeat_kind)
      : store_(store),
        feed_id_(std::move(feed_id)),
        heartbeat_kind_(heartbeat_kind),
        notifier_(name, newest) {}

  Store* const store_;
  const std::string feed_id_;
  const Kind heartbeat_kind_;
  FeedNotifier notifier_;
  // The poll of a shared database's newest sequence (none without).
  absl::Notification stopping_;
  std::thread poller_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CHANGE_FEED_H_
