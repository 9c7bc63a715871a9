// The client side of a WatchChanges stream (either service's feed), for
// tests: read a number of messages, finish, cancel; and the sequences of what
// was read. Header-only.
#ifndef FIVESTAR_TESTS_TESTING_WATCH_STREAM_H_
#define FIVESTAR_TESTS_TESTING_WATCH_STREAM_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/status.h"

namespace fivestar::testing {

// One open WatchChanges call returning a stream of `Change`.
template <typename Change>
struct WatchStream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<Change>> reader;

  // Reads `n` messages; fewer when the stream ends first.
  std::vector<Change> Read(int n) {
    std::vector<Change> changes;
    Change change;
    while (static_cast<int>(changes.size()) < n && reader->Read(&change)) {
      changes.push_back(change);
    }
    return changes;
  }

  absl::Status Finish() { return FromGrpcStatus(reader->Finish()); }

  // Cancels the call and checks that it ends as CANCELLED.
  void Cancel() {
    context->TryCancel();
    const absl::Status status = Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  }
};

// The sequences of `changes`, in order.
template <typename Change>
std::vector<uint64_t> Sequences(const std::vector<Change>& changes) {
  std::vector<uint64_t> out;
  for (const Change& change : changes) out.push_back(change.sequence());
  return out;
}

// first, first + 1, ..., last.
inline std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t i = first; i <= last; ++i) out.push_back(i);
  return out;
}

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_WATCH_STREAM_H_
