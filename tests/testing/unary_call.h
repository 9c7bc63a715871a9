// One unary call on any service's stub as the holder of a token, with the
// answer as absl::StatusOr (the tests' way of asserting exact codes).
#ifndef FIVESTAR_TESTS_TESTING_UNARY_CALL_H_
#define FIVESTAR_TESTS_TESTING_UNARY_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "tests/testing/test_server.h"

namespace fivestar::testing {

// Calls `method` of `stub` with `request` as the holder of `token` (none
// when empty), with NewContext's deadline.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> UnaryCall(
    Stub& stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, const std::string& token) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(token);
  Response response;
  grpc::Status status = (stub.*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_UNARY_CALL_H_
