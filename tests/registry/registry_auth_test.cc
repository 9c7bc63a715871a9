// Authentication and scope on the registry: no token, unknown token, the
// wrong region, the right region, and roles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
  // A filter above the scope answers the scope, a sibling is refused.
  EXPECT_THAT(ListVillageIds(kNorthViewerToken, "411323-huiche", &status),
              ::testing::SizeIs(4));
  EXPECT_TRUE(status.ok());
  ListVillageIds(kNorthViewerToken, "411323-huiche-south", &status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                               "north-viewer may not list villages below "
                               "411323-huiche-south: outside its scope "
                               "411323-huiche-north"));
  EXPECT_THAT(
      ListVillageIds(kHuicheOperatorToken, "411323-huiche-west", &status),
      ::testing::SizeIs(3));
}

TEST_F(RegistryAuthTest, ListsAndExportShowWhatGetReads) {
  // A district viewer reads its district (not the township above it), so
  // that is every region it lists, with or without a filter above it.
  auto region_ids = [&](const std::string& token, const std::string& ancestor,
                        grpc::Status* status) {
    v1::ListRegionsRequest request;
    request.set_ancestor_id(ancestor);
    v1::ListRegionsResponse response;
    auto context = NewContext(token);
    *status = env_.stub().ListRegions(context.get(), request, &response);
    std::vector<std::string> ids;
    for (const auto& region : response.regions()) ids.push_back(region.id());
    return ids;
  };
  grpc::Status status;
  EXPECT_THAT(region_ids(kNorthViewerToken, "", &status),
              ::testing::ElementsAre("411323-huiche-north"));
  EXPECT_THAT(region_ids(kNorthViewerToken, "411323", &status),
              ::testing::ElementsAre("411323-huiche-north"));
  EXPECT_TRUE(status.ok());
  // Below itself: strictly below, as for anyone.
  EXPECT_THAT(region_ids(kNorthViewerToken, "411323-huiche-north", &status),
              ::testing::IsEmpty());
  EXPECT_TRUE(status.ok());
  region_ids(kNorthViewerToken, "411323-huiche-west", &status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                               "north-viewer may not list regions below "
                               "411323-huiche-west: outside its scope"));
  // A region that exists nowhere is refused the same way.
  region_ids(kNorthViewerToken, "411323-nowhere", &status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                               "north-viewer may not list regions below "
                               "411323-nowhere: outside its scope"));

  // A village-scoped principal reads no region: it lists none, whether or
  // not it names its own township, and GetRegion refuses; but the
  // ancestors of its own village are its to read.
  EXPECT_THAT(region_ids(kMaoheReporterToken, "", &status),
              ::testing::IsEmpty());
  EXPECT_TRUE(status.ok());
  EXPECT_THAT(region_ids(kMaoheReporterToken, "411323-huiche", &status),
              ::testing::IsEmpty());
  EXPECT_TRUE(status.ok());
  {
    v1::GetRegionRequest request;
    request.set_id("411323-huiche-north");
    v1::Region response;
    auto context = NewContext(kMaoheReporterToken);
    EXPECT_THAT(env_.stub().GetRegion(context.get(), request, &response),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         "maohe-reporter may not read region "
                         "411323-huiche-north: outside its scope"));
  }
  {
    v1::GetAncestorsRequest request;
    request.set_village_id("411323-huiche-north-01");
    v1::GetAncestorsResponse response;
    auto context = NewContext(kMaoheReporterToken);
    ASSERT_OK(env_.stub().GetAncestors(context.get(), request, &response));
    EXPECT_EQ(response.ancestors_size(), 5);  // district ... province
  }
  EXPECT_THAT(ListVillageIds(kMaoheReporterToken, "411323-huiche", &status),
              ::testing::ElementsAre("411323-huiche-north-01"));
  EXPECT_TRUE(status.ok());

  // Export: the scope's subtree, from a root above it or from none.
  auto exported_ids = [&](const std::string& root, const std::string& token) {
    std::vector<std::string> ids;
    absl::StatusOr<std::vector<v1::RegistryRecord>> records =
        env_.Export(root, token);
    EXPECT_OK(records);
    if (!records.ok()) return ids;
    for (const auto& record : *records) {
      ids.push_back(record.has_region() ? record.region().id()
                                        : record.village().id());
    }
    return ids;
  };
  const std::vector<std::string> north = {
      "411323-huiche-north", "411323-huiche-north-01", "411323-huiche-north-02",
      "411323-huiche-north-03", "411323-huiche-north-04"};
  EXPECT_EQ(exported_ids("", kNorthViewerToken), north);
  EXPECT_EQ(exported_ids("411323-huiche", kNorthViewerToken), north);
  EXPECT_EQ(exported_ids("411323-huiche-north", kNorthViewerToken), north);
  EXPECT_EQ(exported_ids("", kMaoheReporterToken),
            std::vector<std::string>{"411323-huiche-north-01"});
  EXPECT_EQ(exported_ids("410000", kMaoheReporterToken),
            std::vector<std::string>{"411323-huiche-north-01"});
  EXPECT_THAT(env_.Export("411323-huiche-west", kNorthViewerToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "north-viewer may not export region "
                       "411323-huiche-west: outside its scope"));
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
  // A root above the scope exports the scope; a sibling is refused.
  ASSERT_OK_AND_ASSIGN(auto above, env_.Export("411323", kNorthViewerToken));
  ASSERT_EQ(above.size(), records.size());
  for (size_t i = 0; i < above.size(); ++i) {
    EXPECT_EQ(above[i].SerializeAsString(), records[i].SerializeAsString());
  }
  EXPECT_THAT(
      env_.Export("411323-huiche-south", kNorthViewerToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
}

// No existence oracle: for a scoped principal, an id outside its scope
// answers the same whether or not it exists (Danshui is a second township
// of the county, created by the global admin; "411323-nowhere*" exist
// nowhere).
class RegistryOracleTest : public RegistryAuthTest {
 protected:
  void SetUp() override {
    RegistryAuthTest::SetUp();
    v1::CreateRegionRequest region;
    region.mutable_region()->set_id("411323-danshui");
    region.mutable_region()->set_kind(v1::TOWNSHIP);
    region.mutable_region()->set_name("丹水镇");
    region.mutable_region()->set_parent_id("411323");
    v1::Region created_region;
    auto context = NewContext(kAdminToken);
    ASSERT_OK(env_.stub().CreateRegion(context.get(), region, &created_region));
    v1::CreateVillageRequest village;
    village.mutable_village()->set_id("411323-danshui-01");
    village.mutable_village()->set_name("丹水村");
    village.mutable_village()->set_region_id("411323-danshui");
    village.mutable_village()->set_kind(v1::VILLAGE);
    v1::Village created_village;
    auto village_context = NewContext(kAdminToken);
    ASSERT_OK(env_.stub().CreateVillage(village_context.get(), village,
                                        &created_village));
  }

  grpc::Status GetRegion(const std::string& token, const std::string& id,
                         v1::Region* out = nullptr) {
    v1::GetRegionRequest request;
    request.set_id(id);
    v1::Region response;
    auto context = NewContext(token);
    grpc::Status status =
        env_.stub().GetRegion(context.get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  grpc::Status DeleteVillage(const std::string& token, const std::string& id) {
    v1::DeleteVillageRequest request;
    request.set_id(id);
    google::protobuf::Empty response;
    auto context = NewContext(token);
    return env_.stub().DeleteVillage(context.get(), request, &response);
  }

  grpc::Status GetAncestors(const std::string& token, bool village,
                            const std::string& id) {
    v1::GetAncestorsRequest request;
    if (village) {
      request.set_village_id(id);
    } else {
      request.set_region_id(id);
    }
    v1::GetAncestorsResponse response;
    auto context = NewContext(token);
    return env_.stub().GetAncestors(context.get(), request, &response);
  }

  grpc::Status CreateVillage(const std::string& token, const std::string& id,
                             const std::string& region_id) {
    v1::CreateVillageRequest request;
    request.mutable_village()->set_id(id);
    request.mutable_village()->set_name("新村");
    request.mutable_village()->set_region_id(region_id);
    request.mutable_village()->set_kind(v1::VILLAGE);
    v1::Village response;
    auto context = NewContext(token);
    return env_.stub().CreateVillage(context.get(), request, &response);
  }

  grpc::Status CreateRegion(const std::string& token, const std::string& id,
                            const std::string& parent_id) {
    v1::CreateRegionRequest request;
    request.mutable_region()->set_id(id);
    request.mutable_region()->set_kind(v1::DISTRICT);
    request.mutable_region()->set_name("新管区");
    request.mutable_region()->set_parent_id(parent_id);
    v1::Region response;
    auto context = NewContext(token);
    return env_.stub().CreateRegion(context.get(), request, &response);
  }

  // Both denials are the out-of-scope refusal of `who` for `action` + the
  // id, with the same code and the same message but for the id.
  static void ExpectSameDenial(const grpc::Status& existing,
                               const std::string& existing_id,
                               const grpc::Status& absent,
                               const std::string& absent_id,
                               const std::string& who,
                               const std::string& action,
                               const std::string& scope = "411323-huiche") {
    EXPECT_EQ(existing.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(absent.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(existing.error_message(),
              absl::StrCat(who, " may not ", action, existing_id,
                           ": outside its scope ", scope));
    EXPECT_EQ(absent.error_message(),
              absl::StrCat(who, " may not ", action, absent_id,
                           ": outside its scope ", scope));
  }
};

TEST_F(RegistryOracleTest,
       GetVillageOutsideTheScopeAnswersAlikeWhetherItExists) {
  ExpectSameDenial(GetVillage(kHuicheOperatorToken, "411323-danshui-01"),
                   "411323-danshui-01",
                   GetVillage(kHuicheOperatorToken, "411323-nowhere-01"),
                   "411323-nowhere-01", "huiche-operator", "read village ");
  // A village-scoped principal too.
  ExpectSameDenial(
      GetVillage(kMaoheReporterToken, "411323-danshui-01"), "411323-danshui-01",
      GetVillage(kMaoheReporterToken, "411323-nowhere-01"), "411323-nowhere-01",
      "maohe-reporter", "read village ", "411323-huiche-north-01");
}

TEST_F(RegistryOracleTest, GlobalAdminStillGetsNotFound) {
  EXPECT_THAT(GetVillage(kAdminToken, "411323-nowhere-01"),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere-01"));
  EXPECT_THAT(GetRegion(kAdminToken, "411323-nowhere"),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere"));
  EXPECT_THAT(GetAncestors(kAdminToken, true, "411323-nowhere-01"),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere-01"));
  EXPECT_THAT(DeleteVillage(kAdminToken, "411323-nowhere-01"),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere-01"));
}

TEST_F(RegistryOracleTest,
       GetRegionOutsideTheScopeAnswersAlikeWhetherItExists) {
  ExpectSameDenial(GetRegion(kHuicheAdminToken, "411323-danshui"),
                   "411323-danshui",
                   GetRegion(kHuicheAdminToken, "411323-nowhere"),
                   "411323-nowhere", "huiche-admin", "read region ");
}

TEST_F(RegistryOracleTest,
       UpdateVillageOutsideTheScopeAnswersAlikeAndWritesNothing) {
  ExpectSameDenial(SetTarget(kHuicheOperatorToken, "411323-danshui-01", 3),
                   "411323-danshui-01",
                   SetTarget(kHuicheOperatorToken, "411323-nowhere-01", 3),
                   "411323-nowhere-01", "huiche-operator", "update village ");
  // A role that falls short is refused for the role either way.
  const grpc::Status existing =
      SetTarget(kNorthViewerToken, "411323-danshui-01", 3);
  const grpc::Status absent =
      SetTarget(kNorthViewerToken, "411323-nowhere-01", 3);
  EXPECT_THAT(existing, StatusIs(absl::StatusCode::kPermissionDenied,
                                 "needs role operator"));
  EXPECT_EQ(absent.error_code(), existing.error_code());
  EXPECT_EQ(absent.error_message(),
            absl::StrReplaceAll(existing.error_message(),
                                {{"411323-danshui-01", "411323-nowhere-01"}}));
  v1::Village village;
  ASSERT_OK(GetVillage(kAdminToken, "411323-danshui-01", &village));
  EXPECT_EQ(village.target_level(), 0);
  EXPECT_THAT(GetVillage(kAdminToken, "411323-nowhere-01"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistryOracleTest,
       DeleteVillageOutsideTheScopeAnswersAlikeAndDeletesNothing) {
  ExpectSameDenial(DeleteVillage(kHuicheOperatorToken, "411323-danshui-01"),
                   "411323-danshui-01",
                   DeleteVillage(kHuicheOperatorToken, "411323-nowhere-01"),
                   "411323-nowhere-01", "huiche-operator", "delete village ");
  ASSERT_OK(GetVillage(kAdminToken, "411323-danshui-01"));
}

TEST_F(RegistryOracleTest, GetAncestorsOutsideTheScopeAnswersAlike) {
  ExpectSameDenial(
      GetAncestors(kHuicheOperatorToken, true, "411323-danshui-01"),
      "411323-danshui-01",
      GetAncestors(kHuicheOperatorToken, true, "411323-nowhere-01"),
      "411323-nowhere-01", "huiche-operator", "read the ancestors of ");
  ExpectSameDenial(GetAncestors(kHuicheOperatorToken, false, "411323-danshui"),
                   "411323-danshui",
                   GetAncestors(kHuicheOperatorToken, false, "411323-nowhere"),
                   "411323-nowhere", "huiche-operator",
                   "read the ancestors of ");
}

TEST_F(RegistryOracleTest, ListFilterOutsideTheScopeAnswersAlike) {
  auto list = [&](const std::string& ancestor) {
    v1::ListVillagesRequest request;
    request.set_ancestor_id(ancestor);
    v1::ListVillagesResponse response;
    auto context = NewContext(kHuicheOperatorToken);
    return env_.stub().ListVillages(context.get(), request, &response);
  };
  ExpectSameDenial(list("411323-danshui"), "411323-danshui",
                   list("411323-nowhere"), "411323-nowhere", "huiche-operator",
                   "list villages below ");
  // The global admin still learns that the filter names no region.
  v1::ListVillagesRequest request;
  request.set_ancestor_id("411323-nowhere");
  v1::ListVillagesResponse response;
  auto context = NewContext(kAdminToken);
  EXPECT_THAT(env_.stub().ListVillages(context.get(), request, &response),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_id: region 411323-nowhere does not exist"));
}

TEST_F(RegistryOracleTest, BatchGetNamesTheFirstUnreadableIdWhetherItExists) {
  auto batch = [&](const std::string& second) {
    v1::BatchGetVillagesRequest request;
    request.add_ids("411323-huiche-north-01");
    request.add_ids(second);
    v1::BatchGetVillagesResponse response;
    auto context = NewContext(kHuicheOperatorToken);
    return env_.stub().BatchGetVillages(context.get(), request, &response);
  };
  ExpectSameDenial(batch("411323-danshui-01"), "411323-danshui-01",
                   batch("411323-nowhere-01"), "411323-nowhere-01",
                   "huiche-operator", "read village ");
}

TEST_F(RegistryOracleTest, CreateVillageInAnAbsentOrForeignRegionAnswersAlike) {
  ExpectSameDenial(
      CreateVillage(kHuicheOperatorToken, "411323-new-01", "411323-danshui"),
      "411323-new-01",
      CreateVillage(kHuicheOperatorToken, "411323-new-01", "411323-nowhere"),
      "411323-new-01", "huiche-operator", "create village ");
  // The global admin learns that the region does not exist.
  EXPECT_THAT(CreateVillage(kAdminToken, "411323-new-01", "411323-nowhere"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "village.region_id: region 411323-nowhere does not "
                       "exist"));
}

TEST_F(RegistryOracleTest, CreateVillageWithAnIdTakenOutsideTheScopeIsDenied) {
  // The id is taken by a village of Danshui: refused as a create outside
  // the scope would be, naming nothing of that village.
  const grpc::Status taken = CreateVillage(
      kHuicheOperatorToken, "411323-danshui-01", "411323-huiche-north");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(taken.error_message(),
            "huiche-operator may not create village 411323-danshui-01: "
            "outside its scope 411323-huiche");
  EXPECT_THAT(taken.error_message(),
              ::testing::Not(::testing::HasSubstr("exists")));
  EXPECT_THAT(taken.error_message(),
              ::testing::Not(::testing::HasSubstr("丹水")));
  v1::Village village;
  ASSERT_OK(GetVillage(kAdminToken, "411323-danshui-01", &village));
  EXPECT_EQ(village.region_id(), "411323-danshui");
  EXPECT_EQ(village.name(), "丹水村");
  // Inside the scope the collision is still ALREADY_EXISTS.
  EXPECT_THAT(CreateVillage(kHuicheOperatorToken, "411323-huiche-north-02",
                            "411323-huiche-north"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "village 411323-huiche-north-02 already exists"));
  // And the global admin learns of any collision.
  EXPECT_THAT(
      CreateVillage(kAdminToken, "411323-danshui-01", "411323-huiche-north"),
      StatusIs(absl::StatusCode::kAlreadyExists,
               "village 411323-danshui-01 already exists"));
}

TEST_F(RegistryOracleTest, CreateRegionWithAnIdTakenOutsideTheScopeIsDenied) {
  const grpc::Status taken =
      CreateRegion(kHuicheAdminToken, "411323-danshui", "411323-huiche");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(taken.error_message(),
            "huiche-admin may not create region 411323-danshui: outside its "
            "scope 411323-huiche");
  // The same as a parent that does not exist.
  ExpectSameDenial(
      CreateRegion(kHuicheAdminToken, "411323-huiche-new", "411323-danshui"),
      "411323-huiche-new",
      CreateRegion(kHuicheAdminToken, "411323-huiche-new", "411323-nowhere"),
      "411323-huiche-new", "huiche-admin", "create region ");
  v1::Region region;
  ASSERT_OK(GetRegion(kAdminToken, "411323-danshui", &region));
  EXPECT_EQ(region.kind(), v1::TOWNSHIP);
  EXPECT_EQ(region.parent_id(), "411323");
  EXPECT_THAT(GetRegion(kAdminToken, "411323-huiche-new"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistryOracleTest, ImportUnderAnAbsentOrForeignRegionAnswersAlike) {
  auto import = [&](const std::string& region_id) {
    v1::RegistryRecord record;
    record.mutable_village()->set_id("411323-new-01");
    record.mutable_village()->set_name("新村");
    record.mutable_village()->set_region_id(region_id);
    record.mutable_village()->set_kind(v1::VILLAGE);
    return env_.Import({record}, kHuicheAdminToken).status();
  };
  const absl::Status existing = import("411323-danshui");
  const absl::Status absent = import("411323-nowhere");
  EXPECT_THAT(existing, StatusIs(absl::StatusCode::kPermissionDenied,
                                 "huiche-admin may not import village "
                                 "411323-new-01: outside its scope "
                                 "411323-huiche"));
  EXPECT_EQ(absent, existing);
  // A stored region of another township: refused before its kind shows.
  v1::RegistryRecord region;
  region.mutable_region()->set_id("411323-danshui");
  region.mutable_region()->set_kind(v1::DISTRICT);
  region.mutable_region()->set_name("丹水");
  region.mutable_region()->set_parent_id("411323-huiche");
  EXPECT_THAT(env_.Import({region}, kHuicheAdminToken),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "huiche-admin may not move region 411323-danshui: "
                       "outside its scope 411323-huiche"));
  EXPECT_THAT(GetVillage(kAdminToken, "411323-new-01"),
              StatusIs(absl::StatusCode::kNotFound, ""));
  v1::Region stored;
  ASSERT_OK(GetRegion(kAdminToken, "411323-danshui", &stored));
  EXPECT_EQ(stored.kind(), v1::TOWNSHIP);
}

}  // namespace
}  // namespace fivestar::registry
