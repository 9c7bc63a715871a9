// A registry as production runs it, for tests: started through its
// composition root (tests/testing/service_hosts.h) on a database of the test
// run's engine (tests/testing/test_database.h) with authentication on, plus a
// client stub, a fake clock and tokens for a cast of principals.
#ifndef FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_
#define FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "common/auth.h"
#include "common/clock.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "tests/testing/service_hosts.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"

namespace fivestar::registry::testing {

// Tokens of the cast; each maps to the principal its name describes.
inline constexpr char kAdminToken[] = "token-global-admin";
inline constexpr char kHuicheAdminToken[] = "token-huiche-admin";
inline constexpr char kHuicheOperatorToken[] = "token-huiche-operator";
inline constexpr char kNorthViewerToken[] = "token-north-viewer";
inline constexpr char kMaoheReporterToken[] = "token-maohe-reporter";
inline constexpr char kOtherTownshipOperatorToken[] = "token-other-operator";

// The Huiche data set in the import format, parsed from
// data/huiche/registry.ndjson.
std::vector<v1::RegistryRecord> HuicheRecords();

class RegistryTestEnv {
 public:
  RegistryTestEnv();
  ~RegistryTestEnv();

  v1::RegistryService::Stub& stub() { return *stub_; }
  FakeClock& clock() { return clock_; }
  // The registry's --database (a file's path or a PostgreSQL URI).
  const std::string& database() const { return database_; }
  // More databases on the same engine, for more services.
  fivestar::testing::TestDatabases& databases() { return databases_; }
  fivestar::testing::RegistryHost& host() { return *host_; }
  // Who may call, as the env's registry knows them (for more replicas).
  std::shared_ptr<const Authenticator> tokens() const { return tokens_; }

  // Imports `records` as the global admin; returns the final progress.
  absl::StatusOr<v1::ImportRegistryResponse> Import(
      const std::vector<v1::RegistryRecord>& records,
      const std::string& token = kAdminToken, bool validate_only = false,
      int chunk_size = 7);

  // Every record of an export, as the given caller.
  absl::StatusOr<std::vector<v1::RegistryRecord>> Export(
      const std::string& root_id = "", const std::string& token = kAdminToken);

 private:
  fivestar::testing::TestDatabases databases_;
  std::string database_;
  FakeClock clock_;
  std::shared_ptr<const Authenticator> tokens_;
  std::unique_ptr<fivestar::testing::RegistryHost> host_;
  std::unique_ptr<v1::RegistryService::Stub> stub_;
};

}  // namespace fivestar::registry::testing

#endif  // FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_
