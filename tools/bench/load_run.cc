#include "tools/bench/load_run.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/check.h"

namespace fivestar::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One call slot: a chain of calls, each started when the previous ended,
// so a slot's state is only ever touched by one call's completion at a time.
struct Slot {
  int connection = 0;
  // With pacing: the wait before the slot's next call. A new alarm for each
  // wait, replacing one that has fired.
  std::unique_ptr<grpc::Alarm> pacing;
  std::vector<int64_t> latencies_nanos;
  std::map<std::string, int64_t> errors;
  int64_t warmup_errors = 0;
  std::string first_error;
};

class Driver {
 public:
  Driver(const LoadOptions& options, CallKind& kind)
      : kind_(kind),
        wait_for_stop_(options.wait_for_stop),
        interval_(absl::ToChronoNanoseconds(options.interval)),
        slots_(options.connections * options.in_flight) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].connection = static_cast<int>(i) % options.connections;
    }
    const SteadyClock::time_point now = SteadyClock::now();
    measure_start_ = now + absl::ToChronoNanoseconds(options.warmup);
    measure_end_ =
        (measure_start_ + absl::ToChronoNanoseconds(options.duration))
            .time_since_epoch()
            .count();
  }

  LoadResult Run() {
    active_ = static_cast<int>(slots_.size());
    for (Slot& slot : slots_) Issue(&slot);
    WaitForEnd();
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* active) { return *active == 0; }, &active_));
    }
    LoadResult result;
    std::vector<int64_t> all;
    for (Slot& slot : slots_) {
      all.insert(all.end(), slot.latencies_nanos.begin(),
                 slot.latencies_nanos.end());
      for (const auto& [code, count] : slot.errors) {
        result.errors[code] += count;
      }
      result.warmup_errors += slot.warmup_errors;
      if (result.first_error.empty()) result.first_error = slot.first_error;
    }
    std::sort(all.begin(), all.end());
    result.calls = static_cast<int64_t>(all.size());
    result.seconds = std::max(
        0.0,
        std::chrono::duration<double>(MeasureEnd() - measure_start_).count());
    result.calls_per_second =
        result.seconds > 0 ? result.calls / result.seconds : 0;
    result.p50 = Percentile(all, 0.50);
    result.p99 = Percentile(all, 0.99);
    result.max = Percentile(all, 1.0);
    return result;
  }

 private:
  SteadyClock::time_point MeasureEnd() const {
    return SteadyClock::time_point(SteadyClock::duration(measure_end_.load()));
  }

  // Returns at the window's end, or earlier when wait_for_stop_ asks to
  // stop (the window then ends now).
  void WaitForEnd() {
    if (!wait_for_stop_) {
      std::this_thread::sleep_until(MeasureEnd());
      return;
    }
    const SteadyClock::time_point now = SteadyClock::now();
    if (now < MeasureEnd() &&
        wait_for_stop_(absl::FromChrono(MeasureEnd() - now))) {
      measure_end_.store(SteadyClock::now().time_since_epoch().count());
    }
  }

  void Issue(Slot* slot) {
    const SteadyClock::time_point start = SteadyClock::now();
    kind_.Start(slot->connection, next_call_.fetch_add(1),
                [this, slot, start](grpc::Status status) {
                  Finished(slot, start, status);
                });
  }

  void Finished(Slot* slot, SteadyClock::time_point start,
                const grpc::Status& status) {
    const SteadyClock::time_point end = SteadyClock::now();
    if (!status.ok()) {
      const std::string code = absl::StatusCodeToString(
          static_cast<absl::StatusCode>(status.error_code()));
      ++slot->errors[code];
      if (end < measure_start_) ++slot->warmup_errors;
      if (slot->first_error.empty()) {
        slot->first_error = code + ": " + status.error_message();
      }
    } else if (end >= measure_start_ && end < MeasureEnd()) {
      slot->latencies_nanos.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
              .count());
    }
    if (end < MeasureEnd()) {
      const SteadyClock::time_point next = start + interval_;
      if (next <= end) {
        Issue(slot);
        return;
      }
      // The alarm takes a system-clock deadline; the wait is what counts.
      slot->pacing = std::make_unique<grpc::Alarm>();
      slot->pacing->Set(std::chrono::system_clock::now() + (next - end),
                        [this, slot](bool /*fired*/) { Issue(slot); });
      return;
    }
    absl::MutexLock lock(&mu_);
    --active_;
  }

  CallKind& kind_;
  const std::function<bool(absl::Duration)> wait_for_stop_;
  const std::chrono::nanoseconds interval_;
  std::vector<Slot> slots_;
  SteadyClock::time_point measure_start_;
  // The window's end (SteadyClock ticks), brought forward by a stop.
  std::atomic<SteadyClock::rep> measure_end_{0};
  std::atomic<uint64_t> next_call_{0};
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& address, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Both keep the channels apart: a subchannel pool of the channel's own,
    // and an argument no other channel has (subchannels are keyed by their
    // arguments).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("fivestar.bench.connection", i);
    channels.push_back(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

LoadResult RunLoad(const LoadOptions& options, CallKind& kind) {
  FIVESTAR_CHECK(options.connections >= 1 && options.in_flight >= 1,
                 "callers validate the load options");
  FIVESTAR_CHECK(options.duration > absl::ZeroDuration() &&
                     options.interval >= absl::ZeroDuration(),
                 "callers validate the load options");
  return Driver(options, kind).Run();
}

absl::Duration Percentile(const std::vector<int64_t>& sorted_nanos, double q) {
  if (sorted_nanos.empty()) return absl::ZeroDuration();
  size_t rank = static_cast<size_t>(std::ceil(q * sorted_nanos.size()));
  rank = std::clamp<size_t>(rank, 1, sorted_nanos.size());
  return absl::Nanoseconds(sorted_nanos[rank - 1]);
}

}  // namespace fivestar::bench
