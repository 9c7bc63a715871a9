// How the logic layers write when other writers may race them: a create made
// idempotent by the client's request id, and an optimistic
// read-decide-write redone when its write loses a race. Header-only.
#ifndef FIVESTAR_COMMON_CONCURRENT_WRITES_H_
#define FIVESTAR_COMMON_CONCURRENT_WRITES_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fivestar {

// Runs `create` at most once per client request id. With an empty
// `request_id` it just runs `create`. Otherwise it first calls
// `find_earlier()`, which returns absl::StatusOr<std::pair<T, std::string>>:
// the result of the id's first use and that request's fingerprint, or
// NOT_FOUND while the id is unused. The same `fingerprint` (a retry) gets
// that result back; another one gets `conflict(earlier result)`, an error
// status. When `create` fails with ALREADY_EXISTS on the first round (a
// concurrent first use of the id won), the lookup runs once more and finds
// what the winner made. Other results of `create` are returned as they are.
template <typename T, typename FindEarlier, typename Conflict, typename Create>
absl::StatusOr<T> CreateOncePerRequestId(absl::string_view request_id,
                                         absl::string_view fingerprint,
                                         FindEarlier find_earlier,
                                         Conflict conflict, Create create) {
  // Two rounds at most: a concurrent first use of the same request_id makes
  // the create fail, and the second round finds what it made.
  for (int round = 0;; ++round) {
    if (!request_id.empty()) {
      absl::StatusOr<std::pair<T, std::string>> earlier = find_earlier();
      if (earlier.ok()) {
        if (earlier->second != fingerprint) return conflict(earlier->first);
        return std::move(earlier->first);
      }
      if (!absl::IsNotFound(earlier.status())) return earlier.status();
    }
    absl::StatusOr<T> created = create();
    if (absl::IsAlreadyExists(created.status()) && round == 0) continue;
    return created;
  }
}

// Waits a random while, growing with `attempt`, before an optimistic write
// that lost a race tries again. Writes are group-committed, so two writers
// of one record that read it at once tend to land in one batch again and
// again; the jitter pulls them apart.
inline void BackOffAfterLostRace(int attempt) {
  thread_local std::minstd_rand bits(std::random_device{}());
  const int64_t ceiling_us = int64_t{200} << std::min(attempt, 8);
  std::uniform_int_distribution<int64_t> pause(0, ceiling_us);
  absl::SleepFor(absl::Microseconds(pause(bits)));
}

// The outcome of one optimistic read-decide-write attempt: its result, and
// whether its write lost a race to a concurrent writer, so that redoing it
// from a fresh read may succeed. The constructors are implicit so that an
// attempt can use RETURN_IF_ERROR and ASSIGN_OR_RETURN and return a value.
template <typename T>
struct WriteAttempt {
  WriteAttempt(absl::Status status) : result(std::move(status)) {}
  WriteAttempt(T value) : result(std::move(value)) {}
  WriteAttempt(absl::StatusOr<T> result, bool lost_race = false)
      : result(std::move(result)), lost_race(lost_race) {}

  absl::StatusOr<T> result;
  bool lost_race = false;
};

// Runs `attempt` (a callable returning WriteAttempt<T>) until an attempt
// did not lose a race or `max_attempts` attempts have run, and returns the
// last attempt's result: a lost race on the last attempt goes to the caller
// as it is. Between attempts it pauses (BackOffAfterLostRace).
template <typename T, typename Attempt>
absl::StatusOr<T> RetryLostRaces(int max_attempts, Attempt attempt) {
  for (int attempts = 1;; ++attempts) {
    WriteAttempt<T> outcome = attempt();
    if (!outcome.lost_race || attempts >= max_attempts) {
      return std::move(outcome.result);
    }
    BackOffAfterLostRace(attempts);
  }
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_CONCURRENT_WRITES_H_
