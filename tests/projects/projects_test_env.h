// Project tracking as production runs it, for tests: the real village
// registry and the real projects service, each started through its
// composition root (tests/testing/service_hosts.h) on its own SQLite file
// with authentication on, the registry loaded with the Huiche region tree
// and projects calling it over gRPC with its own token; plus client stubs,
// a fake clock and tokens for a cast of principals.
#ifndef FIVESTAR_TESTS_PROJECTS_PROJECTS_TEST_ENV_H_
#define FIVESTAR_TESTS_PROJECTS_PROJECTS_TEST_ENV_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/status.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/service_hosts.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"

namespace fivestar::projects::testing {

// Tokens of the cast; each maps to the principal its name describes.
inline constexpr char kAdminToken[] = "token-global-admin";
inline constexpr char kViewerToken[] = "token-global-viewer";
inline constexpr char kProjectsServiceToken[] = "token-projects-service";
inline constexpr char kHuicheAdminToken[] = "token-huiche-admin";
inline constexpr char kHuicheOperatorToken[] = "token-huiche-operator";
inline constexpr char kHuicheReporterToken[] = "token-huiche-reporter";
inline constexpr char kHuicheViewerToken[] = "token-huiche-viewer";
inline constexpr char kWestViewerToken[] = "token-west-viewer";
inline constexpr char kDangzilingReporterToken[] = "token-dangziling-reporter";
inline constexpr char kDangzilingViewerToken[] = "token-dangziling-viewer";
inline constexpr char kOtherOperatorToken[] = "token-other-operator";

// Villages and regions of the fixture (Huiche's come from
// data/huiche/registry.ndjson; "other" is a second township of the same
// county with one village).
inline constexpr char kHuiche[] = "411323-huiche";
inline constexpr char kWest[] = "411323-huiche-west";
inline constexpr char kNorth[] = "411323-huiche-north";
inline constexpr char kDangziling[] = "411323-huiche-west-01";
inline constexpr char kDougou[] = "411323-huiche-west-02";
inline constexpr char kMaohe[] = "411323-huiche-north-01";
inline constexpr char kOtherTownship[] = "411323-other";
inline constexpr char kOtherVillage[] = "411323-other-01";

// The fake clock's start: 2022-10-08 10:00 China Standard Time.
absl::Time StartTime();

using ::fivestar::testing::ProjectsHost;
using ::fivestar::testing::ReadNdjson;
using ::fivestar::testing::RegistryHost;
using ::fivestar::testing::SourcePath;

// How a test wires a projects server to the registry.
struct ProjectsHostOptions {
  std::string registry_address;
  absl::Duration registry_deadline = absl::Seconds(2);
  absl::Duration registry_cache_ttl = absl::Seconds(60);
  std::string registry_token = kProjectsServiceToken;
};

// The whole environment: tokens, clock, registry, projects, a client.
class ProjectsTestEnv {
 public:
  ProjectsTestEnv();
  ~ProjectsTestEnv();

  v1::ProjectsService::Stub& stub() { return *stub_; }
  FakeClock& clock() { return clock_; }
  RegistryHost& registry() { return *registry_; }
  ProjectsHost& projects() { return *projects_; }
  const Authenticator& tokens() const { return *tokens_; }
  std::shared_ptr<const Authenticator> shared_tokens() const { return tokens_; }
  const fivestar::testing::TempDir& dir() const { return dir_; }
  // The --database of the service called `name` ("projects", "registry"
  // are the env's own; another name, an empty database), on the test
  // run's engine (tests/testing/test_database.h).
  std::string database(const std::string& name) { return databases_.Get(name); }

  // A second projects server on its own database, e.g. pointed at a closed
  // port; it shares the tokens and the clock.
  std::unique_ptr<ProjectsHost> StartProjects(
      const std::string& database, const ProjectsHostOptions& options);

  // Calls a unary RPC as the holder of `token` (none when empty).
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::ProjectsService::Stub::*method)(grpc::ClientContext*,
                                                        const Request&,
                                                        Response*),
      const Request& request, const std::string& token = kAdminToken) {
    return CallOn(*stub_, method, request, token);
  }

  template <typename Request, typename Response>
  static absl::StatusOr<Response> CallOn(
      v1::ProjectsService::Stub& stub,
      grpc::Status (v1::ProjectsService::Stub::*method)(grpc::ClientContext*,
                                                        const Request&,
                                                        Response*),
      const Request& request, const std::string& token) {
    std::unique_ptr<grpc::ClientContext> context =
        fivestar::testing::NewContext(token);
    Response response;
    grpc::Status status = (stub.*method)(context.get(), request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  // Shortcuts for the common calls.
  absl::StatusOr<v1::Project> CreateProject(
      const v1::Project& project, const std::string& token = kAdminToken,
      const std::string& request_id = "");
  absl::StatusOr<v1::CreateProgressReportResponse> Report(
      const std::string& project_id, double quantity,
      const std::string& token = kAdminToken,
      const std::string& request_id = "", const std::string& note = "");
  absl::StatusOr<std::vector<v1::Project>> ListAllProjects(
      v1::ListProjectsRequest request, const std::string& token = kAdminToken);
  absl::StatusOr<v1::Summary> Summary(v1::GetSummaryRequest request,
                                      const std::string& token = kAdminToken);
  // Streams `records` to ImportProjects in chunks; returns the last message.
  absl::StatusOr<v1::ImportProjectsResponse> Import(
      const std::vector<v1::ProjectRecord>& records,
      const std::string& token = kAdminToken, bool validate_only = false,
      int chunk_size = 50);

 private:
  fivestar::testing::TempDir dir_;
  fivestar::testing::TestDatabases databases_;
  FakeClock clock_;
  std::shared_ptr<const Authenticator> tokens_;
  std::unique_ptr<RegistryHost> registry_;
  std::unique_ptr<ProjectsHost> projects_;
  std::unique_ptr<v1::ProjectsService::Stub> stub_;
};

// A valid project of `village`: "widen the riverside road", 780 m, BRANCH
// STRONG, 2022-03-01 .. 2022-12-31.
v1::Project RoadProject(const std::string& village);

}  // namespace fivestar::projects::testing

#endif  // FIVESTAR_TESTS_PROJECTS_PROJECTS_TEST_ENV_H_
