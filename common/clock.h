// Time as a dependency: production uses the system clock, tests a fake one.
#ifndef FIVESTAR_COMMON_CLOCK_H_
#define FIVESTAR_COMMON_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fivestar {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide system clock.
  static const Clock* System();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time time) {
    absl::MutexLock lock(&mu_);
    now_ = time;
  }
  void Advance(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    now_ += duration;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CLOCK_H_
