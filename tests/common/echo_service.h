// EchoService (tests/common/testdata/.../echo.proto) served through the same
// RunUnary hook as the real services, so tests of common/ can make real calls
// that authenticate, succeed or fail with a chosen code.
#ifndef FIVESTAR_TESTS_COMMON_ECHO_SERVICE_H_
#define FIVESTAR_TESTS_COMMON_ECHO_SERVICE_H_

#include <atomic>
#include <string>

#include "common/auth.h"
#include "common/executor.h"
#include "fivestar/testing/v1/echo.grpc.pb.h"

namespace fivestar::testing {

// Answers Echo with the request's message and the caller's principal, or
// fails with the requested code (message "echo failed as asked").
class EchoServiceImpl final : public v1::EchoService::CallbackService {
 public:
  // `authenticator` is not owned and must outlive the service.
  explicit EchoServiceImpl(const Authenticator* authenticator)
      : authenticator_(authenticator), executor_(2, "echo-rpc") {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override;

  // Calls that reached the handler (i.e. were authenticated).
  int handled_calls() const { return handled_calls_.load(); }

  static std::string FullName() { return v1::EchoService::service_full_name(); }

 private:
  const Authenticator* authenticator_;
  std::atomic<int> handled_calls_{0};
  Executor executor_;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_COMMON_ECHO_SERVICE_H_
