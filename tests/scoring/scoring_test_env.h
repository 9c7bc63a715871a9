// Scoring as production runs it, for tests: the real registry (loaded with
// the Huiche township and a second township of the same county), the real
// project tracking (Huiche's 193 practical tasks with their reports and its
// 2022-09 indicator values, imported over gRPC), a real redis-server (or a
// master, a replica and a sentinel), and
// scoring itself, each started through its composition root on its own
// SQLite file with authentication on; plus client stubs, a fake clock
// (2022-10-08 10:00 China time) and tokens for a cast of principals.
#ifndef FIVESTAR_TESTS_SCORING_SCORING_TEST_ENV_H_
#define FIVESTAR_TESTS_SCORING_SCORING_TEST_ENV_H_

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
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "tests/testing/redis_sentinel.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/service_hosts.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"

namespace fivestar::scoring::testing {

// Tokens of the cast; each maps to the principal its name describes.
inline constexpr char kAdminToken[] = "token-global-admin";
inline constexpr char kViewerToken[] = "token-global-viewer";
inline constexpr char kServiceToken[] = "token-scoring-service";
inline constexpr char kProvinceOperatorToken[] = "token-henan-operator";
inline constexpr char kCityOperatorToken[] = "token-nanyang-operator";
inline constexpr char kCountyOperatorToken[] = "token-xixia-operator";
inline constexpr char kCountyAdminToken[] = "token-xixia-admin";
inline constexpr char kHuicheOperatorToken[] = "token-huiche-operator";
inline constexpr char kHuicheViewerToken[] = "token-huiche-viewer";
inline constexpr char kNorthOperatorToken[] = "token-north-operator";
inline constexpr char kMaoheOperatorToken[] = "token-maohe-operator";
inline constexpr char kOtherOperatorToken[] = "token-other-operator";
inline constexpr char kHuicheReporterToken[] = "token-huiche-reporter";
inline constexpr char kHuicheAdminToken[] = "token-huiche-admin";
inline constexpr char kMaoheViewerToken[] = "token-maohe-viewer";

inline constexpr char kProvince[] = "410000";
inline constexpr char kCity[] = "411300";
inline constexpr char kCounty[] = "411323";
inline constexpr char kHuiche[] = "411323-huiche";
inline constexpr char kNorth[] = "411323-huiche-north";
inline constexpr char kWest[] = "411323-huiche-west";
inline constexpr char kMaohe[] = "411323-huiche-north-01";
inline constexpr char kDangziling[] = "411323-huiche-west-01";
inline constexpr char kOtherTownship[] = "411323-other";
inline constexpr char kOtherVillage[] = "411323-other-01";
inline constexpr char kPeriod[] = "2022-09";
// The name the sentinel knows scoring's Redis by (redis_sentinel).
inline constexpr char kRedisMasterName[] = "fivestar-boards";

// The fake clock's start: 2022-10-08 10:00 China Standard Time.
absl::Time StartTime();

struct ScoringEnvOptions {
  // Start a redis-server for scoring (else scoring runs without a cache).
  bool redis = true;
  // Load Huiche's projects and indicators into project tracking.
  bool load_projects = true;
  // Let scoring follow the feeds.
  bool follow_feeds = true;
  // Instead of `redis`'s one redis-server: a master, a replica of it and a
  // sentinel monitoring it as kRedisMasterName (quorum 1, 1 s down-after),
  // which scoring asks for the master (redis_failover()). Kill the master
  // to fail over. StopRedis, StartRedis and FlushRedis do not apply. Last,
  // so that the fields before keep their places in aggregate
  // initialisation.
  bool redis_sentinel = false;
};

class ScoringTestEnv {
 public:
  explicit ScoringTestEnv(ScoringEnvOptions options = {});
  ~ScoringTestEnv();

  v1::ScoringService::Stub& stub() { return *stub_; }
  projects::v1::ProjectsService::Stub& projects_stub() {
    return *projects_stub_;
  }
  registry::v1::RegistryService::Stub& registry_stub() {
    return *registry_stub_;
  }
  FakeClock& clock() { return clock_; }
  fivestar::testing::RegistryHost& registry() { return *registry_; }
  fivestar::testing::ProjectsHost& projects() { return *projects_; }
  fivestar::testing::ScoringHost& scoring() { return *scoring_; }

  // The newest sequence of project tracking's feed, as a heartbeat of its
  // WatchChanges says.
  uint64_t ProjectsNewest();
  // The redis-server; null with redis_sentinel.
  fivestar::testing::RedisServer* redis() { return redis_.get(); }
  // The master, replica and sentinel; null without redis_sentinel.
  fivestar::testing::RedisFailoverGroup* redis_failover() {
    return redis_failover_.get();
  }
  const fivestar::testing::TempDir& dir() const { return dir_; }
  // The --database of the service called `name` ("registry", "projects",
  // "scoring" are the env's own), on the test run's engine
  // (tests/testing/test_database.h).
  std::string database(const std::string& name) { return databases_.Get(name); }
  std::shared_ptr<const Authenticator> tokens() const { return tokens_; }

  // Stops scoring and starts it again on the same database (a restart).
  void RestartScoring(
      const fivestar::testing::ScoringHost::Adjust& adjust = nullptr);
  // Stops scoring (its database stays); StartScoring() starts it again.
  void StopScoring();
  void StartScoring(
      const fivestar::testing::ScoringHost::Adjust& adjust = nullptr);
  // Stops project tracking and starts it again on the same database and
  // port (its followers see the stream cut).
  void RestartProjects();
  // Stops Redis; StartRedis() starts a new one on the same port.
  void StopRedis();
  void StartRedis();
  // FLUSHALL on the running Redis (as an operator's mistake would).
  void FlushRedis();

  // Calls a unary RPC of `Stub` as the holder of `token`.
  template <typename Stub, typename Request, typename Response>
  static absl::StatusOr<Response> CallOn(
      Stub& stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      const Request& request, const std::string& token) {
    std::unique_ptr<grpc::ClientContext> context =
        fivestar::testing::NewContext(token);
    Response response;
    grpc::Status status = (stub.*method)(context.get(), request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::ScoringService::Stub::*method)(grpc::ClientContext*,
                                                       const Request&,
                                                       Response*),
      const Request& request, const std::string& token = kAdminToken) {
    return CallOn(*stub_, method, request, token);
  }

  // Shortcuts.
  absl::StatusOr<v1::Evaluation> Evaluate(
      const std::string& village, const std::string& period = kPeriod,
      const std::string& token = kAdminToken);
  // EvaluateRegion to the end; returns every message.
  absl::StatusOr<std::vector<v1::EvaluateRegionResponse>> EvaluateRegion(
      const std::string& region, const std::string& period = kPeriod,
      bool include_evaluations = false, const std::string& token = kAdminToken);
  absl::StatusOr<v1::GetLeaderboardResponse> Leaderboard(
      const std::string& region, const std::string& period = kPeriod,
      fivestar::common::v1::Star star = fivestar::common::v1::STAR_UNSPECIFIED,
      int page_size = 0, const std::string& token = kAdminToken);
  // Sets one indicator value through project tracking's API.
  absl::Status SetIndicator(const std::string& village, const std::string& key,
                            const std::string& period, double value);

 private:
  ScoringEnvOptions options_;
  fivestar::testing::TempDir dir_;
  fivestar::testing::TestDatabases databases_;
  FakeClock clock_;
  std::shared_ptr<const Authenticator> tokens_;
  std::unique_ptr<fivestar::testing::RedisServer> redis_;
  std::unique_ptr<fivestar::testing::RedisFailoverGroup> redis_failover_;
  int redis_port_ = 0;
  std::unique_ptr<fivestar::testing::RegistryHost> registry_;
  std::unique_ptr<fivestar::testing::ProjectsHost> projects_;
  std::unique_ptr<fivestar::testing::ScoringHost> scoring_;
  std::unique_ptr<v1::ScoringService::Stub> stub_;
  std::unique_ptr<projects::v1::ProjectsService::Stub> projects_stub_;
  std::unique_ptr<registry::v1::RegistryService::Stub> registry_stub_;
};

}  // namespace fivestar::scoring::testing

#endif  // FIVESTAR_TESTS_SCORING_SCORING_TEST_ENV_H_
