// The load driver of fivestar-bench: keeps a fixed number of calls in flight
// on each of several connections with gRPC's callback API, for a warm-up and
// then a measured window (optionally paced: see LoadOptions::interval), and
// reports throughput, latency percentiles and
// every error by code.
#ifndef FIVESTAR_TOOLS_BENCH_LOAD_RUN_H_
#define FIVESTAR_TOOLS_BENCH_LOAD_RUN_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fivestar::bench {

// One kind of call to put under load (e.g. GetVillage on a list of ids).
class CallKind {
 public:
  virtual ~CallKind() = default;
  // Starts call number `n` (0, 1, 2, ... across all slots) on connection
  // `connection` (0 .. connections-1) and returns without waiting; `done`
  // runs exactly once with the call's status, on a gRPC thread.
  virtual void Start(int connection, uint64_t n,
                     std::function<void(grpc::Status)> done) = 0;
};

// How much load, for how long.
struct LoadOptions {
  // Separate channels (TCP connections); at least 1.
  int connections = 4;
  // Calls kept in flight on each connection; at least 1.
  int in_flight = 16;
  // Calls made before measuring starts; not counted.
  absl::Duration warmup = absl::Seconds(1);
  // The measured window; positive. With `wait_for_stop`, the longest one.
  absl::Duration duration = absl::Seconds(5);
  // Optional pacing: each slot starts a call at least this long after its
  // previous call started (waiting on a gRPC alarm, not a thread), so that
  // a probe takes a bounded share of the machine. Zero: the next call
  // starts as soon as the previous one ends (a closed loop).
  absl::Duration interval = absl::ZeroDuration();
  // Optional: ends the measured window early (e.g. on a signal, for a
  // window as long as an import elsewhere). RunLoad calls it from its own
  // thread with the time left before the window's end; it returns true as
  // soon as the run should stop, false when that time passed without a
  // request to stop.
  std::function<bool(absl::Duration)> wait_for_stop;
};

// What a run measured.
struct LoadResult {
  // OK calls that completed inside the measured window.
  int64_t calls = 0;
  // The measured window, in seconds.
  double seconds = 0;
  // calls / seconds.
  double calls_per_second = 0;
  // Latency percentiles of the calls counted in `calls`; zero when none.
  absl::Duration p50;
  absl::Duration p99;
  // The slowest of them.
  absl::Duration max;
  // Failed calls by status code name ("NOT_FOUND"), over the whole run,
  // warm-up included. Any entry makes the figure invalid.
  std::map<std::string, int64_t> errors;
  // How many of those failed during the warm-up (a cold cache, a bulkhead
  // that refuses the first burst).
  int64_t warmup_errors = 0;
  // The first error's message, to say what went wrong; empty when none.
  std::string first_error;
};

// `count` channels to `address` (plaintext), each with channel arguments of
// its own so that no two share a subchannel (one TCP connection each).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& address, int count);

// Runs `kind` under `options`' load and blocks until every call ended
// (the measured window, then the calls still in flight).
LoadResult RunLoad(const LoadOptions& options, CallKind& kind);

// The latency at quantile `q` (0 < q <= 1) of `sorted_nanos` (ascending),
// nearest-rank; zero when empty.
absl::Duration Percentile(const std::vector<int64_t>& sorted_nanos, double q);

}  // namespace fivestar::bench

#endif  // FIVESTAR_TOOLS_BENCH_LOAD_RUN_H_
