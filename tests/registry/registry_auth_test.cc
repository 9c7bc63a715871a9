// Authentication and scope on the registry: no token, unknown token, the
// wrong region, the right region, and roles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
using namespace testing;  // NOLINT: the tokens of the cast.

class RegistryAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env_.Import(HuicheRecords())); }

  grpc::Status GetVillage(const std::string& token, const std::string& id,
                          v1::Village* out = nullptr) {
    v1::GetVillageRequest request;
    request.set_id(id);
    v1::Village response;
    auto context = NewContext(token);
    grpc::Status status =
        env_.stub().GetVillage(context.get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status SetTarget(const std::string& token, const std::string& id,
                         int level) {
    v1::UpdateVillageRequest request;
    request.mutable_village()->set_id(id);
    request.mutable_village()->set_target_level(level);
    request.mutable_update_mask()->add_paths("target_level");
    v1::Village response;
    auto context = NewContext(token);
    return env_.stub().UpdateVillage(context.get(), request, &response);
  }

  std::vector<std::string> ListVillageIds(const std::string& token,
                                          const std::string& ancestor,
                                          grpc::Status* status) {
    v1::ListVillagesRequest request;
    request.set_ancestor_id(ancestor);
    request.set_page_size(1000);
    v1::ListVillagesResponse response;
    auto context = NewContext(token);
    *status = env_.stub().ListVillages(context.get(), request, &response);
    std::vector<std::string> ids;
    for (const auto& village : response.villages()) ids.push_back(village.id());
    return ids;
  }

  RegistryTestEnv env_;
};

TEST_F(RegistryAuthTest, NoTokenIsUnauthenticated) {
  EXPECT_THAT(GetVillage("", "411323-huiche-north-01"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "missing \"authorization: Bearer <token>\""));
}

TEST_F(RegistryAuthTest, UnknownTokenIsUnauthenticated) {
  EXPECT_THAT(
      GetVillage("not-a-real-token", "411323-huiche-north-01"),
      StatusIs(absl::StatusCode::kUnauthenticated, "unknown bearer token"));
}

TEST_F(RegistryAuthTest, NonBearerSchemeIsUnauthenticated) {
  v1::GetVillageRequest request;
  request.set_id("411323-huiche-north-01");
  v1::Village response;
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Basic dXNlcjpwYXNz");
  EXPECT_THAT(env_.stub().GetVillage(&context, request, &response),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       "must be \"Bearer <token>\""));
}

TEST_F(RegistryAuthTest, TownshipOperatorActsInsideItsTownship) {
  ASSERT_OK(SetTarget(kHuicheOperatorToken, "411323-huiche-south-04", 2));
  v1::Village village;
  ASSERT_OK(GetVillage(kAdminToken, "411323-huiche-south-04", &village));
  EXPECT_EQ(village.target_level(), 2);
}

TEST_F(RegistryAuthTest, OperatorOfAnotherTownshipIsDeniedAndChangesNothing) {
  EXPECT_THAT(
      SetTarget(kOtherTownshipOperatorToken, "411323-huiche-south-04", 2),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "other-operator may not update village "
               "411323-huiche-south-04: outside its scope "
               "411323-other"));
  v1::Village village;
  ASSERT_OK(GetVillage(kAdminToken, "411323-huiche-south-04", &village));
  EXPECT_EQ(village.target_level(), 0);
}

TEST_F(RegistryAuthTest, ViewerMayReadButNotWrite) {
  ASSERT_OK(GetVillage(kNorthViewerToken, "411323-huiche-north-02"));
  EXPECT_THAT(GetVillage(kNorthViewerToken, "411323-huiche-south-01"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "outside its scope 411323-huiche-north"));
  EXPECT_THAT(
      SetTarget(kNorthViewerToken, "411323-huiche-north-02", 4),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role operator"));
}

TEST_F(RegistryAuthTest, VillageScopedReporterSeesOnlyItsVillage) {
  ASSERT_OK(GetVillage(kMaoheReporterToken, "411323-huiche-north-01"));
  EXPECT_THAT(
      GetVillage(kMaoheReporterToken, "411323-huiche-north-02"),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
  grpc::Status status;
  EXPECT_THAT(ListVillageIds(kMaoheReporterToken, "", &status),
              ::testing::ElementsAre("411323-huiche-north-01"));
  EXPECT_TRUE(status.ok());
}

TEST_F(RegistryAuthTest, ListingIsConfinedToTheScope) {
  grpc::Status status;
  EXPECT_THAT(ListVillageIds(kNorthViewerToken, "", &status),
              ::testing::SizeIs(4));
  EXPECT_TRUE(status.ok());
  ListVillageIds(kNorthViewerToken, "411323-huiche", &status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                               "north-viewer may not list villages below "
                               "411323-huiche"));
  EXPECT_THAT(
      ListVillageIds(kHuicheOperatorToken, "411323-huiche-west", &status),
      ::testing::SizeIs(3));
}

TEST_F(RegistryAuthTest, ScopedAdminCannotCreateOutsideItsSubtree) {
  v1::CreateRegionRequest request;
  request.mutable_region()->set_id("dinghe");
  request.mutable_region()->set_kind(v1::TOWNSHIP);
  request.mutable_region()->set_name("丁河镇");
  request.mutable_region()->set_parent_id("411323");
  v1::Region response;
  auto context = NewContext(kHuicheAdminToken);
  EXPECT_THAT(env_.stub().CreateRegion(context.get(), request, &response),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "outside its scope 411323-huiche"));
  request.mutable_region()->set_id("411323-huiche-new");
  request.mutable_region()->set_kind(v1::DISTRICT);
  request.mutable_region()->set_parent_id("411323-huiche");
  auto inside = NewContext(kHuicheAdminToken);
  EXPECT_TRUE(env_.stub().CreateRegion(inside.get(), request, &response).ok());
}

TEST_F(RegistryAuthTest, ImportNeedsAdminOverEveryRecord) {
  EXPECT_THAT(
      env_.Import(HuicheRecords(), kHuicheOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role admin"));
  // The Huiche admin may not (re)import the county and province above it.
  EXPECT_THAT(env_.Import(HuicheRecords(), kHuicheAdminToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-admin may not import region 410000"));
  const std::vector<v1::RegistryRecord> all = HuicheRecords();
  std::vector<v1::RegistryRecord> own(all.begin() + 4, all.end());
  ASSERT_OK_AND_ASSIGN(auto result, env_.Import(own, kHuicheAdminToken));
  EXPECT_EQ(result.unchanged(), 26);
}

TEST_F(RegistryAuthTest, ScopedExportDefaultsToTheScope) {
  ASSERT_OK_AND_ASSIGN(auto records, env_.Export("", kNorthViewerToken));
  EXPECT_EQ(records.size(), 5u);
  EXPECT_THAT(
      env_.Export("411323", kNorthViewerToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
}

}  // namespace
}  // namespace fivestar::registry
