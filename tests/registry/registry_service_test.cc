// gRPC-level tests of every registry RPC: happy paths, each field rule,
// paging, etags, deletion rules. Import/export and auth have their own files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using testing::kAdminToken;
using testing::RegistryTestEnv;
using ::testing::SizeIs;

class RegistryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env_.Import(testing::HuicheRecords())); }

  absl::StatusOr<v1::Region> CreateRegion(const v1::Region& region) {
    v1::CreateRegionRequest request;
    *request.mutable_region() = region;
    v1::Region response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().CreateRegion(context.get(), request, &response)));
    return response;
  }

  absl::StatusOr<v1::Region> GetRegion(const std::string& id) {
    v1::GetRegionRequest request;
    request.set_id(id);
    v1::Region response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().GetRegion(context.get(), request, &response)));
    return response;
  }

  absl::StatusOr<v1::Region> UpdateRegion(const v1::Region& region,
                                          std::vector<std::string> paths) {
    v1::UpdateRegionRequest request;
    *request.mutable_region() = region;
    for (auto& path : paths) request.mutable_update_mask()->add_paths(path);
    v1::Region response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().UpdateRegion(context.get(), request, &response)));
    return response;
  }

  absl::Status DeleteRegion(const std::string& id,
                            const std::string& etag = "") {
    v1::DeleteRegionRequest request;
    request.set_id(id);
    request.set_etag(etag);
    google::protobuf::Empty response;
    auto context = NewContext(kAdminToken);
    return FromGrpcStatus(
        env_.stub().DeleteRegion(context.get(), request, &response));
  }

  absl::StatusOr<v1::Village> CreateVillage(const v1::Village& village) {
    v1::CreateVillageRequest request;
    *request.mutable_village() = village;
    v1::Village response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().CreateVillage(context.get(), request, &response)));
    return response;
  }

  absl::StatusOr<v1::Village> GetVillage(const std::string& id) {
    v1::GetVillageRequest request;
    request.set_id(id);
    v1::Village response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().GetVillage(context.get(), request, &response)));
    return response;
  }

  absl::StatusOr<v1::Village> UpdateVillage(const v1::Village& village,
                                            std::vector<std::string> paths) {
    v1::UpdateVillageRequest request;
    *request.mutable_village() = village;
    for (auto& path : paths) request.mutable_update_mask()->add_paths(path);
    v1::Village response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().UpdateVillage(context.get(), request, &response)));
    return response;
  }

  absl::Status DeleteVillage(const std::string& id,
                             const std::string& etag = "") {
    v1::DeleteVillageRequest request;
    request.set_id(id);
    request.set_etag(etag);
    google::protobuf::Empty response;
    auto context = NewContext(kAdminToken);
    return FromGrpcStatus(
        env_.stub().DeleteVillage(context.get(), request, &response));
  }

  absl::StatusOr<v1::ListVillagesResponse> ListVillages(
      const v1::ListVillagesRequest& request) {
    v1::ListVillagesResponse response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().ListVillages(context.get(), request, &response)));
    return response;
  }

  absl::StatusOr<v1::ListRegionsResponse> ListRegions(
      const v1::ListRegionsRequest& request) {
    v1::ListRegionsResponse response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(FromGrpcStatus(
        env_.stub().ListRegions(context.get(), request, &response)));
    return response;
  }

  // Every village id below `ancestor`, following pages of `page_size`.
  std::vector<std::string> AllVillageIds(const std::string& ancestor,
                                         int page_size, int* pages) {
    std::vector<std::string> ids;
    v1::ListVillagesRequest request;
    request.set_ancestor_id(ancestor);
    request.set_page_size(page_size);
    *pages = 0;
    while (true) {
      absl::StatusOr<v1::ListVillagesResponse> page = ListVillages(request);
      EXPECT_OK(page);
      if (!page.ok()) break;
      ++*pages;
      for (const auto& village : page->villages()) ids.push_back(village.id());
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return ids;
  }

  static v1::Village NewVillage(const std::string& id) {
    v1::Village village;
    village.set_id(id);
    village.set_name("新村");
    village.set_region_id("411323-huiche-east");
    village.set_kind(v1::VILLAGE);
    village.set_committee_members(5);
    village.set_target_level(3);
    village.set_target_year(2023);
    return village;
  }

  static v1::Region NewTownship(const std::string& id) {
    v1::Region region;
    region.set_id(id);
    region.set_kind(v1::TOWNSHIP);
    region.set_name("丁河镇");
    region.set_parent_id("411323");
    return region;
  }

  RegistryTestEnv env_;
};

TEST_F(RegistryServiceTest, CreatedVillageReadsBackWithOutputFields) {
  ASSERT_OK_AND_ASSIGN(v1::Village created,
                       CreateVillage(NewVillage("east-new")));
  EXPECT_FALSE(created.etag().empty());
  EXPECT_EQ(created.create_time().seconds(),
            absl::ToUnixSeconds(env_.clock().Now()));
  ASSERT_OK_AND_ASSIGN(v1::Village read, GetVillage("east-new"));
  EXPECT_EQ(read.SerializeAsString(), created.SerializeAsString());
  EXPECT_EQ(read.name(), "新村");
  EXPECT_EQ(read.target_level(), 3);
}

TEST_F(RegistryServiceTest, CreatingAnExistingVillageIsAlreadyExists) {
  EXPECT_THAT(CreateVillage(NewVillage("411323-huiche-north-01")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "village 411323-huiche-north-01 already exists"));
}

TEST_F(RegistryServiceTest, MissingThingsAreNotFound) {
  EXPECT_THAT(GetVillage("nowhere"),
              StatusIs(absl::StatusCode::kNotFound, "village nowhere"));
  EXPECT_THAT(GetRegion("nowhere"),
              StatusIs(absl::StatusCode::kNotFound, "region nowhere"));
  EXPECT_THAT(DeleteVillage("nowhere"),
              StatusIs(absl::StatusCode::kNotFound, "village nowhere"));
}

struct VillageRule {
  std::string name;
  std::function<void(v1::Village&)> mutate;
  std::string message;
};

// Keeps ctest's listing short: the name, not the struct's bytes.
void PrintTo(const VillageRule& rule, std::ostream* os) { *os << rule.name; }

class VillageRuleTest : public RegistryServiceTest,
                        public ::testing::WithParamInterface<VillageRule> {};

TEST_P(VillageRuleTest, BadFieldIsInvalidArgumentAndWritesNothing) {
  v1::Village village = NewVillage("east-bad");
  GetParam().mutate(village);
  EXPECT_THAT(CreateVillage(village),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message));
  if (!village.id().empty() && village.id().size() <= 64) {
    EXPECT_THAT(GetVillage("east-bad"),
                StatusIs(absl::StatusCode::kNotFound, ""));
  }
}

INSTANTIATE_TEST_SUITE_P(
    EachRule, VillageRuleTest,
    ::testing::Values(
        VillageRule{"EmptyId", [](v1::Village& v) { v.set_id(""); },
                    "village.id: required"},
        VillageRule{"IdTooLong",
                    [](v1::Village& v) { v.set_id(std::string(65, 'a')); },
                    "village.id: must be at most 64 characters, got 65"},
        VillageRule{"IdWithSlash", [](v1::Village& v) { v.set_id("a/b"); },
                    "village.id: must use only [A-Za-z0-9._-]"},
        VillageRule{"NoName", [](v1::Village& v) { v.set_name(""); },
                    "village.name: required"},
        VillageRule{"NameTooLong",
                    [](v1::Village& v) { v.set_name(std::string(101, 'x')); },
                    "village.name: must be 1..100 characters, got 101"},
        VillageRule{"NameWithNewline",
                    [](v1::Village& v) { v.set_name("a\nb"); },
                    "village.name: must not contain control characters"},
        VillageRule{"NoRegion", [](v1::Village& v) { v.set_region_id(""); },
                    "village.region_id: required"},
        VillageRule{"UnknownRegion",
                    [](v1::Village& v) { v.set_region_id("nowhere"); },
                    "village.region_id: region nowhere does not exist"},
        VillageRule{"RegionIsCounty",
                    [](v1::Village& v) { v.set_region_id("411323"); },
                    "village.region_id: region 411323 is a COUNTY"},
        VillageRule{
            "NoKind",
            [](v1::Village& v) { v.set_kind(v1::VILLAGE_KIND_UNSPECIFIED); },
            "village.kind: required"},
        VillageRule{"CommitteeTooLarge",
                    [](v1::Village& v) { v.set_committee_members(51); },
                    "village.committee_members: must be 0..50, got 51"},
        VillageRule{"NegativePartyMembers",
                    [](v1::Village& v) { v.set_party_members(-1); },
                    "village.party_members: must be 0..100000, got -1"},
        VillageRule{"NegativeHouseholds",
                    [](v1::Village& v) { v.set_households(-3); },
                    "village.households: must be 0..1000000, got -3"},
        VillageRule{"NegativePopulation",
                    [](v1::Village& v) { v.set_population(-1); },
                    "village.population: must be 0..10000000, got -1"},
        VillageRule{"TooManyGrids", [](v1::Village& v) { v.set_grids(10001); },
                    "village.grids: must be 0..10000, got 10001"},
        VillageRule{"DuplicateIndustry",
                    [](v1::Village& v) {
                      v.add_signature_industries("kiwifruit");
                      v.add_signature_industries("kiwifruit");
                    },
                    "village.signature_industries[1]: duplicate tag"},
        VillageRule{"EmptyIndustry",
                    [](v1::Village& v) { v.add_signature_industries(""); },
                    "village.signature_industries[0]: required"},
        VillageRule{"TooManyIndustries",
                    [](v1::Village& v) {
                      for (int i = 0; i < 21; ++i) {
                        v.add_signature_industries(absl::StrCat("tag", i));
                      }
                    },
                    "village.signature_industries: must hold at most 20"},
        VillageRule{"TargetLevelSeven",
                    [](v1::Village& v) { v.set_target_level(7); },
                    "village.target_level: must be 0..5, got 7"},
        VillageRule{"TargetWithoutYear",
                    [](v1::Village& v) { v.set_target_year(0); },
                    "village.target_year: required when target_level is set"},
        VillageRule{"TargetYearTooEarly",
                    [](v1::Village& v) { v.set_target_year(1999); },
                    "village.target_year: must be 2000..2100, got 1999"},
        VillageRule{"SecretaryTooLong",
                    [](v1::Village& v) {
                      v.set_branch_secretary(std::string(101, 'x'));
                    },
                    "village.branch_secretary: must be 0..100 characters"},
        VillageRule{"OfficerPadded",
                    [](v1::Village& v) { v.set_guidance_officer(" 李 "); },
                    "village.guidance_officer: must not start or end with "
                    "whitespace"}),
    [](const ::testing::TestParamInfo<VillageRule>& info) {
      return info.param.name;
    });

struct RegionRule {
  std::string name;
  std::function<void(v1::Region&)> mutate;
  std::string message;
};

void PrintTo(const RegionRule& rule, std::ostream* os) { *os << rule.name; }

class RegionRuleTest : public RegistryServiceTest,
                       public ::testing::WithParamInterface<RegionRule> {};

TEST_P(RegionRuleTest, BadFieldIsInvalidArgumentAndWritesNothing) {
  v1::Region region = NewTownship("dinghe");
  GetParam().mutate(region);
  EXPECT_THAT(CreateRegion(region),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message));
  EXPECT_THAT(GetRegion("dinghe"), StatusIs(absl::StatusCode::kNotFound, ""));
}

INSTANTIATE_TEST_SUITE_P(
    EachRule, RegionRuleTest,
    ::testing::Values(
        RegionRule{"EmptyId", [](v1::Region& r) { r.set_id(""); },
                   "region.id: required"},
        RegionRule{"IdWithSpace", [](v1::Region& r) { r.set_id("din he"); },
                   "region.id: must use only [A-Za-z0-9._-]"},
        RegionRule{"NoKind",
                   [](v1::Region& r) {
                     r.set_id("dinghe");
                     r.set_kind(v1::REGION_KIND_UNSPECIFIED);
                   },
                   "region.kind: required"},
        RegionRule{
            "UnknownKind",
            [](v1::Region& r) { r.set_kind(static_cast<v1::RegionKind>(9)); },
            "region.kind: unknown value 9"},
        RegionRule{"NoName", [](v1::Region& r) { r.set_name(""); },
                   "region.name: required"},
        RegionRule{"NameTooLong",
                   [](v1::Region& r) { r.set_name(std::string(101, 'x')); },
                   "region.name: must be 1..100 characters, got 101"},
        RegionRule{"EnglishNameTooLong",
                   [](v1::Region& r) { r.set_name_en(std::string(101, 'x')); },
                   "region.name_en: must be 0..100 characters, got 101"},
        RegionRule{"BadParentId", [](v1::Region& r) { r.set_parent_id("a/b"); },
                   "region.parent_id: must use only [A-Za-z0-9._-]"},
        RegionRule{"OwnParent",
                   [](v1::Region& r) { r.set_parent_id("dinghe"); },
                   "region.parent_id: a region cannot be its own parent"},
        RegionRule{"MissingParent",
                   [](v1::Region& r) { r.set_parent_id("nowhere"); },
                   "region.parent_id: region nowhere does not exist"},
        RegionRule{"ParentOfSameKind",
                   [](v1::Region& r) { r.set_parent_id("411323-huiche"); },
                   "region.parent_id: a TOWNSHIP cannot sit under "
                   "411323-huiche (a TOWNSHIP)"},
        RegionRule{
            "ParentOfLowerKind",
            [](v1::Region& r) { r.set_parent_id("411323-huiche-north"); },
            "a TOWNSHIP cannot sit under 411323-huiche-north (a "
            "DISTRICT)"},
        RegionRule{"DuplicateIndustry",
                   [](v1::Region& r) {
                     r.add_signature_industries("tea");
                     r.add_signature_industries("tea");
                   },
                   "region.signature_industries[1]: duplicate tag \"tea\""},
        RegionRule{"IndustryTooLong",
                   [](v1::Region& r) {
                     r.add_signature_industries(std::string(65, 'x'));
                   },
                   "region.signature_industries[0]: must be 1..64 "
                   "characters, got 65"}),
    [](const ::testing::TestParamInfo<RegionRule>& info) {
      return info.param.name;
    });

TEST_F(RegistryServiceTest, GetAndListRequestRulesForRegions) {
  EXPECT_THAT(GetRegion(""),
              StatusIs(absl::StatusCode::kInvalidArgument, "id: required"));
  v1::ListRegionsRequest request;
  request.set_kind(static_cast<v1::RegionKind>(42));
  EXPECT_THAT(ListRegions(request), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "kind: unknown value 42"));
  request.set_kind(v1::DISTRICT);
  request.set_page_size(5000);
  EXPECT_THAT(ListRegions(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_size: must be 0..1000, got 5000"));
  request.set_page_size(0);
  request.set_ancestor_id("nowhere");
  EXPECT_THAT(ListRegions(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_id: region nowhere does not exist"));
}

TEST_F(RegistryServiceTest, RegionFieldRulesNameTheField) {
  v1::Region region = NewTownship("dinghe");
  region.set_kind(v1::REGION_KIND_UNSPECIFIED);
  EXPECT_THAT(CreateRegion(region), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "region.kind: required"));
  region = NewTownship("dinghe");
  region.set_name("");
  EXPECT_THAT(CreateRegion(region), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "region.name: required"));
  region = NewTownship("dinghe");
  region.set_parent_id("dinghe");
  EXPECT_THAT(CreateRegion(region),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "region.parent_id: a region cannot be its own parent"));
  region = NewTownship("dinghe");
  region.set_parent_id("nowhere");
  EXPECT_THAT(CreateRegion(region),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "region.parent_id: region nowhere does not exist"));
  region = NewTownship("dinghe");
  region.set_parent_id("411323-huiche");
  EXPECT_THAT(CreateRegion(region),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "region.parent_id: a TOWNSHIP cannot sit under "
                       "411323-huiche (a TOWNSHIP)"));
  EXPECT_THAT(GetRegion("dinghe"), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistryServiceTest, RegionCreateGetUpdateDelete) {
  ASSERT_OK_AND_ASSIGN(v1::Region created, CreateRegion(NewTownship("dinghe")));
  EXPECT_EQ(created.name(), "丁河镇");
  v1::Region change;
  change.set_id("dinghe");
  change.set_name_en("Dinghe");
  change.set_name("ignored: not in the mask");
  change.set_etag(created.etag());
  ASSERT_OK_AND_ASSIGN(v1::Region updated, UpdateRegion(change, {"name_en"}));
  EXPECT_EQ(updated.name(), "丁河镇");
  EXPECT_EQ(updated.name_en(), "Dinghe");
  EXPECT_NE(updated.etag(), created.etag());
  ASSERT_OK_AND_ASSIGN(v1::Region read, GetRegion("dinghe"));
  EXPECT_EQ(read.SerializeAsString(), updated.SerializeAsString());
  EXPECT_THAT(DeleteRegion("dinghe", created.etag()),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ASSERT_OK(DeleteRegion("dinghe", updated.etag()));
  EXPECT_THAT(GetRegion("dinghe"), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistryServiceTest, RegionKindCannotChange) {
  v1::Region change;
  change.set_id("411323-huiche-north");
  change.set_kind(v1::TOWNSHIP);
  EXPECT_THAT(UpdateRegion(change, {"kind"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask.paths[0]: \"kind\" cannot be changed"));
}

TEST_F(RegistryServiceTest, MovingARegionMovesItsVillages) {
  ASSERT_OK(CreateRegion(NewTownship("dinghe")));
  v1::Region move;
  move.set_id("411323-huiche-west");
  move.set_parent_id("dinghe");
  ASSERT_OK_AND_ASSIGN(v1::Region moved, UpdateRegion(move, {"parent_id"}));
  EXPECT_EQ(moved.parent_id(), "dinghe");
  int pages = 0;
  EXPECT_THAT(AllVillageIds("dinghe", 100, &pages),
              ElementsAre("411323-huiche-west-01", "411323-huiche-west-02",
                          "411323-huiche-west-03"));
  EXPECT_THAT(AllVillageIds("411323-huiche", 100, &pages), SizeIs(18));
  // A region cannot move below its own subtree, nor under a lower kind.
  move.set_id("411323-huiche");
  move.set_parent_id("411323-huiche-north");
  EXPECT_THAT(UpdateRegion(move, {"parent_id"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "a TOWNSHIP cannot sit under 411323-huiche-north"));
}

TEST_F(RegistryServiceTest, DeletingARegionWithChildrenFails) {
  EXPECT_THAT(DeleteRegion("411323-huiche"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "region 411323-huiche still has 5 child regions and 0 "
                       "villages"));
  EXPECT_THAT(DeleteRegion("411323-huiche-west"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "still has 0 child regions and 3 villages"));
  for (const char* id : {"411323-huiche-west-01", "411323-huiche-west-02",
                         "411323-huiche-west-03"}) {
    ASSERT_OK(DeleteVillage(id));
  }
  ASSERT_OK(DeleteRegion("411323-huiche-west"));
  EXPECT_THAT(GetRegion("411323-huiche-west"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistryServiceTest, UpdateVillageChangesOnlyMaskedFields) {
  ASSERT_OK_AND_ASSIGN(v1::Village before,
                       GetVillage("411323-huiche-north-01"));
  env_.clock().Advance(absl::Minutes(5));
  v1::Village change;
  change.set_id(before.id());
  change.set_target_level(4);
  change.set_committee_members(0);  // Not in the mask: must not change.
  change.set_etag(before.etag());
  ASSERT_OK_AND_ASSIGN(v1::Village after,
                       UpdateVillage(change, {"target_level"}));
  EXPECT_EQ(after.target_level(), 4);
  EXPECT_EQ(after.committee_members(), before.committee_members());
  EXPECT_EQ(after.target_year(), 2022);
  EXPECT_EQ(after.create_time().seconds(), before.create_time().seconds());
  EXPECT_EQ(after.update_time().seconds(),
            before.update_time().seconds() + 300);
}

TEST_F(RegistryServiceTest, StaleEtagIsAbortedAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(v1::Village original,
                       GetVillage("411323-huiche-north-01"));
  v1::Village first;
  first.set_id(original.id());
  first.set_target_level(4);
  first.set_etag(original.etag());
  ASSERT_OK(UpdateVillage(first, {"target_level"}));
  v1::Village second = first;
  second.set_target_level(5);  // Based on the etag the first update replaced.
  EXPECT_THAT(UpdateVillage(second, {"target_level"}),
              StatusIs(absl::StatusCode::kAborted,
                       "village 411323-huiche-north-01 was changed by someone "
                       "else (etag mismatch)"));
  ASSERT_OK_AND_ASSIGN(v1::Village now, GetVillage(original.id()));
  EXPECT_EQ(now.target_level(), 4);
  EXPECT_THAT(DeleteVillage(original.id(), original.etag()),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ASSERT_OK(DeleteVillage(original.id(), now.etag()));
}

TEST_F(RegistryServiceTest, UpdateMaskRules) {
  v1::Village change;
  change.set_id("411323-huiche-north-01");
  change.set_target_level(9);
  EXPECT_THAT(UpdateVillage(change, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask: must name the fields to change"));
  EXPECT_THAT(UpdateVillage(change, {"target_level", "etag"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "update_mask.paths[1]: \"etag\" cannot be changed"));
  EXPECT_THAT(UpdateVillage(change, {"*", "name"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "\"*\" must be the only path"));
  EXPECT_THAT(UpdateVillage(change, {"target_level"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "village.target_level: must be 0..5, got 9"));
  ASSERT_OK_AND_ASSIGN(v1::Village now, GetVillage("411323-huiche-north-01"));
  EXPECT_EQ(now.target_level(), 3);
}

TEST_F(RegistryServiceTest, StarMaskReplacesEveryMutableField) {
  v1::Village replacement = NewVillage("411323-huiche-north-01");
  replacement.set_region_id("411323-huiche-south");
  ASSERT_OK_AND_ASSIGN(v1::Village after, UpdateVillage(replacement, {"*"}));
  EXPECT_EQ(after.name(), "新村");
  EXPECT_EQ(after.region_id(), "411323-huiche-south");
  EXPECT_EQ(after.signature_industries_size(), 0);
  EXPECT_EQ(after.target_year(), 2023);
}

TEST_F(RegistryServiceTest, ListVillagesPagesThroughEverythingInIdOrder) {
  int pages = 0;
  std::vector<std::string> ids = AllVillageIds("", 4, &pages);
  EXPECT_EQ(pages, 6);  // 21 villages in pages of 4.
  ASSERT_THAT(ids, SizeIs(21));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 21u);
  EXPECT_EQ(ids.front(), "411323-huiche-east-01");
  EXPECT_EQ(ids.back(), "411323-huiche-west-03");
}

TEST_F(RegistryServiceTest, ListVillagesFiltersByAncestorAndTarget) {
  int pages = 0;
  EXPECT_THAT(AllVillageIds("411323-huiche-north", 2, &pages),
              ElementsAre("411323-huiche-north-01", "411323-huiche-north-02",
                          "411323-huiche-north-03", "411323-huiche-north-04"));
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(AllVillageIds("410000", 100, &pages), SizeIs(21));
  v1::ListVillagesRequest request;
  request.set_target_level(4);
  ASSERT_OK_AND_ASSIGN(auto four_star, ListVillages(request));
  EXPECT_EQ(four_star.villages_size(), 3);
  request.set_target_level(3);
  ASSERT_OK_AND_ASSIGN(auto three_star, ListVillages(request));
  EXPECT_EQ(three_star.villages_size(), 7);
  request.set_target_level(2);
  ASSERT_OK_AND_ASSIGN(auto two_star, ListVillages(request));
  EXPECT_EQ(two_star.villages_size(), 9);
}

TEST_F(RegistryServiceTest, ListRequestRules) {
  v1::ListVillagesRequest request;
  request.set_page_size(-1);
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_size: must be 0..1000, got -1"));
  request.set_page_size(1001);
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_size"));
  request.set_page_size(0);
  request.set_target_level(6);
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "target_level: must be 1..5, got 6"));
  request.set_target_level(0);
  request.set_ancestor_id("nowhere");
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_id: region nowhere does not exist"));
  request.set_ancestor_id("");
  request.set_page_token("garbage!");
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: is not a token this server issued"));
}

TEST_F(RegistryServiceTest, PageTokenIsBoundToItsFilters) {
  v1::ListVillagesRequest request;
  request.set_page_size(2);
  request.set_ancestor_id("411323-huiche-north");
  ASSERT_OK_AND_ASSIGN(auto first, ListVillages(request));
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_ancestor_id("411323-huiche-south");
  request.set_page_token(first.next_page_token());
  EXPECT_THAT(ListVillages(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token: was issued for a request with other "
                       "filters"));
}

TEST_F(RegistryServiceTest, ListRegionsByAncestorAndKind) {
  v1::ListRegionsRequest request;
  request.set_ancestor_id("411323-huiche");
  request.set_page_size(3);
  ASSERT_OK_AND_ASSIGN(auto first, ListRegions(request));
  ASSERT_EQ(first.regions_size(), 3);
  EXPECT_EQ(first.regions(0).id(), "411323-huiche-east");
  request.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(auto second, ListRegions(request));
  ASSERT_EQ(second.regions_size(), 2);
  EXPECT_EQ(second.regions(1).id(), "411323-huiche-west");
  EXPECT_TRUE(second.next_page_token().empty());

  v1::ListRegionsRequest by_kind;
  by_kind.set_kind(v1::COUNTY);
  ASSERT_OK_AND_ASSIGN(auto counties, ListRegions(by_kind));
  ASSERT_EQ(counties.regions_size(), 1);
  EXPECT_EQ(counties.regions(0).name(), "西峡县");
  v1::ListRegionsRequest all;
  ASSERT_OK_AND_ASSIGN(auto everything, ListRegions(all));
  EXPECT_EQ(everything.regions_size(), 9);
}

TEST_F(RegistryServiceTest, BatchGetKeepsRequestOrder) {
  v1::BatchGetVillagesRequest request;
  request.add_ids("411323-huiche-west-01");
  request.add_ids("411323-huiche-north-01");
  request.add_ids("411323-huiche-west-01");
  v1::BatchGetVillagesResponse response;
  auto context = NewContext(kAdminToken);
  ASSERT_TRUE(
      env_.stub().BatchGetVillages(context.get(), request, &response).ok());
  ASSERT_EQ(response.villages_size(), 3);
  EXPECT_EQ(response.villages(0).name(), "垱子岭");
  EXPECT_EQ(response.villages(1).name(), "毛河");
  EXPECT_EQ(response.villages(2).name(), "垱子岭");

  request.add_ids("nowhere");
  auto missing_context = NewContext(kAdminToken);
  EXPECT_THAT(
      env_.stub().BatchGetVillages(missing_context.get(), request, &response),
      StatusIs(absl::StatusCode::kNotFound, "village nowhere not found"));
  v1::BatchGetVillagesRequest empty;
  auto empty_context = NewContext(kAdminToken);
  EXPECT_THAT(
      env_.stub().BatchGetVillages(empty_context.get(), empty, &response),
      StatusIs(absl::StatusCode::kInvalidArgument, "ids: required"));
}

TEST_F(RegistryServiceTest, AncestorsRunFromNearestToRoot) {
  v1::GetAncestorsRequest request;
  request.set_village_id("411323-huiche-west-01");
  v1::GetAncestorsResponse response;
  auto context = NewContext(kAdminToken);
  ASSERT_TRUE(env_.stub().GetAncestors(context.get(), request, &response).ok());
  std::vector<std::string> ids;
  for (const auto& region : response.ancestors()) ids.push_back(region.id());
  EXPECT_THAT(ids, ElementsAre("411323-huiche-west", "411323-huiche", "411323",
                               "411300", "410000"));
  EXPECT_EQ(response.ancestors(4).name(), "河南省");

  request.set_region_id("411323");
  auto region_context = NewContext(kAdminToken);
  ASSERT_TRUE(
      env_.stub().GetAncestors(region_context.get(), request, &response).ok());
  ASSERT_EQ(response.ancestors_size(), 2);
  EXPECT_EQ(response.ancestors(0).id(), "411300");

  v1::GetAncestorsRequest neither;
  auto neither_context = NewContext(kAdminToken);
  EXPECT_THAT(
      env_.stub().GetAncestors(neither_context.get(), neither, &response),
      StatusIs(absl::StatusCode::kInvalidArgument, "subject: set village_id"));
}

}  // namespace
}  // namespace fivestar::registry
