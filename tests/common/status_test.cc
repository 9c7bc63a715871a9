// Tests of common/status: the absl <-> grpc mapping, FieldError, and the
// propagation macros.
#include "common/status.h"

#include <gmock/gmock.h>
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::testing::Pointee;

// Every code but OK, in both vocabularies.
struct CodePair {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
};
const CodePair kErrorCodes[] = {
    {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
    {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
    {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {absl::StatusCode::kResourceExhausted,
     grpc::StatusCode::RESOURCE_EXHAUSTED},
    {absl::StatusCode::kFailedPrecondition,
     grpc::StatusCode::FAILED_PRECONDITION},
    {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
    {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
    {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
};

TEST(ToGrpcStatusTest, KeepsEveryCodeAndTheMessageOfClientErrors) {
  for (const CodePair& pair : kErrorCodes) {
    SCOPED_TRACE(absl::StatusCodeToString(pair.absl_code));
    const grpc::Status status =
        ToGrpcStatus(absl::Status(pair.absl_code, "village.id: required"));
    EXPECT_EQ(status.error_code(), pair.grpc_code);
    if (!IsServerFault(pair.absl_code)) {
      EXPECT_EQ(status.error_message(), "village.id: required");
    }
  }
}

TEST(ToGrpcStatusTest, ServerFaultsKeepTheirCodeButNotTheirText) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInternal, absl::StatusCode::kUnknown,
        absl::StatusCode::kDataLoss}) {
    SCOPED_TRACE(absl::StatusCodeToString(code));
    const grpc::Status status = ToGrpcStatus(absl::Status(
        code, "sqlite: no such table: villages (SELECT body FROM villages)"));
    EXPECT_EQ(status.error_code(), static_cast<grpc::StatusCode>(code));
    EXPECT_THAT(status.error_message(),
                ::testing::MatchesRegex(
                    "internal error \\(request id [0-9a-f]{16}\\); the "
                    "server's log has the details"));
  }
  // Each fault gets its own id.
  EXPECT_NE(ToGrpcStatus(absl::InternalError("x")).error_message(),
            ToGrpcStatus(absl::InternalError("x")).error_message());
}

TEST(ToGrpcStatusTest, OkIsOkWithoutMessage) {
  const grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.error_message(), "");
}

TEST(ToGrpcStatusTest, KeepsUtf8Messages) {
  EXPECT_EQ(
      ToGrpcStatus(absl::NotFoundError("村 回车镇 不存在")).error_message(),
      "村 回车镇 不存在");
}

TEST(FromGrpcStatusTest, KeepsEveryCodeAndTheMessage) {
  for (const CodePair& pair : kErrorCodes) {
    SCOPED_TRACE(absl::StatusCodeToString(pair.absl_code));
    const absl::Status status =
        FromGrpcStatus(grpc::Status(pair.grpc_code, "from a peer"));
    EXPECT_EQ(status.code(), pair.absl_code);
    EXPECT_EQ(status.message(), "from a peer");
  }
}

TEST(FromGrpcStatusTest, OkIsOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(FieldErrorTest, IsInvalidArgumentWithFieldColonRule) {
  const absl::Status status =
      FieldError("village.target_level", "must be 0..5, got 7");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "village.target_level: must be 0..5, got 7");
  EXPECT_EQ(FieldError("a.b", "rule").message(), "a.b: rule");
}

// Helpers that use the macros the way service code does.
int calls_after_check = 0;

absl::Status CheckThenCount(absl::Status first) {
  RETURN_IF_ERROR(first);
  ++calls_after_check;
  return absl::OkStatus();
}

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("n: must be even");
  return n / 2;
}

// Declares with ASSIGN_OR_RETURN twice in one scope.
absl::StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

// Assigns into an existing lvalue and moves a move-only value.
absl::StatusOr<std::unique_ptr<int>> Boxed(int n) {
  if (n < 0) return absl::OutOfRangeError("n: must not be negative");
  return std::make_unique<int>(n);
}
absl::Status Unbox(int n, std::unique_ptr<int>* out) {
  ASSIGN_OR_RETURN(*out, Boxed(n));
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, ReturnsTheErrorUnchangedAndStops) {
  calls_after_check = 0;
  EXPECT_THAT(CheckThenCount(absl::NotFoundError("nope")),
              StatusIs(absl::StatusCode::kNotFound, "nope"));
  EXPECT_EQ(calls_after_check, 0);
}

TEST(ReturnIfErrorTest, ContinuesOnOk) {
  calls_after_check = 0;
  EXPECT_OK(CheckThenCount(absl::OkStatus()));
  EXPECT_EQ(calls_after_check, 1);
}

TEST(ReturnIfErrorTest, WorksAsASingleStatementBody) {
  auto run = [](bool fail) -> absl::Status {
    if (fail)
      RETURN_IF_ERROR(absl::AbortedError("x"));
    else
      return absl::OkStatus();
    return absl::UnknownError("unreachable");
  };
  EXPECT_THAT(run(true), StatusIs(absl::StatusCode::kAborted, "x"));
  EXPECT_OK(run(false));
}

TEST(AssignOrReturnTest, DeclaresValuesOnSuccess) {
  EXPECT_THAT(Quarter(12), IsOkAndHolds(3));
}

TEST(AssignOrReturnTest, ReturnsTheFirstError) {
  EXPECT_THAT(Quarter(6),
              StatusIs(absl::StatusCode::kInvalidArgument, "n: must be even"));
  EXPECT_THAT(Quarter(7),
              StatusIs(absl::StatusCode::kInvalidArgument, "n: must be even"));
}

TEST(AssignOrReturnTest, AssignsMoveOnlyValueToExistingLvalue) {
  std::unique_ptr<int> out;
  EXPECT_OK(Unbox(5, &out));
  EXPECT_THAT(out, Pointee(5));
}

TEST(AssignOrReturnTest, LeavesLvalueUntouchedOnError) {
  std::unique_ptr<int> out = std::make_unique<int>(1);
  EXPECT_THAT(Unbox(-1, &out),
              StatusIs(absl::StatusCode::kOutOfRange, "must not be negative"));
  EXPECT_THAT(out, Pointee(1));
}

}  // namespace
}  // namespace fivestar
