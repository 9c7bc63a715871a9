// Tests of common/server (ServerHost and the flag readers) and, through it,
// common/metrics: real servers on loopback ports, real health checks with
// the standard grpc.health.v1 stubs, and real HTTP scrapes of /metrics.
#include "common/server.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "common/change_feed.h"
#include "common/invalid_request.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/common/echo_service.h"
#include "tests/testing/http_get.h"
#include "tests/testing/ports.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_server.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(std::string, metrics_host);
ABSL_DECLARE_FLAG(bool, allow_plaintext_remote);
ABSL_DECLARE_FLAG(absl::Duration, shutdown_grace);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(std::string, tokens_file);
ABSL_DECLARE_FLAG(bool, disable_auth);

namespace fivestar::testing {
namespace {

using ::fivestar::testing::HttpGet;
using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// Health status of `service` ("" for the whole server), or the call's error.
absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel);
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.status();
}

std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

class ServerHostTest : public ::testing::Test {
 protected:
  ServerHostTest()
      : authenticator_(Authenticator::Disabled()), echo_(&authenticator_) {}

  ServerConfig Config() const {
    ServerConfig config;
    config.name = "test";
    config.listen_address = "127.0.0.1:0";
    config.shutdown_grace = absl::Seconds(2);
    return config;
  }

  std::vector<HostedService> Services() {
    return {{&echo_, EchoServiceImpl::FullName()}};
  }

  Authenticator authenticator_;
  EchoServiceImpl echo_;
};

TEST_F(ServerHostTest, StartsOnAFreePortWithoutMetricsByDefault) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  EXPECT_GT(host->port(), 0);
  EXPECT_EQ(host->metrics_port(), 0);
}

TEST_F(ServerHostTest, ReportsNotServingUntilSetServing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  auto channel = ChannelTo(host->port());
  EXPECT_THAT(CheckHealth(channel, ""),
              IsOkAndHolds(HealthCheckResponse::NOT_SERVING));
  EXPECT_THAT(CheckHealth(channel, EchoServiceImpl::FullName()),
              IsOkAndHolds(HealthCheckResponse::NOT_SERVING));

  host->SetServing(true);
  EXPECT_THAT(CheckHealth(channel, ""),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(channel, "fivestar.testing.v1.EchoService"),
              IsOkAndHolds(HealthCheckResponse::SERVING));

  host->SetServing(false);
  EXPECT_THAT(CheckHealth(channel, ""),
              IsOkAndHolds(HealthCheckResponse::NOT_SERVING));
  EXPECT_THAT(CheckHealth(channel, EchoServiceImpl::FullName()),
              IsOkAndHolds(HealthCheckResponse::NOT_SERVING));
}

TEST_F(ServerHostTest, HealthOfUnhostedServiceIsNotFound) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  host->SetServing(true);
  EXPECT_THAT(CheckHealth(ChannelTo(host->port()), "no.such.Service"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(ServerHostTest, HostedServiceAnswersCalls) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  auto stub = v1::EchoService::NewStub(ChannelTo(host->port()));
  v1::EchoRequest request;
  request.set_message("回车镇");
  v1::EchoResponse response;
  ASSERT_OK(stub->Echo(NewContext().get(), request, &response));
  EXPECT_EQ(response.message(), "回车镇");
}

TEST_F(ServerHostTest, PortInUseIsUnavailable) {
  HeldPort held;
  ServerConfig config = Config();
  config.listen_address = absl::StrCat("127.0.0.1:", held.port());
  EXPECT_THAT(
      ServerHost::Start(config, Services()),
      StatusIs(absl::StatusCode::kUnavailable,
               absl::StrCat("cannot listen on 127.0.0.1:", held.port())));
}

TEST_F(ServerHostTest, SecondServerOnTheSamePortFailsToStart) {
  // gRPC servers set SO_REUSEPORT unless told not to: two of them on one
  // port would both serve, each taking part of the connections.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> first,
                       ServerHost::Start(Config(), Services()));
  ServerConfig config = Config();
  config.listen_address = absl::StrCat("127.0.0.1:", first->port());
  EXPECT_THAT(ServerHost::Start(config, Services()),
              StatusIs(absl::StatusCode::kUnavailable,
                       absl::StrCat("cannot listen on 127.0.0.1:",
                                    first->port(), ": the port is in use")));
}

TEST_F(ServerHostTest, MetricsPortInUseIsUnavailable) {
  HeldPort held;
  ServerConfig config = Config();
  config.metrics_address = absl::StrCat("127.0.0.1:", held.port());
  EXPECT_THAT(
      ServerHost::Start(config, Services()),
      StatusIs(absl::StatusCode::kUnavailable,
               absl::StrCat("metrics endpoint 127.0.0.1:", held.port())));
}

TEST_F(ServerHostTest, AfterShutdownNewCallsAreUnavailable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  host->SetServing(true);
  const int port = host->port();
  auto channel = ChannelTo(port);
  ASSERT_THAT(CheckHealth(channel, ""),
              IsOkAndHolds(HealthCheckResponse::SERVING));

  host->Shutdown();
  host->Shutdown();  // Idempotent.

  EXPECT_THAT(CheckHealth(channel, ""),
              StatusIs(absl::StatusCode::kUnavailable, ""));
  EXPECT_THAT(CheckHealth(ChannelTo(port), ""),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(ServerHostTest, DuringTheDrainDelayHealthIsNotServingButCallsWork) {
  ServerConfig config = Config();
  config.drain_delay = absl::Seconds(3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(config, Services()));
  host->SetServing(true);
  auto channel = ChannelTo(host->port());
  ASSERT_THAT(CheckHealth(channel, EchoServiceImpl::FullName()),
              IsOkAndHolds(HealthCheckResponse::SERVING));

  std::thread stopper([&host] { host->Shutdown(); });
  // Shutdown() flips health first; wait (bounded) until a check sees it.
  absl::StatusOr<HealthCheckResponse::ServingStatus> health;
  for (int i = 0; i < 200; ++i) {
    health = CheckHealth(channel, EchoServiceImpl::FullName());
    if (!health.ok() || *health != HealthCheckResponse::SERVING) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(health, IsOkAndHolds(HealthCheckResponse::NOT_SERVING));
  // Still inside the delay: the server answers calls.
  auto stub = v1::EchoService::NewStub(channel);
  v1::EchoRequest request;
  v1::EchoResponse response;
  EXPECT_OK(stub->Echo(NewContext().get(), request, &response));
  stopper.join();
  EXPECT_THAT(CheckHealth(channel, ""),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

// Calls `method` with `bytes` as the request, as a client that is not
// ours (or a hostile one) may; returns the call's status.
grpc::Status CallWithRawRequest(int port, const std::string& method,
                                const std::string& bytes) {
  grpc::GenericStub stub(ChannelTo(port));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue queue;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context.get(), method, request, &queue);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!queue.Next(&tag, &ok) || !ok) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the call did not end");
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return status;
}

TEST_F(ServerHostTest,
       ARequestThatDoesNotParseIsInvalidArgumentNotUnimplemented) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(Config(), Services()));
  const std::string method = "/fivestar.testing.v1.EchoService/Echo";
  const std::string want =
      "the request does not parse as fivestar.testing.v1.EchoRequest (e.g. a "
      "string that is not valid UTF-8); nothing was done";
  // Field 1 (message, a string) holding 0xC3 0x28, which is not UTF-8.
  const std::string bad_utf8("\x0a\x02\xc3\x28", 4);
  // A field 1 that claims 100 bytes and has 1.
  const std::string truncated("\x0a\x64\x41", 3);
  const std::string garbage("\xff\xff\xff", 3);
  for (const std::string& bytes : {bad_utf8, truncated, garbage}) {
    EXPECT_THAT(CallWithRawRequest(host->port(), method, bytes),
                StatusIs(absl::StatusCode::kInvalidArgument, want));
  }
  EXPECT_EQ(echo_.handled_calls(), 0);
  // The same bytes with a valid string reach the handler.
  EXPECT_OK(
      CallWithRawRequest(host->port(), method, std::string("\x0a\x02ok", 4)));
  EXPECT_EQ(echo_.handled_calls(), 1);
  // A method that does not exist is still UNIMPLEMENTED.
  EXPECT_THAT(CallWithRawRequest(host->port(),
                                 "/fivestar.testing.v1.EchoService/Nothing",
                                 std::string("\x0a\x02ok", 4)),
              StatusIs(absl::StatusCode::kUnimplemented, ""));
}

TEST(InvalidRequestMessageTest, NamesTheRequestTypeOrSaysItIsUnknown) {
  EXPECT_EQ(InvalidRequestMessage("/grpc.health.v1.Health/Check"),
            "the request does not parse as grpc.health.v1.HealthCheckRequest "
            "(e.g. a string that is not valid UTF-8); nothing was done");
  EXPECT_EQ(InvalidRequestMessage("/no.Such/Method"),
            "the request does not parse as the method's request type (e.g. a "
            "string that is not valid UTF-8); nothing was done");
}

class ServerMetricsTest : public ServerHostTest {
 protected:
  void SetUp() override {
    ServerConfig config = Config();
    config.metrics_address = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(host_, ServerHost::Start(config, Services()));
    host_->SetServing(true);
    ASSERT_GT(host_->metrics_port(), 0);
  }

  std::string Scrape() { return HttpGet(host_->metrics_port(), "/metrics"); }

  std::unique_ptr<ServerHost> host_;
};

TEST_F(ServerMetricsTest, CountsAHealthCheckByMethodAndCode) {
  EXPECT_THAT(Scrape(), Not(HasSubstr("/grpc.health.v1.Health/Check")));
  ASSERT_THAT(CheckHealth(ChannelTo(host_->port()), ""),
              IsOkAndHolds(HealthCheckResponse::SERVING));

  const std::string response = Scrape();
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response,
              HasSubstr("\nfivestar_grpc_server_handled_total{code=\"OK\","
                        "method=\"/grpc.health.v1.Health/Check\"} 1\n"));
  EXPECT_THAT(response,
              HasSubstr("\nfivestar_grpc_server_handling_seconds_count{"
                        "method=\"/grpc.health.v1.Health/Check\"} 1\n"));
}

TEST_F(ServerMetricsTest, CountsARequestThatDoesNotParseAsInvalidArgument) {
  EXPECT_THAT(
      CallWithRawRequest(host_->port(), "/fivestar.testing.v1.EchoService/Echo",
                         std::string("\xff\xff", 2)),
      StatusIs(absl::StatusCode::kInvalidArgument, "does not parse"));
  EXPECT_THAT(Scrape(),
              HasSubstr("\nfivestar_grpc_server_handled_total{code=\""
                        "INVALID_ARGUMENT\",method=\"/fivestar.testing.v1."
                        "EchoService/Echo\"} 1\n"));
}

TEST_F(ServerMetricsTest, CountsFailuresUnderTheirCode) {
  auto stub = v1::EchoService::NewStub(ChannelTo(host_->port()));
  v1::EchoRequest request;
  v1::EchoResponse response;
  ASSERT_OK(stub->Echo(NewContext().get(), request, &response));
  request.set_fail_with_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(stub->Echo(NewContext().get(), request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  const std::string scrape = Scrape();
  EXPECT_THAT(scrape,
              HasSubstr("\nfivestar_grpc_server_handled_total{code=\"OK\","
                        "method=\"/fivestar.testing.v1.EchoService/Echo\"} "
                        "1\n"));
  EXPECT_THAT(scrape,
              HasSubstr("\nfivestar_grpc_server_handled_total{code=\"NOT_"
                        "FOUND\",method=\"/fivestar.testing.v1.EchoService/"
                        "Echo\"} 2\n"));
  EXPECT_THAT(scrape,
              HasSubstr("\nfivestar_grpc_server_handling_seconds_count{"
                        "method=\"/fivestar.testing.v1.EchoService/Echo\"} "
                        "3\n"));
}

TEST_F(ServerMetricsTest, ServesExposedMetricsWhileTheyLive) {
  auto feed = std::make_unique<FeedNotifier>("test", 7);
  host_->metrics().Expose(feed->metrics());
  EXPECT_THAT(Scrape(),
              HasSubstr("\nfivestar_feed_newest_sequence{feed=\"test\"} 7\n"));
  feed->Published(9);
  EXPECT_THAT(Scrape(),
              HasSubstr("\nfivestar_feed_newest_sequence{feed=\"test\"} 9\n"));
  feed.reset();
  const std::string scrape = Scrape();
  EXPECT_THAT(scrape, HasSubstr("200 OK"));
  EXPECT_THAT(scrape, Not(HasSubstr("fivestar_feed_newest_sequence")));
}

TEST(StatusCodeNameTest, NamesEveryCodeAsGoogleRpcCode) {
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::INVALID_ARGUMENT),
               "INVALID_ARGUMENT");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED),
               "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

// The flag readers. FlagSaver restores every flag after each test.
class ServerFlagsTest : public ::testing::Test {
 protected:
  absl::FlagSaver saver_;
};

TEST_F(ServerFlagsTest, DefaultsListenOnLoopbackWithMetrics) {
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("registry"));
  EXPECT_EQ(config.name, "registry");
  EXPECT_EQ(config.listen_address, "127.0.0.1:50051");
  EXPECT_EQ(config.metrics_address, "127.0.0.1:9090");
  EXPECT_EQ(config.shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(config.credentials, nullptr);
}

TEST_F(ServerFlagsTest, PlaintextOnANonLoopbackHostIsRefusedUnlessAllowed) {
  for (const char* host : {"0.0.0.0", "::", "192.0.2.7", "fivestar.example"}) {
    absl::SetFlag(&FLAGS_host, host);
    absl::SetFlag(&FLAGS_allow_plaintext_remote, false);
    EXPECT_THAT(
        ServerConfigFromFlags("registry"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("host: ", host,
                              " is not a loopback address and TLS is off; "
                              "configure TLS, or pass --allow_plaintext_remote "
                              "to serve plaintext gRPC on it")))
        << host;
    absl::SetFlag(&FLAGS_allow_plaintext_remote, true);
    ASSERT_OK_AND_ASSIGN(ServerConfig config,
                         ServerConfigFromFlags("registry"));
    EXPECT_EQ(config.listen_address, HostPort(host, 50051));
  }
}

TEST_F(ServerFlagsTest, MetricsHostIsItsOwnFlag) {
  absl::SetFlag(&FLAGS_metrics_host, "0.0.0.0");
  absl::SetFlag(&FLAGS_metrics_port, 9100);
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("registry"));
  EXPECT_EQ(config.listen_address, "127.0.0.1:50051");
  EXPECT_EQ(config.metrics_address, "0.0.0.0:9100");
}

TEST_F(ServerFlagsTest, EmptyHostsAreInvalid) {
  absl::SetFlag(&FLAGS_host, "");
  EXPECT_THAT(
      ServerConfigFromFlags("registry"),
      StatusIs(absl::StatusCode::kInvalidArgument, "host: must not be empty"));
  absl::SetFlag(&FLAGS_host, "127.0.0.1");
  absl::SetFlag(&FLAGS_metrics_host, "");
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "metrics_host: must not be empty"));
}

TEST(IsLoopbackHostTest, NamesOnlyThisHostsLoopback) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "LocalHost",
                           "::1", "[::1]", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "128.0.0.1", "10.0.0.1",
                           "::ffff:10.0.0.1", "localhost.example", "", "[::"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(HostPortTest, BracketsIpv6Literals) {
  EXPECT_EQ(HostPort("127.0.0.1", 50051), "127.0.0.1:50051");
  EXPECT_EQ(HostPort("::1", 0), "[::1]:0");
  EXPECT_EQ(HostPort("[::1]", 9090), "[::1]:9090");
  EXPECT_EQ(HostPort("registry", 50051), "registry:50051");
}

TEST_F(ServerFlagsTest, HostPortAndMetricsPortAreCombined) {
  absl::SetFlag(&FLAGS_host, "127.0.0.1");
  absl::SetFlag(&FLAGS_port, 0);
  absl::SetFlag(&FLAGS_metrics_port, 9100);
  absl::SetFlag(&FLAGS_shutdown_grace, absl::Milliseconds(1500));
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("scoring"));
  EXPECT_EQ(config.listen_address, "127.0.0.1:0");
  EXPECT_EQ(config.metrics_address, "127.0.0.1:9100");
  EXPECT_EQ(config.shutdown_grace, absl::Milliseconds(1500));
}

TEST_F(ServerFlagsTest, Ipv6HostIsBracketed) {
  absl::SetFlag(&FLAGS_host, "::1");
  absl::SetFlag(&FLAGS_metrics_host, "::1");
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("registry"));
  EXPECT_EQ(config.listen_address, "[::1]:50051");
  EXPECT_EQ(config.metrics_address, "[::1]:9090");
}

TEST_F(ServerFlagsTest, MetricsPortMinusOneServesNoMetrics) {
  absl::SetFlag(&FLAGS_metrics_port, -1);
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("registry"));
  EXPECT_EQ(config.metrics_address, "");
}

TEST_F(ServerFlagsTest, OutOfRangePortsAreInvalid) {
  absl::SetFlag(&FLAGS_port, 65536);
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "port: must be 0..65535, got 65536"));
  absl::SetFlag(&FLAGS_port, -1);
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "port: must be 0..65535, got -1"));
  absl::SetFlag(&FLAGS_port, 50051);
  absl::SetFlag(&FLAGS_metrics_port, -2);
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "metrics_port: must be -1 (off) or 0..65535, got -2"));
}

TEST_F(ServerFlagsTest, NegativeShutdownGraceIsInvalid) {
  absl::SetFlag(&FLAGS_shutdown_grace, absl::Seconds(-1));
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "shutdown_grace: must not be negative"));
}

TEST_F(ServerFlagsTest, UnknownLogLevelIsInvalid) {
  absl::SetFlag(&FLAGS_log_level, "chatty");
  EXPECT_THAT(ServerConfigFromFlags("registry"),
              StatusIs(absl::StatusCode::kInvalidArgument, "chatty"));
}

TEST_F(ServerFlagsTest, AuthIsRequiredByDefault) {
  EXPECT_THAT(
      AuthenticatorFromFlags(),
      StatusIs(absl::StatusCode::kInvalidArgument, "tokens_file: required"));
}

TEST_F(ServerFlagsTest, DisableAuthGivesDisabledAuthenticator) {
  absl::SetFlag(&FLAGS_disable_auth, true);
  ASSERT_OK_AND_ASSIGN(Authenticator authenticator, AuthenticatorFromFlags());
  EXPECT_FALSE(authenticator.enabled());
}

TEST_F(ServerFlagsTest, DisableAuthWithTokensFileIsInvalid) {
  absl::SetFlag(&FLAGS_disable_auth, true);
  absl::SetFlag(&FLAGS_tokens_file, "/etc/fivestar/tokens");
  EXPECT_THAT(AuthenticatorFromFlags(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "disable_auth: cannot be combined with --tokens_file"));
}

TEST_F(ServerFlagsTest, TokensFileIsLoaded) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(absl::StrCat(Sha256Hex("t"), " viewer * v\n").c_str(), file);
  std::fclose(file);
  absl::SetFlag(&FLAGS_tokens_file, path);
  ASSERT_OK_AND_ASSIGN(Authenticator authenticator, AuthenticatorFromFlags());
  EXPECT_TRUE(authenticator.enabled());
}

TEST_F(ServerFlagsTest, MissingTokensFileIsNotFound) {
  TempDir dir;
  absl::SetFlag(&FLAGS_tokens_file, dir.File("absent"));
  EXPECT_THAT(AuthenticatorFromFlags(),
              StatusIs(absl::StatusCode::kNotFound, "cannot be read"));
}

}  // namespace
}  // namespace fivestar::testing
