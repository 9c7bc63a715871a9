// Tests of common/peer_client.h's PendingPeerCall through real calls to an
// in-process EchoService: a started call answers on Wait, hands its
// bulkhead place back as soon as it ends, reports the peer's failure, and
// a call dropped before Wait is cancelled and waited for.
#include "common/peer_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "tests/common/echo_service.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"

namespace fivestar::testing {
namespace {

constexpr char kToken[] = "peer-token-of-scoring";

using EchoCall = PendingPeerCall<v1::EchoRequest, v1::EchoResponse>;
using EchoAsync = class v1::EchoService::Stub::async;

TokenTable PeerTokens() {
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse(absl::StrCat(Sha256Hex(kToken), " viewer * scoring\n"));
  if (!table.ok()) std::abort();
  return *std::move(table);
}

class PendingPeerCallTest : public ::testing::Test {
 protected:
  PendingPeerCallTest()
      : authenticator_(PeerTokens()),
        service_(&authenticator_),
        server_({{&service_, EchoServiceImpl::FullName()}}),
        stub_(v1::EchoService::NewStub(server_.NewChannel())) {}

  // Starts Echo(`message`, failing with `fail_with_code` unless 0) on
  // `call`, holding a place of `limit`.
  void StartEcho(EchoCall& call, PeerCallLimit& limit,
                 const std::string& message, int fail_with_code = 0) {
    absl::StatusOr<PeerCallLimit::Slot> slot = limit.Acquire("echo", "echo");
    ASSERT_OK(slot.status());
    PreparePeerCall(call.context(), kToken, absl::Seconds(10));
    v1::EchoRequest request;
    request.set_message(message);
    request.set_fail_with_code(fail_with_code);
    call.Start(stub_->async(), &EchoAsync::Echo, std::move(request),
               *std::move(slot));
  }

  Authenticator authenticator_;
  EchoServiceImpl service_;
  TestServer server_;
  std::unique_ptr<v1::EchoService::Stub> stub_;
};

TEST_F(PendingPeerCallTest, AnswersOnWaitAndGivesItsPlaceBack) {
  PeerCallLimit limit(1);
  EchoCall call;
  StartEcho(call, limit, "hi");
  ASSERT_TRUE(call.Wait().ok()) << call.Wait().error_message();
  EXPECT_EQ(call.response().message(), "hi");
  EXPECT_EQ(call.response().principal_name(), "scoring");
  EXPECT_EQ(limit.in_flight(), 0);
}

TEST_F(PendingPeerCallTest, SeveralRunAtOnceAndAnswerInAnyOrderOfWaiting) {
  PeerCallLimit limit(3);
  std::vector<std::unique_ptr<EchoCall>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(std::make_unique<EchoCall>());
    StartEcho(*calls.back(), limit, absl::StrCat("call ", i));
  }
  // Waited for last to first: each has its own answer.
  for (int i = 2; i >= 0; --i) {
    ASSERT_TRUE(calls[i]->Wait().ok());
    EXPECT_EQ(calls[i]->response().message(), absl::StrCat("call ", i));
  }
  EXPECT_EQ(limit.in_flight(), 0);
  EXPECT_EQ(service_.handled_calls(), 3);
}

TEST_F(PendingPeerCallTest, ReportsThePeersFailure) {
  PeerCallLimit limit(1);
  EchoCall call;
  StartEcho(call, limit, "hi", static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(call.Wait().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call.Wait().error_message(), "echo failed as asked");
  EXPECT_THAT(PeerCallError(call.Wait(), "the echo", "echo hi"),
              StatusIs(absl::StatusCode::kNotFound, "echo failed as asked"));
  EXPECT_EQ(limit.in_flight(), 0);
}

TEST_F(PendingPeerCallTest, DroppedBeforeWaitEndsAndGivesItsPlaceBack) {
  PeerCallLimit limit(1);
  {
    EchoCall call;
    StartEcho(call, limit, "never waited for");
    EXPECT_EQ(limit.in_flight(), 1);
  }
  // The destructor cancelled the call and waited for its end, which gave
  // the place back: the one place is free again at once.
  EXPECT_EQ(limit.in_flight(), 0);
  EXPECT_OK(limit.Acquire("echo", "echo").status());
}

TEST_F(PendingPeerCallTest, NeverStartedIsDroppedWithoutWaiting) {
  EchoCall call;  // destroyed unstarted: nothing to cancel or wait for
}

}  // namespace
}  // namespace fivestar::testing
