#include "tests/testing/test_server.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace fivestar::testing {

ServerConfig TestServerConfig(bool serve_metrics) {
  ServerConfig config;
  config.name = "test";
  config.listen_address = "127.0.0.1:0";
  if (serve_metrics) config.metrics_address = "127.0.0.1:0";
  config.shutdown_grace = absl::Seconds(2);
  return config;
}

TestServer::TestServer(const std::vector<HostedService>& services,
                       bool serve_metrics) {
  absl::StatusOr<std::unique_ptr<ServerHost>> host =
      ServerHost::Start(TestServerConfig(serve_metrics), services);
  if (!host.ok()) {
    std::fprintf(stderr, "test server failed to start: %s\n",
                 host.status().ToString().c_str());
    std::abort();
  }
  host_ = *std::move(host);
  host_->SetServing(true);
}

TestServer::~TestServer() { Shutdown(); }

void TestServer::Shutdown() { host_->Shutdown(); }

std::string TestServer::address() const {
  return absl::StrCat("127.0.0.1:", port());
}

std::shared_ptr<grpc::Channel> TestServer::NewChannel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> NewContext(const std::string& token,
                                                absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  return context;
}

}  // namespace fivestar::testing
