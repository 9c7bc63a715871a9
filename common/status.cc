#include "common/status.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

namespace fivestar {
namespace {

// 16 hex digits, unique enough to find one line in a server's log.
std::string NewRequestId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return absl::StrFormat("%016x", generator());
}

constexpr absl::string_view kRequestIdPrefix = "internal error (request id ";

}  // namespace

bool IsServerFault(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal ||
         code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  if (IsServerFault(status.code())) {
    const std::string request_id = NewRequestId();
    spdlog::error("msg=server_fault request_id={} code={} error={}", request_id,
                  absl::StatusCodeToString(status.code()),
                  LogValue(status.message()));
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                        absl::StrCat(kRequestIdPrefix, request_id,
                                     "); the server's log has the details"));
  }
  // absl::StatusCode and grpc::StatusCode share their numeric values (both
  // follow google.rpc.Code), so the cast is exact.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

std::string ServerRequestIdOf(const grpc::Status& status) {
  if (!IsServerFault(static_cast<absl::StatusCode>(status.error_code()))) {
    return std::string();
  }
  // grpc::Status::error_message() returns a copy: keep it alive.
  const std::string text = status.error_message();
  absl::string_view message = text;
  if (!absl::ConsumePrefix(&message, kRequestIdPrefix)) return std::string();
  return std::string(message.substr(0, message.find(')')));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::Status FieldError(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

absl::Status EtagMismatchError(absl::string_view kind, absl::string_view id) {
  return absl::AbortedError(
      absl::StrCat(kind, " ", id,
                   " was changed by someone else (etag mismatch); read it "
                   "again and retry"));
}

absl::Status CheckEtag(absl::string_view kind, absl::string_view id,
                       absl::string_view given, absl::string_view current) {
  if (given.empty() || given == current) return absl::OkStatus();
  return EtagMismatchError(kind, id);
}

}  // namespace fivestar
