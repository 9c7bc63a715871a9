// GoogleTest matchers and macros for absl::Status, absl::StatusOr and
// grpc::Status (Debian's Abseil ships none).
#ifndef FIVESTAR_TESTS_TESTING_STATUS_MATCHERS_H_
#define FIVESTAR_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"

namespace fivestar::testing {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
inline absl::Status GetStatus(const grpc::Status& status) {
  return FromGrpcStatus(status);
}

// Matches a Status, StatusOr or grpc::Status with code `code` whose message
// contains `substring`.
MATCHER_P2(StatusIs, code, substring,
           ::testing::PrintToString(absl::Status(code, substring))) {
  const absl::Status status = ::fivestar::testing::GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         status.message().find(substring) != absl::string_view::npos;
}

// Matches a StatusOr that is OK and whose value matches `inner`.
MATCHER_P(IsOkAndHolds, inner, "") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

}  // namespace fivestar::testing

#define EXPECT_OK(expr)                             \
  EXPECT_THAT(::fivestar::testing::GetStatus(expr), \
              ::fivestar::testing::StatusIs(absl::StatusCode::kOk, ""))
#define ASSERT_OK(expr)                             \
  ASSERT_THAT(::fivestar::testing::GetStatus(expr), \
              ::fivestar::testing::StatusIs(absl::StatusCode::kOk, ""))

// Asserts that `rexpr` (a StatusOr) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(            \
      FIVESTAR_STATUS_CONCAT_(fivestar_test_statusor_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  ASSERT_OK(statusor);                                   \
  lhs = std::move(statusor).value()

#endif  // FIVESTAR_TESTS_TESTING_STATUS_MATCHERS_H_
