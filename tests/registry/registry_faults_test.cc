// What a client sees when the registry's own storage fails: INTERNAL with a
// request id to quote, never SQL or SQLite's text (those go to the server's
// log under the same id).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::testing::HasSubstr;
using testing::HuicheRecords;
using testing::kAdminToken;
using ::testing::Not;
using testing::RegistryTestEnv;
using ::testing::StartsWith;

TEST(RegistryFaultsTest, StorageFailureShowsTheClientNoSqlOrEngineText) {
  RegistryTestEnv env;
  ASSERT_OK(env.Import(HuicheRecords()));
  // Break the database under the running server: another connection drops
  // the villages table, so every statement on it fails inside the engine.
  ASSERT_OK(
      fivestar::testing::ExecuteSql(env.database(), "DROP TABLE villages"));

  v1::GetVillageRequest request;
  request.set_id("411323-huiche-north-01");
  v1::Village village;
  auto context = NewContext(kAdminToken);
  grpc::Status status = env.stub().GetVillage(context.get(), request, &village);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(),
              StartsWith("internal error (request id "));
  for (const char* leak :
       {"SELECT", "sqlite", "SQLite", "no such table", "villages", "body",
        ".db", "postgres", "PostgreSQL", "relation", "127.0.0.1"}) {
    EXPECT_THAT(status.error_message(), Not(HasSubstr(leak)));
  }
}

}  // namespace
}  // namespace fivestar::registry
