// Follows a peer's change feed (project tracking's or the registry's) and
// re-evaluates the villages it names, so boards follow the data within
// seconds without polling.
//
// Exactly once: the cursor (the feed's id and the last sequence applied) is
// stored in scoring's database in the same transaction as the evaluations
// a batch of changes produced, so a dropped stream or a restart resumes
// right after the last batch applied: nothing is missed and nothing is
// applied twice. Each batch's write is fenced by the cursor it began from
// (CursorUpdate::expected), so that two followers of the same database (the
// replicas' lease changing hands) never both apply a range of the feed.
// While the peer is down the follower reconnects with
// jittered exponential backoff. A cursor the peer does not recognise (its
// database was replaced) starts over from the beginning of the feed.
#ifndef FIVESTAR_SERVICES_SCORING_FEED_FOLLOWER_H_
#define FIVESTAR_SERVICES_SCORING_FEED_FOLLOWER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/scoring/evaluations.h"
#include "services/scoring/grpc_inputs_source.h"

namespace fivestar::scoring {

// What one feed message asks of scoring.
struct FeedMessage {
  uint64_t sequence = 0;
  uint64_t newest_sequence = 0;
  std::string feed_id;
  // A heartbeat: nothing changed; the follower has caught up.
  bool heartbeat = false;
  // Re-evaluate this village's recorded months from `from_period` on (all
  // of them when empty).
  std::string village_id;
  std::string from_period;
  // Re-evaluate every village with standings below this region.
  std::string region_id;
};

// An open WatchChanges stream of one peer.
class FeedStream {
 public:
  virtual ~FeedStream() = default;
  // The next message; false when the stream ended (then Finish()).
  virtual bool Read(FeedMessage* message) = 0;
  virtual absl::Status Finish() = 0;
  // Ends a blocked Read() from another thread.
  virtual void Cancel() = 0;
};

struct FollowerOptions {
  // The feed's name in the cursor table and the metrics: "projects" or
  // "registry".
  std::string feed;
  // Asked of the peer, so a caught-up follower hears from it regularly.
  absl::Duration heartbeat = absl::Seconds(5);
  absl::Duration min_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  // Most changes applied in one transaction.
  int max_batch = 200;
};

class FeedFollower {
 public:
  // Opens a stream after a cursor (its sequence; its feed_id checked by the
  // peer).
  using Open =
      std::function<std::unique_ptr<FeedStream>(const FeedCursor& after)>;

  FeedFollower(FollowerOptions options, Open open, Evaluations* evaluations);
  ~FeedFollower();

  // Starts following on a thread of its own (again after Stop(), from the
  // stored cursor). Not concurrently with Stop().
  void Start();
  // Ends the stream and the thread. Idempotent.
  void Stop();

  // The last sequence applied (stored), for tests and metrics.
  uint64_t applied() const { return applied_.load(); }

  // fivestar_feed_follower_lag{feed=...} (newest sequence seen − applied),
  // fivestar_feed_follower_applied_sequence{feed=...} and
  // fivestar_feed_follower_reconnects_total{feed=...}.
  std::weak_ptr<prometheus::Collectable> metrics() const { return metrics_; }

  // The streams of the two peers.
  static Open ProjectsFeed(std::shared_ptr<grpc::ChannelInterface> channel,
                           PeerOptions peer, absl::Duration heartbeat);
  static Open RegistryFeed(std::shared_ptr<grpc::ChannelInterface> channel,
                           PeerOptions peer, absl::Duration heartbeat);

 private:
  void Run();
  // Follows one stream until it ends or fails; OK when stopped.
  absl::Status FollowOnce(FeedCursor& cursor);
  // Applies `batch`, read after cursor `began`, and stores `cursor` (the
  // cursor after it) with its results, fenced by `began`: ABORTED, nothing
  // applied, when another follower has moved the stored cursor since.
  absl::Status Apply(const std::vector<FeedMessage>& batch,
                     const FeedCursor& began, const FeedCursor& cursor);
  bool stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  const FollowerOptions options_;
  const Open open_;
  Evaluations* const evaluations_;
  std::atomic<uint64_t> applied_{0};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  FeedStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;

  std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Gauge& lag_;
  prometheus::Gauge& applied_gauge_;
  prometheus::Counter& reconnects_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_FEED_FOLLOWER_H_
