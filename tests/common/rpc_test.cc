// Tests of common/rpc.h (RunUnary) and Authenticator::Authenticate, through
// real calls to an in-process server: what a client sends in its metadata
// decides whether the handler runs and as whom.
#include "common/rpc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "tests/common/echo_service.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"

namespace fivestar::testing {
namespace {

constexpr char kToken[] = "s3cret-token-of-huiche";

TokenTable HuicheTokens() {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(absl::StrCat(
      Sha256Hex(kToken), " operator 411323-huiche huiche-office\n"));
  if (!table.ok()) std::abort();
  return *std::move(table);
}

class RunUnaryTest : public ::testing::Test {
 protected:
  explicit RunUnaryTest(
      Authenticator authenticator = Authenticator(HuicheTokens()))
      : authenticator_(std::move(authenticator)),
        service_(&authenticator_),
        server_({{&service_, EchoServiceImpl::FullName()}}),
        stub_(v1::EchoService::NewStub(server_.NewChannel())) {}

  // Calls Echo("hi") with `authorization` as the metadata value (none when
  // empty).
  grpc::Status EchoWithAuthorization(const std::string& authorization,
                                     v1::EchoResponse* response) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    if (!authorization.empty()) {
      context->AddMetadata("authorization", authorization);
    }
    v1::EchoRequest request;
    request.set_message("hi");
    return stub_->Echo(context.get(), request, response);
  }

  Authenticator authenticator_;
  EchoServiceImpl service_;
  TestServer server_;
  std::unique_ptr<v1::EchoService::Stub> stub_;
};

TEST_F(RunUnaryTest, KnownBearerTokenRunsHandlerAsItsPrincipal) {
  v1::EchoResponse response;
  ASSERT_OK(EchoWithAuthorization(absl::StrCat("Bearer ", kToken), &response));
  EXPECT_EQ(response.message(), "hi");
  EXPECT_EQ(response.principal_name(), "huiche-office");
  EXPECT_EQ(response.principal_scope(), "411323-huiche");
  EXPECT_EQ(response.principal_role(), "operator");
  EXPECT_EQ(service_.handled_calls(), 1);
}

TEST_F(RunUnaryTest, SchemeNameIsCaseInsensitive) {
  for (const char* scheme : {"bearer ", "BEARER ", "BeArEr "}) {
    SCOPED_TRACE(scheme);
    v1::EchoResponse response;
    ASSERT_OK(EchoWithAuthorization(absl::StrCat(scheme, kToken), &response));
    EXPECT_EQ(response.principal_name(), "huiche-office");
  }
}

TEST_F(RunUnaryTest, MissingAuthorizationIsUnauthenticatedAndSkipsHandler) {
  v1::EchoResponse response;
  EXPECT_THAT(EchoWithAuthorization("", &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "missing \"authorization: Bearer <token>\" metadata"));
  EXPECT_EQ(service_.handled_calls(), 0);
}

TEST_F(RunUnaryTest, UnknownTokenIsUnauthenticatedAndSkipsHandler) {
  v1::EchoResponse response;
  EXPECT_THAT(
      EchoWithAuthorization("Bearer not-a-known-token", &response),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
  EXPECT_EQ(service_.handled_calls(), 0);
}

TEST_F(RunUnaryTest, TokenHashInsteadOfTokenIsUnauthenticated) {
  v1::EchoResponse response;
  EXPECT_THAT(
      EchoWithAuthorization(absl::StrCat("Bearer ", Sha256Hex(kToken)),
                            &response),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
}

TEST_F(RunUnaryTest, OtherSchemeIsUnauthenticatedAndSkipsHandler) {
  v1::EchoResponse response;
  EXPECT_THAT(EchoWithAuthorization(absl::StrCat("Basic ", kToken), &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "authorization metadata must be \"Bearer <token>\""));
  EXPECT_THAT(EchoWithAuthorization(kToken, &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "must be \"Bearer <token>\""));
  EXPECT_EQ(service_.handled_calls(), 0);
}

TEST_F(RunUnaryTest, BearerWithoutTokenIsUnauthenticated) {
  v1::EchoResponse response;
  EXPECT_THAT(EchoWithAuthorization("Bearer", &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "must be \"Bearer <token>\""));
  EXPECT_THAT(EchoWithAuthorization("Bearer ", &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "must be \"Bearer <token>\""));
  EXPECT_EQ(service_.handled_calls(), 0);
}

TEST_F(RunUnaryTest, TwoAuthorizationEntriesAreUnauthenticated) {
  // Even when both carry the same known token: which of two a proxy or a
  // server reads is not defined, so neither is trusted.
  for (const char* second : {"Bearer not-a-known-token", ""}) {
    SCOPED_TRACE(second);
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    context->AddMetadata("authorization", *second == '\0'
                                              ? absl::StrCat("Bearer ", kToken)
                                              : std::string(second));
    v1::EchoRequest request;
    v1::EchoResponse response;
    EXPECT_THAT(stub_->Echo(context.get(), request, &response),
                StatusIs(absl::StatusCode::kUnauthenticated,
                         "more than one \"authorization\" metadata entry; "
                         "send exactly one"));
  }
  EXPECT_EQ(service_.handled_calls(), 0);
}

TEST_F(RunUnaryTest, ReplacedTokensTakeEffectOnTheNextCall) {
  constexpr char kNewToken[] = "new-token-of-the-county";
  ASSERT_OK_AND_ASSIGN(TokenTable replacement,
                       TokenTable::Parse(absl::StrCat(
                           Sha256Hex(kNewToken), " viewer 411323 county\n")));
  authenticator_.token_store()->Set(std::move(replacement));
  v1::EchoResponse response;
  EXPECT_THAT(
      EchoWithAuthorization(absl::StrCat("Bearer ", kToken), &response),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
  ASSERT_OK(
      EchoWithAuthorization(absl::StrCat("Bearer ", kNewToken), &response));
  EXPECT_EQ(response.principal_name(), "county");
  EXPECT_EQ(response.principal_role(), "viewer");
}

TEST_F(RunUnaryTest, HandlerErrorReachesClientWithCodeAndMessage) {
  for (int code = 1; code <= 16; ++code) {
    SCOPED_TRACE(code);
    std::unique_ptr<grpc::ClientContext> context = NewContext(kToken);
    v1::EchoRequest request;
    request.set_fail_with_code(code);
    v1::EchoResponse response;
    grpc::Status status = stub_->Echo(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), static_cast<grpc::StatusCode>(code));
    if (IsServerFault(static_cast<absl::StatusCode>(code))) {
      EXPECT_THAT(status.error_message(),
                  ::testing::StartsWith("internal error (request id "));
    } else {
      EXPECT_EQ(status.error_message(), "echo failed as asked");
    }
  }
  EXPECT_EQ(service_.handled_calls(), 16);
}

class RunUnaryWithoutAuthTest : public RunUnaryTest {
 protected:
  RunUnaryWithoutAuthTest() : RunUnaryTest(Authenticator::Disabled()) {}
};

TEST_F(RunUnaryWithoutAuthTest, AnyCallerActsAsAnonymousGlobalAdmin) {
  v1::EchoResponse response;
  ASSERT_OK(EchoWithAuthorization("", &response));
  EXPECT_EQ(response.principal_name(), "anonymous");
  EXPECT_EQ(response.principal_role(), "admin");
  EXPECT_EQ(response.principal_scope(), kGlobalScope);
}

TEST_F(RunUnaryWithoutAuthTest, TokensAreIgnored) {
  v1::EchoResponse response;
  ASSERT_OK(EchoWithAuthorization("Bearer whatever", &response));
  EXPECT_EQ(response.principal_name(), "anonymous");
}

}  // namespace
}  // namespace fivestar::testing
