// The server side of a WatchChanges stream, for any feed: replays the
// entries after a follower's cursor, then follows new commits live, and
// (when asked) sends heartbeats, all without ever blocking a thread. A
// service adapts its feed to FeedSource<Message>; Message is its Change
// message, which must have `uint64 sequence` and `uint64 newest_sequence`
// fields.
#ifndef FIVESTAR_COMMON_WATCH_REACTOR_H_
#define FIVESTAR_COMMON_WATCH_REACTOR_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/change_feed.h"
#include "common/status.h"

namespace fivestar {

// One WatchChanges stream. It writes one message at a time; when it has
// nothing to send it registers with the feed and returns, and the feed
// wakes it on the next commit. With heartbeats on it sends a HEARTBEAT as
// soon as it has caught up with the feed (the caught-up marker), then one
// per interval without other messages, timed by a grpc::Alarm (a timer in
// gRPC's own threads, not a sleeping thread). Every message carries the
// newest sequence committed when it was sent.
//
// All state is guarded by mu_, and every gRPC call (StartWrite, Finish,
// Alarm::Set) is made under it, which gRPC allows: none of them runs a
// reaction inline, and an alarm's callback runs on gRPC's executor
// threads, never inside Set. The pending alarm is cancelled (destroyed)
// in OnDone, outside mu_.
//
// gRPC owns the reactor until OnDone(); the feed and the alarm hold weak
// references, so the object lives on (as a shared_ptr kept in self_) until
// OnDone() drops it, and a wake-up racing with the end of the stream finds
// it finished rather than freed.
template <typename Message>
class WatchReactor final
    : public grpc::ServerWriteReactor<Message>,
      public ChangeWatcher,
      public std::enable_shared_from_this<WatchReactor<Message>> {
 public:
  // Entries read from the source per batch.
  static constexpr int kBatch = 256;

  // Starts a stream for an accepted subscription, or one that ends at once
  // with the status of a refused one.
  static grpc::ServerWriteReactor<Message>* Start(
      absl::StatusOr<FeedSubscription<Message>> subscription) {
    auto reactor = std::make_shared<WatchReactor>();
    reactor->self_ = reactor;
    reactor->Begin(std::move(subscription));
    return reactor.get();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {  // The client went away.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                "the client stopped reading"));
      return;
    }
    queue_.pop_front();
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!writing_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
  }

  void OnNewChanges() override {
    absl::MutexLock lock(&mu_);
    waiting_ = false;
    if (!writing_) PumpLocked();
  }

  void OnFeedClosed() override {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    if (!writing_) PumpLocked();
  }

  void OnDone() override {
    std::unique_ptr<grpc::Alarm> alarm;
    {
      absl::MutexLock lock(&mu_);
      alarm = std::move(alarm_);
    }
    // Destroying the alarm cancels a pending heartbeat; its callback then
    // finds the stream finished (or the reactor gone) and does nothing.
    alarm.reset();
    // Possibly the last reference: nothing may touch members after this.
    std::shared_ptr<WatchReactor> last = std::move(self_);
  }

 private:
  void Begin(absl::StatusOr<FeedSubscription<Message>> subscription) {
    absl::MutexLock lock(&mu_);
    if (!subscription.ok()) {
      FinishLocked(ToGrpcStatus(subscription.status()));
      return;
    }
    source_ = std::move(subscription->source);
    cursor_ = subscription->after_sequence;
    heartbeat_interval_ = subscription->heartbeat_interval;
    last_write_ = absl::Now();
    if (!source_->Track(this->shared_from_this())) closing_ = true;
    // Headers go out at once, so a client knows the stream is open even
    // while no change arrives.
    this->StartSendInitialMetadata();
    PumpLocked();
  }

  // Sends the next queued message, or reads more, or waits for a commit.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!finished_) {
      if (closing_) {
        FinishLocked(grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            "the server is shutting down; reconnect from your last sequence"));
        return;
      }
      if (cancelled_) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      if (!queue_.empty()) {
        WriteFrontLocked();
        return;
      }
      absl::StatusOr<FeedBatch<Message>> batch =
          source_->ReadAfter(cursor_, kBatch);
      if (!batch.ok()) {
        FinishLocked(ToGrpcStatus(batch.status()));
        return;
      }
      cursor_ = std::max(cursor_, batch->scanned_through);
      for (Message& change : batch->changes) {
        queue_.push_back(std::move(change));
      }
      if (!queue_.empty()) continue;
      // Caught up with the feed.
      if (heartbeats() && !caught_up_sent_) {
        caught_up_sent_ = true;
        queue_.push_back(source_->Heartbeat(cursor_));
        continue;
      }
      // Sleep until the next commit (false means one already happened, or
      // the feed closed; loop and look again). Registered once: a
      // heartbeat written meanwhile does not register again.
      if (!waiting_) {
        if (!source_->WaitBeyond(cursor_, this->shared_from_this())) {
          if (source_->closed()) closing_ = true;
          continue;
        }
        waiting_ = true;
      }
      ArmHeartbeatLocked();
      return;
    }
  }

  void WriteFrontLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Message& next = queue_.front();
    next.set_newest_sequence(
        std::max({source_->newest(), cursor_, next.sequence()}));
    writing_ = true;
    last_write_ = absl::Now();
    this->StartWrite(&next);
  }

  bool heartbeats() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return heartbeat_interval_ > absl::ZeroDuration();
  }

  // While idle with heartbeats on: makes sure an alarm is set for one
  // interval after the last message.
  void ArmHeartbeatLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!heartbeats() || alarm_pending_ || finished_) return;
    alarm_pending_ = true;
    // A fresh alarm each time; replacing the one whose callback is running
    // is safe (gRPC keeps it alive until the callback returns).
    alarm_ = std::make_unique<grpc::Alarm>();
    std::weak_ptr<WatchReactor> weak = this->shared_from_this();
    alarm_->Set(absl::ToChronoTime(last_write_ + heartbeat_interval_),
                [weak](bool fired) {
                  if (std::shared_ptr<WatchReactor> self = weak.lock()) {
                    self->OnHeartbeatDue(fired);
                  }
                });
  }

  void OnHeartbeatDue(bool fired) {
    absl::MutexLock lock(&mu_);
    alarm_pending_ = false;
    if (!fired || finished_) return;
    // Busy: the next idle moment sets a new alarm.
    if (writing_ || !queue_.empty()) return;
    if (absl::Now() < last_write_ + heartbeat_interval_) {
      ArmHeartbeatLocked();
      return;
    }
    queue_.push_back(source_->Heartbeat(cursor_));
    PumpLocked();
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  std::shared_ptr<WatchReactor> self_;
  absl::Mutex mu_;
  std::unique_ptr<FeedSource<Message>> source_ ABSL_GUARDED_BY(mu_);
  // Every sequence up to here has been examined for this follower.
  uint64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  // Messages read but not yet written; the front one is being written while
  // writing_ is true (gRPC reads it until OnWriteDone).
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  // When the last message started out (or the stream began).
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(mu_);
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool caught_up_sent_ ABSL_GUARDED_BY(mu_) = false;
  // Registered with the feed for the next commit.
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_WATCH_REACTOR_H_
