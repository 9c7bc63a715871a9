// A registry as production runs it, for tests: SQLite file in a temp dir,
// the Registry logic, the gRPC service with authentication on, hosted by a
// real in-process server, plus a client stub and tokens for a cast of
// principals.
#ifndef FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_
#define FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "common/auth.h"
#include "common/clock.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "services/registry/change_feed.h"
#include "services/registry/registry.h"
#include "services/registry/registry_service.h"
#include "services/registry/sqlite_registry_store.h"
#include "tests/testing/temp_dir.h"
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
  const std::string& database_path() const { return database_path_; }

  // Imports `records` as the global admin; returns the final progress.
  absl::StatusOr<v1::ImportRegistryResponse> Import(
      const std::vector<v1::RegistryRecord>& records,
      const std::string& token = kAdminToken, bool validate_only = false,
      int chunk_size = 7);

  // Every record of an export, as the given caller.
  absl::StatusOr<std::vector<v1::RegistryRecord>> Export(
      const std::string& root_id = "", const std::string& token = kAdminToken);

 private:
  fivestar::testing::TempDir dir_;
  std::string database_path_;
  FakeClock clock_;
  std::unique_ptr<SqliteRegistryStore> store_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<RegistryServiceImpl> service_;
  std::unique_ptr<fivestar::testing::TestServer> server_;
  std::unique_ptr<v1::RegistryService::Stub> stub_;
};

}  // namespace fivestar::registry::testing

#endif  // FIVESTAR_TESTS_REGISTRY_REGISTRY_TEST_ENV_H_
