// Calls between the services over mutual TLS: a registry that requires a
// client certificate, and project tracking and scoring started through
// their composition roots with and without peer credentials. A call that
// reaches the registry learns that the village is unknown; one that cannot
// complete the handshake gets UNAVAILABLE.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/auth.h"
#include "common/clock.h"
#include "common/tls.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "tests/testing/service_hosts.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/tls_certs.h"

namespace fivestar::testing {
namespace {

constexpr char kUnknownVillage[] = "411323-nowhere-01";

class PeerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ca_, certs_.NewCa("ca"));
    ASSERT_OK_AND_ASSIGN(CertKeyFiles registry,
                         certs_.NewServerCert(ca_, "registry"));
    ASSERT_OK_AND_ASSIGN(client_, certs_.NewClientCert(ca_, "peer"));
    ASSERT_OK_AND_ASSIGN(
        std::shared_ptr<grpc::ServerCredentials> credentials,
        NewTlsServerCredentials(
            {registry.cert_file, registry.key_file, ca_.cert_file, true},
            kTlsRefreshInterval));
    registry_ = std::make_unique<RegistryHost>(
        databases_.Get("registry"), tokens_, Clock::System(),
        [&credentials](registry::RegistryServerOptions& options) {
          options.server.credentials = credentials;
        });
  }

  // Credentials trusting the CA and presenting the peer's certificate.
  std::shared_ptr<grpc::ChannelCredentials> PeerCredentials() {
    TlsClientFiles files;
    files.ca_file = ca_.cert_file;
    files.cert_file = client_.cert_file;
    files.key_file = client_.key_file;
    files.flag_prefix = "peer_tls_";
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        NewTlsChannelCredentials(files, kTlsRefreshInterval);
    EXPECT_OK(credentials);
    return credentials.ok() ? *credentials : nullptr;
  }

  // CreateProject in an unknown village on a projects server calling the
  // registry with `credentials`.
  absl::Status CreateProjectVia(
      const std::string& name,
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    ProjectsHost projects(
        databases_.Get(name), registry_->address(), "", tokens_,
        Clock::System(),
        [&credentials](projects::ProjectsServerOptions& options) {
          options.peer_credentials = credentials;
        });
    auto stub = projects::v1::ProjectsService::NewStub(projects.NewChannel());
    projects::v1::CreateProjectRequest request;
    projects::v1::Project* project = request.mutable_project();
    project->set_village_id(kUnknownVillage);
    project->set_title("路基拓宽");
    project->set_star(common::v1::BRANCH_STRONG);
    project->set_target_quantity(780);
    project->set_unit("m");
    project->set_start_date("2022-03-01");
    project->set_due_date("2022-12-31");
    project->set_owner("王世平");
    projects::v1::Project created;
    return FromGrpcStatus(
        stub->CreateProject(NewContext().get(), request, &created));
  }

  // Evaluate of an unknown village on a scoring server calling its peers
  // with `credentials`.
  absl::Status EvaluateVia(
      const std::string& name,
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    ScoringHost scoring(databases_.Get(name), registry_->address(),
                        registry_->address(), "", /*redis_port=*/0, tokens_,
                        Clock::System(),
                        [&credentials](scoring::ScoringServerOptions& options) {
                          options.peer_credentials = credentials;
                          options.follow_feeds = false;
                        });
    auto stub = scoring::v1::ScoringService::NewStub(scoring.NewChannel());
    scoring::v1::EvaluateRequest request;
    request.set_village_id(kUnknownVillage);
    request.set_period("2022-09");
    scoring::v1::Evaluation evaluation;
    return FromGrpcStatus(
        stub->Evaluate(NewContext().get(), request, &evaluation));
  }

  TestCertificates certs_;
  // Before the hosts, so that it outlives them.
  fivestar::testing::TestDatabases databases_;
  CertKeyFiles ca_;
  CertKeyFiles client_;
  std::shared_ptr<const Authenticator> tokens_ =
      std::make_shared<const Authenticator>(Authenticator::Disabled());
  std::unique_ptr<RegistryHost> registry_;
};

TEST_F(PeerTlsTest, ProjectsReachesTheRegistryWithPeerCredentials) {
  EXPECT_THAT(CreateProjectVia("projects", PeerCredentials()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "project.village_id: village 411323-nowhere-01 does "
                       "not exist in the registry"));
}

TEST_F(PeerTlsTest, ProjectsWithoutPeerCredentialsCannotReachTheRegistry) {
  EXPECT_THAT(CreateProjectVia("projects", nullptr),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

TEST_F(PeerTlsTest, ScoringReachesTheRegistryWithPeerCredentials) {
  EXPECT_THAT(EvaluateVia("scoring", PeerCredentials()),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-nowhere-01 does not exist in the "
                       "registry"));
}

TEST_F(PeerTlsTest, ScoringWithoutPeerCredentialsCannotReachTheRegistry) {
  EXPECT_THAT(EvaluateVia("scoring", nullptr),
              StatusIs(absl::StatusCode::kUnavailable, ""));
}

}  // namespace
}  // namespace fivestar::testing
