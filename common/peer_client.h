// The client side of calls from one fivestar service to another (projects →
// registry, scoring → projects): one channel per peer for the life of the
// process, and a deadline and the calling service's bearer token on every
// call, and one translation of a peer's failure into this service's error.
#ifndef FIVESTAR_COMMON_PEER_CLIENT_H_
#define FIVESTAR_COMMON_PEER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fivestar {

// A channel to a peer service at `address` ("host:port"), insecure when
// `credentials` is null. Reconnection backs off from 250 ms to at most 5 s
// (gRPC's default climbs to 2 minutes), so a peer that comes back is used
// again within seconds. Create one per peer and share it: a channel
// multiplexes every call and reconnects on its own.
inline std::shared_ptr<grpc::Channel> NewPeerChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return grpc::CreateCustomChannel(
      address,
      credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(),
      args);
}

// Prepares `context` for one call to a peer: the deadline from now, and
// "authorization: Bearer <token>" unless `bearer_token` is empty.
inline void PreparePeerCall(grpc::ClientContext& context,
                            absl::string_view bearer_token,
                            absl::Duration deadline) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!bearer_token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", bearer_token));
  }
}

// A bulkhead: bounds the calls to one peer that may be in flight at once.
// Handlers call peers from the executor's threads (common/executor.h); if a
// peer hangs, each call holds a thread until its deadline. Keeping the bound
// below the executor's size leaves threads for every call that does not
// need the peer. A call beyond the bound waits at most `max_wait` for a
// place (a peer that answers frees places within milliseconds), then fails
// with UNAVAILABLE rather than queue behind a peer that does not answer.
class PeerCallLimit {
 public:
  // Releases its place when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : limit_(other.limit_) {
      other.limit_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limit_ != nullptr) limit_->Release();
    }

   private:
    friend class PeerCallLimit;
    explicit Slot(PeerCallLimit* limit) : limit_(limit) {}
    PeerCallLimit* limit_;
  };

  // `max_in_flight` at least 1; `max_wait` zero refuses at once.
  explicit PeerCallLimit(int max_in_flight,
                         absl::Duration max_wait = absl::ZeroDuration())
      : max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight),
        max_wait_(max_wait) {}

  // A place for one call, or UNAVAILABLE ("<peer> is slow to answer: ...")
  // when `max_in_flight` calls are still waiting on the peer after
  // `max_wait`.
  absl::StatusOr<Slot> Acquire(absl::string_view peer, absl::string_view what);

  int in_flight() const {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < max_in_flight_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }

  const int max_in_flight_;
  const absl::Duration max_wait_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// One unary call to a peer, started with gRPC's callback API and waited for
// later: the next page of a list asked for while this one is used, or
// several lookups made at once. Start() returns at once; Wait() blocks the
// calling thread (a handler's executor thread, never a gRPC callback
// thread) until the call ended. The bulkhead's place is given back as soon
// as the call ends, waited for or not. Destroying a started call that was
// not waited for cancels it and waits for its end, so nothing it touches
// outlives it. Not thread-safe: one owner starts and waits.
template <typename Request, typename Response>
class PendingPeerCall {
 public:
  PendingPeerCall() = default;
  ~PendingPeerCall() {
    if (started_ && !done_.HasBeenNotified()) {
      context_.TryCancel();
      done_.WaitForNotification();
    }
  }
  PendingPeerCall(const PendingPeerCall&) = delete;
  PendingPeerCall& operator=(const PendingPeerCall&) = delete;

  // Starts `method` of `async` (a stub's async()) with `request`, holding
  // `slot` until it ends. Call once, after PreparePeerCall(context()).
  template <typename Async>
  void Start(Async* async,
             void (Async::*method)(grpc::ClientContext*, const Request*,
                                   Response*,
                                   std::function<void(grpc::Status)>),
             Request request, PeerCallLimit::Slot slot) {
    request_ = std::move(request);
    slot_.emplace(std::move(slot));
    started_ = true;
    (async->*method)(&context_, &request_, &response_,
                     [this](grpc::Status status) {
                       status_ = std::move(status);
                       slot_.reset();
                       done_.Notify();
                     });
  }

  grpc::ClientContext& context() { return context_; }

  // Blocks until the call ended; its status. The response is then in
  // response().
  const grpc::Status& Wait() {
    done_.WaitForNotification();
    return status_;
  }
  Response& response() { return response_; }

 private:
  grpc::ClientContext context_;
  Request request_;
  Response response_;
  grpc::Status status_;
  std::optional<PeerCallLimit::Slot> slot_;
  bool started_ = false;
  absl::Notification done_;
};

// The status of a failed call to a peer as this service reports it to its
// own caller. `peer` names the peer ("the village registry"), `what` the
// purpose of the call ("look up village X"). NOT_FOUND passes through with
// the peer's message; anything a retry may cure (UNAVAILABLE,
// DEADLINE_EXCEEDED, CANCELLED, ABORTED, RESOURCE_EXHAUSTED) becomes
// UNAVAILABLE; the rest is this service's own misconfiguration (e.g. a token
// the peer refuses), logged and reported as INTERNAL rather than blamed on
// the caller.
absl::Status PeerCallError(const grpc::Status& status, absl::string_view peer,
                           absl::string_view what);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_PEER_CLIENT_H_
