// The audit interceptor and writer on a real gRPC server (the Echo service
// of tests/common): the status waits for the audit write, a failed audit
// write leaves the call's outcome alone and is counted, and a server
// fault's request id is kept. The SQLite store and the services' write
// lists are tested with the services (tests/registry/registry_audit_test.cc).
#include "common/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/server.h"
#include "tests/common/echo_service.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"

namespace fivestar {
namespace {

using ::fivestar::testing::EchoServiceImpl;
using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
namespace v1 = ::fivestar::testing::v1;

// Keeps events in memory; can fail every append, or hold the first one
// until released.
class FakeAuditStore final : public AuditStore {
 public:
  absl::Status Append(absl::Span<const audit::v1::AuditEvent> events) override {
    if (hold_) {
      entered_.Notify();
      released_.WaitForNotification();
    }
    absl::MutexLock lock(&mu_);
    if (fail_) return absl::UnavailableError("disk unplugged");
    events_.insert(events_.end(), events.begin(), events.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<audit::v1::AuditEvent>> List(
      const AuditQuery&) override {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  std::vector<audit::v1::AuditEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  bool fail_ = false;
  bool hold_ = false;
  absl::Notification entered_;
  absl::Notification released_;

 private:
  absl::Mutex mu_;
  std::vector<audit::v1::AuditEvent> events_;
};

constexpr char kEchoMethod[] = "/fivestar.testing.v1.EchoService/Echo";

class AuditInterceptorTest : public ::testing::Test {
 protected:
  AuditInterceptorTest()
      : authenticator_(Authenticator::Disabled()),
        clock_(absl::FromUnixSeconds(1664539200)),
        echo_(&authenticator_) {}

  void Start() {
    ServerConfig config;
    config.name = "audit-test";
    config.shutdown_grace = absl::Seconds(2);
    ServerAudit audit{&store_, &authenticator_, &clock_, {kEchoMethod}};
    absl::StatusOr<std::unique_ptr<ServerHost>> host = ServerHost::Start(
        config, {{&echo_, EchoServiceImpl::FullName()}}, &audit);
    ASSERT_OK(host.status());
    host_ = *std::move(host);
    stub_ = v1::EchoService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", host_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  grpc::Status Echo(int fail_with_code = 0) {
    v1::EchoRequest request;
    request.set_message("回车镇");
    request.set_fail_with_code(fail_with_code);
    v1::EchoResponse response;
    return stub_->Echo(NewContext().get(), request, &response);
  }

  Authenticator authenticator_;
  FakeClock clock_;
  FakeAuditStore store_;
  EchoServiceImpl echo_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<v1::EchoService::Stub> stub_;
};

TEST_F(AuditInterceptorTest, StatusIsSentOnlyAfterTheAuditEventIsStored) {
  store_.hold_ = true;
  Start();
  v1::EchoRequest request;
  request.set_message("held");
  v1::EchoResponse response;
  auto context = NewContext();
  absl::Notification done;
  grpc::Status status;
  stub_->async()->Echo(context.get(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  // The handler has answered and the event is being written: the client
  // must not have its answer yet.
  store_.entered_.WaitForNotification();
  EXPECT_FALSE(done.HasBeenNotified());
  store_.released_.Notify();
  done.WaitForNotification();
  EXPECT_OK(status);
  EXPECT_EQ(response.message(), "held");
  ASSERT_EQ(store_.events().size(), 1u);
}

TEST_F(AuditInterceptorTest, EventHoldsTheCallerMethodPeerAndOutcome) {
  Start();
  ASSERT_OK(Echo());
  EXPECT_THAT(
      Echo(grpc::FAILED_PRECONDITION),
      StatusIs(absl::StatusCode::kFailedPrecondition, "echo failed as asked"));
  std::vector<audit::v1::AuditEvent> events = store_.events();
  ASSERT_EQ(events.size(), 2u);
  const audit::v1::AuditEvent& ok = events[0];
  EXPECT_EQ(ok.principal(), "anonymous");
  EXPECT_EQ(ok.role(), "admin");
  EXPECT_EQ(ok.scope(), "*");
  EXPECT_EQ(ok.method(), kEchoMethod);
  EXPECT_EQ(ok.event_time().seconds(), 1664539200);
  EXPECT_THAT(ok.peer(), ::testing::StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(ok.outcome_code(), "OK");
  EXPECT_EQ(ok.outcome_message(), "");
  EXPECT_TRUE(ok.target().empty());  // EchoRequest names nothing.
  EXPECT_EQ(ok.request_id(), "");
  EXPECT_EQ(ok.server_request_id(), "");
  EXPECT_EQ(events[1].outcome_code(), "FAILED_PRECONDITION");
  EXPECT_EQ(events[1].outcome_message(), "echo failed as asked");
}

TEST_F(AuditInterceptorTest, ServerFaultKeepsTheRequestIdOfTheLog) {
  Start();
  grpc::Status status = Echo(grpc::INTERNAL);
  ASSERT_EQ(status.error_code(), grpc::INTERNAL);
  std::vector<audit::v1::AuditEvent> events = store_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].server_request_id().size(), 16u)
      << events[0].DebugString();
  EXPECT_EQ(
      status.error_message(),
      absl::StrCat("internal error (request id ", events[0].server_request_id(),
                   "); the server's log has the details"));
}

TEST_F(AuditInterceptorTest, FailedAuditWriteKeepsTheOutcomeAndIsCounted) {
  store_.fail_ = true;
  Start();
  EXPECT_OK(Echo());
  EXPECT_THAT(Echo(grpc::NOT_FOUND),
              StatusIs(absl::StatusCode::kNotFound, "echo failed as asked"));
  EXPECT_EQ(host_->audit_log()->write_failures(), 2);
}

TEST(AuditStatusCodeTest, NamesRoundTrip) {
  EXPECT_EQ(StatusCodeFromName("OK"), grpc::OK);
  EXPECT_EQ(StatusCodeFromName("PERMISSION_DENIED"), grpc::PERMISSION_DENIED);
  EXPECT_EQ(StatusCodeFromName("UNAUTHENTICATED"), grpc::UNAUTHENTICATED);
  EXPECT_EQ(StatusCodeFromName("permission_denied"), std::nullopt);
  EXPECT_EQ(StatusCodeFromName(""), std::nullopt);
}

}  // namespace
}  // namespace fivestar
