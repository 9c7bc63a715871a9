// Runs real gRPC services in-process on a loopback port chosen by the
// kernel, the way production runs them (same ServerHost: health,
// reflection, metrics interceptor), and makes client channels to them.
#ifndef FIVESTAR_TESTS_TESTING_TEST_SERVER_H_
#define FIVESTAR_TESTS_TESTING_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/server.h"

namespace fivestar::testing {

// How a test server listens: 127.0.0.1:0, metrics on a free port when
// asked, a 2 s grace period, the production number of handler threads.
ServerConfig TestServerConfig(bool serve_metrics = false);

class TestServer {
 public:
  // Starts `services` on 127.0.0.1:0 and marks them serving. Aborts the
  // test binary if the server cannot start.
  explicit TestServer(const std::vector<HostedService>& services,
                      bool serve_metrics = false);
  ~TestServer();

  int port() const { return host_->port(); }
  std::string address() const;
  ServerHost& host() { return *host_; }
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // Drains and stops the server now (also done by the destructor).
  void Shutdown();

 private:
  std::unique_ptr<ServerHost> host_;
};

// A client context with a deadline and, when `token` is not empty, the
// "authorization: Bearer <token>" metadata.
std::unique_ptr<grpc::ClientContext> NewContext(
    const std::string& token = "", absl::Duration deadline = absl::Seconds(10));

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_TEST_SERVER_H_
