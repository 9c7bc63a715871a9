// Batches of keyed writes sent a few at a time, in file order: at most
// `max_in_flight` are in flight, and a batch that sets a key a batch in
// flight also sets waits until that one (and every one before it) has
// ended, so that the writes of one key apply in the order of the file.
// Batches end in the order they were sent (Finish is called oldest first).
//
// Used by set-indicators; the calls themselves are the caller's: `start`
// begins one without waiting, `finish` waits for the oldest and reports it.
#ifndef FIVESTAR_TOOLS_CLI_ORDERED_BATCHES_H_
#define FIVESTAR_TOOLS_CLI_ORDERED_BATCHES_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

namespace fivestar::cli {

template <typename Batch>
class OrderedBatches {
 public:
  // `start` begins `batch`'s call; `finish` waits for it to end and
  // reports it (an error stops the sending: see Send).
  OrderedBatches(size_t max_in_flight, std::function<void(Batch&)> start,
                 std::function<absl::Status(Batch&)> finish)
      : max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight),
        start_(std::move(start)),
        finish_(std::move(finish)) {}
  // Waits for every batch still in flight (their outcome unreported).
  ~OrderedBatches() {
    while (!in_flight_.empty()) {
      finish_(*in_flight_.front().batch).IgnoreError();
      in_flight_.pop_front();
    }
  }
  OrderedBatches(const OrderedBatches&) = delete;
  OrderedBatches& operator=(const OrderedBatches&) = delete;

  // Starts `batch`, which sets `keys`, once there is room and no batch in
  // flight sets one of them, finishing older batches (oldest first) until
  // then. After a batch's finish failed, nothing more is started; the
  // first failure is returned by this and every later call.
  absl::Status Send(std::unique_ptr<Batch> batch,
                    absl::flat_hash_set<std::string> keys) {
    while (!in_flight_.empty() &&
           (in_flight_.size() >= max_in_flight_ || Overlaps(keys))) {
      FinishOldest();
    }
    if (!failed_.ok()) return failed_;
    start_(*batch);
    in_flight_.push_back({std::move(batch), std::move(keys)});
    return absl::OkStatus();
  }

  // Finishes every batch in flight; the first failure, if any.
  absl::Status FinishAll() {
    while (!in_flight_.empty()) FinishOldest();
    return failed_;
  }

 private:
  struct Sent {
    std::unique_ptr<Batch> batch;
    absl::flat_hash_set<std::string> keys;
  };

  bool Overlaps(const absl::flat_hash_set<std::string>& keys) const {
    for (const Sent& sent : in_flight_) {
      for (const std::string& key : keys) {
        if (sent.keys.contains(key)) return true;
      }
    }
    return false;
  }

  void FinishOldest() {
    absl::Cleanup pop = [this] { in_flight_.pop_front(); };
    absl::Status status = finish_(*in_flight_.front().batch);
    if (failed_.ok()) failed_ = std::move(status);
  }

  const size_t max_in_flight_;
  const std::function<void(Batch&)> start_;
  const std::function<absl::Status(Batch&)> finish_;
  std::deque<Sent> in_flight_;
  absl::Status failed_;
};

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_ORDERED_BATCHES_H_
