// Tests of common/tls and common/tls_flags: real ServerHosts on 127.0.0.1
// port 0 serving TLS with certificates made at test time by `openssl`, and
// real clients checking grpc.health.v1 over TLS, mutual TLS, the wrong CA,
// no TLS at all, and after the server's files were replaced while it ran.
#include "common/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server.h"
#include "common/tls_flags.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "tests/testing/tls_certs.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(bool, tls_require_client_cert);
ABSL_DECLARE_FLAG(std::string, peer_tls_ca);
ABSL_DECLARE_FLAG(std::string, peer_tls_cert);
ABSL_DECLARE_FLAG(std::string, peer_tls_key);

namespace fivestar::testing {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// The test servers re-read their files every second.
constexpr absl::Duration kRefresh = absl::Seconds(1);

// A new channel to `host`:`port`, with its own connections: a failed
// handshake of one channel must not decide another's.
std::shared_ptr<grpc::Channel> ChannelTo(
    const std::string& host, int port,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat(host, ":", port), credentials,
                                   args);
}

// The server's overall health status over `channel`, or the call's error.
absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel) {
  std::unique_ptr<Health::Stub> stub = Health::NewStub(channel);
  HealthCheckResponse response;
  std::unique_ptr<grpc::ClientContext> context =
      NewContext("", absl::Seconds(5));
  grpc::Status status =
      stub->Check(context.get(), HealthCheckRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.status();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ca_, certs_.NewCa("ca"));
    ASSERT_OK_AND_ASSIGN(server_, certs_.NewServerCert(ca_, "server"));
    ASSERT_OK_AND_ASSIGN(client_, certs_.NewClientCert(ca_, "client"));
    ASSERT_OK_AND_ASSIGN(other_ca_, certs_.NewCa("other-ca"));
    ASSERT_OK_AND_ASSIGN(stranger_,
                         certs_.NewClientCert(other_ca_, "stranger"));
  }

  // The server's certificate and key; `client_ca` asks clients for a
  // certificate that CA signed.
  TlsServerFiles ServerFiles(const std::string& client_ca = "",
                             bool require_client_cert = false) const {
    return {server_.cert_file, server_.key_file, client_ca,
            require_client_cert};
  }

  // A serving ServerHost (health only) on 127.0.0.1:0 with `files`.
  std::unique_ptr<ServerHost> StartServer(const TlsServerFiles& files) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        NewTlsServerCredentials(files, kRefresh);
    EXPECT_OK(credentials);
    if (!credentials.ok()) return nullptr;
    ServerConfig config = TestServerConfig();
    config.credentials = *credentials;
    absl::StatusOr<std::unique_ptr<ServerHost>> host =
        ServerHost::Start(config, {});
    EXPECT_OK(host);
    if (!host.ok()) return nullptr;
    (*host)->SetServing(true);
    return *std::move(host);
  }

  // Client credentials trusting `ca`, presenting `identity` when given.
  std::shared_ptr<grpc::ChannelCredentials> Client(
      const CertKeyFiles& ca, const CertKeyFiles* identity = nullptr) {
    TlsClientFiles files;
    files.ca_file = ca.cert_file;
    if (identity != nullptr) {
      files.cert_file = identity->cert_file;
      files.key_file = identity->key_file;
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        NewTlsChannelCredentials(files, kRefresh);
    EXPECT_OK(credentials);
    return credentials.ok() ? *credentials : nullptr;
  }

  // A file of the test's directory with `contents`.
  std::string WriteFile(const std::string& name, const std::string& contents) {
    const std::string path = certs_.dir().File(name);
    FILE* file = std::fopen(path.c_str(), "w");
    EXPECT_NE(file, nullptr) << path;
    if (file != nullptr) {
      std::fputs(contents.c_str(), file);
      std::fclose(file);
    }
    return path;
  }

  TestCertificates certs_;
  CertKeyFiles ca_;
  CertKeyFiles server_;
  CertKeyFiles client_;
  CertKeyFiles other_ca_;
  CertKeyFiles stranger_;
};

TEST_F(TlsTest, ClientTrustingTheCaIsServedByIpAndByName) {
  std::unique_ptr<ServerHost> host = StartServer(ServerFiles());
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(ChannelTo("localhost", host->port(), Client(ca_))),
              IsOkAndHolds(HealthCheckResponse::SERVING));
}

TEST_F(TlsTest, PlaintextClientIsUnavailable) {
  std::unique_ptr<ServerHost> host = StartServer(ServerFiles());
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(),
                                    grpc::InsecureChannelCredentials())),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, ClientTrustingAnotherCaIsUnavailable) {
  std::unique_ptr<ServerHost> host = StartServer(ServerFiles());
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(
      CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(other_ca_))),
      StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, CertificateNamingAnotherHostIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(
      CertKeyFiles elsewhere,
      certs_.NewServerCert(ca_, "elsewhere", "DNS:elsewhere.example"));
  std::unique_ptr<ServerHost> host =
      StartServer({elsewhere.cert_file, elsewhere.key_file, "", false});
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
  EXPECT_THAT(CheckHealth(ChannelTo("localhost", host->port(), Client(ca_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, RequiredClientCertMissingIsUnavailable) {
  std::unique_ptr<ServerHost> host =
      StartServer(ServerFiles(ca_.cert_file, /*require_client_cert=*/true));
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, RequiredClientCertFromTheCaIsServed) {
  std::unique_ptr<ServerHost> host =
      StartServer(ServerFiles(ca_.cert_file, /*require_client_cert=*/true));
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(
      CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_, &client_))),
      IsOkAndHolds(HealthCheckResponse::SERVING));
}

TEST_F(TlsTest, RequiredClientCertFromAnotherCaIsUnavailable) {
  std::unique_ptr<ServerHost> host =
      StartServer(ServerFiles(ca_.cert_file, /*require_client_cert=*/true));
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(),
                                    Client(ca_, &stranger_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, OptionalClientCertMayBeAbsentButNotFromAnotherCa) {
  std::unique_ptr<ServerHost> host = StartServer(ServerFiles(ca_.cert_file));
  ASSERT_NE(host, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(
      CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_, &client_))),
      IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(),
                                    Client(ca_, &stranger_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, ReplacedServerCertificateIsServedWithoutRestart) {
  // The server reads copies that the test then replaces the way a
  // certificate manager does: write beside, rename over.
  const std::string live_cert = certs_.dir().File("live.pem");
  const std::string live_key = certs_.dir().File("live.key");
  std::filesystem::copy_file(server_.cert_file, live_cert);
  std::filesystem::copy_file(server_.key_file, live_key);
  std::unique_ptr<ServerHost> host =
      StartServer({live_cert, live_key, "", false});
  ASSERT_NE(host, nullptr);
  ASSERT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              IsOkAndHolds(HealthCheckResponse::SERVING));

  ASSERT_OK_AND_ASSIGN(CertKeyFiles new_ca, certs_.NewCa("new-ca"));
  ASSERT_OK_AND_ASSIGN(CertKeyFiles renewed,
                       certs_.NewServerCert(new_ca, "renewed"));
  std::filesystem::copy_file(renewed.key_file, live_key + ".tmp");
  std::filesystem::copy_file(renewed.cert_file, live_cert + ".tmp");
  std::filesystem::rename(live_key + ".tmp", live_key);
  std::filesystem::rename(live_cert + ".tmp", live_cert);

  // The provider looks every second; give it up to ten.
  absl::StatusOr<HealthCheckResponse::ServingStatus> health;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    health = CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(new_ca)));
    if (health.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < give_up);
  EXPECT_THAT(health, IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsTest, ServerFilesThatDoNotGoTogetherAreInvalid) {
  EXPECT_THAT(
      NewTlsServerCredentials({server_.cert_file, "", "", false}, kRefresh),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "tls_key: required with --tls_cert"));
  EXPECT_THAT(
      NewTlsServerCredentials({"", server_.key_file, "", false}, kRefresh),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "tls_cert: required with --tls_key"));
  EXPECT_THAT(NewTlsServerCredentials({"", "", ca_.cert_file, false}, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "tls_cert: required with --tls_client_ca"));
  EXPECT_THAT(NewTlsServerCredentials(ServerFiles("", true), kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "tls_require_client_cert: needs --tls_client_ca"));
}

TEST_F(TlsTest, UnreadableOrMalformedServerFilesAreInvalid) {
  const std::string absent = certs_.dir().File("absent.pem");
  const std::string junk = WriteFile("junk.pem", "not a certificate\n");
  EXPECT_THAT(
      NewTlsServerCredentials({server_.cert_file, absent, "", false}, kRefresh),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("tls_key: cannot read ", absent,
                            ": No such file or directory")));
  EXPECT_THAT(NewTlsServerCredentials(
                  {certs_.dir().path(), server_.key_file, "", false}, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_cert: cannot read ",
                                    certs_.dir().path(), ": Is a directory")));
  EXPECT_THAT(
      NewTlsServerCredentials({junk, server_.key_file, "", false}, kRefresh),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("tls_cert: ", junk, " holds no PEM certificate")));
  // A certificate is no key.
  EXPECT_THAT(NewTlsServerCredentials(
                  {server_.cert_file, server_.cert_file, "", false}, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_key: ", server_.cert_file,
                                    " holds no unencrypted PEM private key")));
  EXPECT_THAT(NewTlsServerCredentials(
                  {server_.cert_file, client_.key_file, "", false}, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_key: ", client_.key_file,
                                    " is not the key of the certificate in ",
                                    server_.cert_file, " (--tls_cert)")));
  EXPECT_THAT(NewTlsServerCredentials(ServerFiles(junk), kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_client_ca: ", junk,
                                    " holds no PEM certificate")));
  EXPECT_THAT(NewTlsServerCredentials(ServerFiles(absent), kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_client_ca: cannot read ", absent)));
}

TEST_F(TlsTest, EncryptedKeyIsInvalidWithoutAPrompt) {
  const std::string encrypted = certs_.dir().File("encrypted.key");
  ASSERT_EQ(std::system(absl::StrCat("openssl pkey -in '", server_.key_file,
                                     "' -aes256 -passout pass:secret -out '",
                                     encrypted, "'")
                            .c_str()),
            0);
  EXPECT_THAT(NewTlsServerCredentials({server_.cert_file, encrypted, "", false},
                                      kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_key: ", encrypted,
                                    " holds no unencrypted PEM private key")));
}

TEST_F(TlsTest, ClientFilesAreCheckedAndNamedByTheirFlags) {
  TlsClientFiles files;
  files.flag_prefix = "peer_tls_";
  EXPECT_THAT(NewTlsChannelCredentials(files, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer_tls_ca: required for TLS"));
  files.ca_file = ca_.cert_file;
  files.cert_file = client_.cert_file;
  EXPECT_THAT(NewTlsChannelCredentials(files, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer_tls_key: required with --peer_tls_cert"));
  files.cert_file = "";
  files.key_file = client_.key_file;
  EXPECT_THAT(NewTlsChannelCredentials(files, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer_tls_cert: required with --peer_tls_key"));
  files.cert_file = client_.cert_file;
  files.key_file = stranger_.key_file;
  EXPECT_THAT(NewTlsChannelCredentials(files, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("peer_tls_key: ", stranger_.key_file,
                                    " is not the key of the certificate in ",
                                    client_.cert_file, " (--peer_tls_cert)")));
  files.flag_prefix = "tls_";
  files.ca_file = certs_.dir().File("absent.pem");
  EXPECT_THAT(NewTlsChannelCredentials(files, kRefresh),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_ca: cannot read ", files.ca_file)));
  files.ca_file = ca_.cert_file;
  files.key_file = client_.key_file;
  EXPECT_OK(NewTlsChannelCredentials(files, kRefresh));
}

// The flag readers. FlagSaver restores every flag after each test.
class TlsFlagsTest : public TlsTest {
 protected:
  absl::FlagSaver saver_;
};

TEST_F(TlsFlagsTest, NoFlagsMeanPlaintext) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ServerCredentials> server,
                       ServerCredentialsFromFlags());
  EXPECT_EQ(server, nullptr);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> peer,
                       PeerCredentialsFromFlags());
  EXPECT_EQ(peer, nullptr);
}

TEST_F(TlsFlagsTest, ServerConfigFromTlsFlagsServesMutualTls) {
  absl::SetFlag(&FLAGS_host, "127.0.0.1");
  absl::SetFlag(&FLAGS_port, 0);
  absl::SetFlag(&FLAGS_metrics_port, -1);
  absl::SetFlag(&FLAGS_tls_cert, server_.cert_file);
  absl::SetFlag(&FLAGS_tls_key, server_.key_file);
  absl::SetFlag(&FLAGS_tls_client_ca, ca_.cert_file);
  absl::SetFlag(&FLAGS_tls_require_client_cert, true);
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("test"));
  ASSERT_NE(config.credentials, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerHost> host,
                       ServerHost::Start(config, {}));
  host->SetServing(true);

  absl::SetFlag(&FLAGS_peer_tls_ca, ca_.cert_file);
  absl::SetFlag(&FLAGS_peer_tls_cert, client_.cert_file);
  absl::SetFlag(&FLAGS_peer_tls_key, client_.key_file);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<grpc::ChannelCredentials> peer,
                       PeerCredentialsFromFlags());
  ASSERT_NE(peer, nullptr);
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), peer)),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(ChannelTo("127.0.0.1", host->port(), Client(ca_))),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(TlsFlagsTest, WithTlsANonLoopbackHostNeedsNoPlaintextPermission) {
  absl::SetFlag(&FLAGS_host, "0.0.0.0");
  EXPECT_THAT(ServerConfigFromFlags("test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "host: 0.0.0.0 is not a loopback address and TLS is "
                       "off"));
  absl::SetFlag(&FLAGS_tls_cert, server_.cert_file);
  absl::SetFlag(&FLAGS_tls_key, server_.key_file);
  ASSERT_OK_AND_ASSIGN(ServerConfig config, ServerConfigFromFlags("test"));
  EXPECT_EQ(config.listen_address, "0.0.0.0:50051");
  EXPECT_NE(config.credentials, nullptr);
}

TEST_F(TlsFlagsTest, BadServerTlsFlagsFailTheServerConfig) {
  const std::string absent = certs_.dir().File("absent.key");
  absl::SetFlag(&FLAGS_tls_cert, server_.cert_file);
  absl::SetFlag(&FLAGS_tls_key, absent);
  EXPECT_THAT(ServerConfigFromFlags("test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tls_key: cannot read ", absent)));
  absl::SetFlag(&FLAGS_tls_key, server_.key_file);
  absl::SetFlag(&FLAGS_tls_require_client_cert, true);
  EXPECT_THAT(ServerCredentialsFromFlags(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "tls_require_client_cert: needs --tls_client_ca"));
  absl::SetFlag(&FLAGS_tls_cert, "");
  absl::SetFlag(&FLAGS_tls_key, "");
  absl::SetFlag(&FLAGS_tls_client_ca, ca_.cert_file);
  EXPECT_THAT(ServerCredentialsFromFlags(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "tls_cert: required with --tls_client_ca"));
}

TEST_F(TlsFlagsTest, BadPeerTlsFlagsAreInvalid) {
  absl::SetFlag(&FLAGS_peer_tls_cert, client_.cert_file);
  absl::SetFlag(&FLAGS_peer_tls_key, client_.key_file);
  EXPECT_THAT(PeerCredentialsFromFlags(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer_tls_ca: required for TLS"));
  absl::SetFlag(&FLAGS_peer_tls_ca, server_.key_file);
  EXPECT_THAT(PeerCredentialsFromFlags(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("peer_tls_ca: ", server_.key_file,
                                    " holds no PEM certificate")));
}

}  // namespace
}  // namespace fivestar::testing
