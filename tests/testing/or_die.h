// OrDie for test set-up code outside a TEST (fixtures' helpers, environments
// shared by many tests), where a failed ASSERT cannot stop the test: a
// failure prints what was being done and aborts. Header-only.
#ifndef FIVESTAR_TESTS_TESTING_OR_DIE_H_
#define FIVESTAR_TESTS_TESTING_OR_DIE_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fivestar::testing {

// The value of `value`; when it holds an error, prints "<what>: <status>"
// to stderr and aborts.
template <typename T>
T OrDie(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, value.status().ToString().c_str());
    std::abort();
  }
  return *std::move(value);
}

// Returns when `status` is OK; otherwise prints "<what>: <status>" to
// stderr and aborts.
inline void OrDie(const absl::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_OR_DIE_H_
