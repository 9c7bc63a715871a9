// A fixed pool of threads for work that must not run on gRPC's callback
// threads: handlers that call a peer service or read and write storage.
// gRPC's callback threads then only move bytes, so health checks and calls
// that need nothing slow answer promptly even while a peer hangs or a long
// read runs.
#ifndef FIVESTAR_COMMON_EXECUTOR_H_
#define FIVESTAR_COMMON_EXECUTOR_H_

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace fivestar {

class Executor {
 public:
  // Starts `threads` (at least 1) worker threads, named `name` for the
  // operating system (top, gdb).
  Executor(int threads, std::string name);
  // Runs every task already submitted, then joins the threads.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task` to run on one of the threads, in submission order. The
  // queue is unbounded: callers bound the work (gRPC bounds the calls in
  // flight, and every handler submits one task at a time).
  void Submit(absl::AnyInvocable<void() &&> task);

  int threads() const { return static_cast<int>(workers_.size()); }
  // Tasks waiting for a thread (for metrics and tests).
  int queued() const;

 private:
  void Work();

  const std::string name_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_EXECUTOR_H_
