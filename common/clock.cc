#include "common/clock.h"

namespace fivestar {
namespace {

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock* Clock::System() {
  static const SystemClock* clock = new SystemClock();
  return clock;
}

}  // namespace fivestar
