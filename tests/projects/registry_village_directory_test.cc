// RegistryVillageDirectory against the real registry: lineages, villages of
// a region across every ListVillages page, NOT_FOUND for unknown ids, and
// the cache (fresh answers served while the registry is down, none after the
// TTL or with the cache off).
#include "common/registry_client/registry_village_directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/peer_client.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using namespace ::fivestar::projects::testing;

class RegistryVillageDirectoryTest : public ::testing::Test {
 protected:
  RegistryVillageDirectory Directory(absl::Duration ttl) {
    RegistryDirectoryOptions options;
    options.bearer_token = kProjectsServiceToken;
    options.cache_ttl = ttl;
    return RegistryVillageDirectory(NewPeerChannel(env_.registry().address()),
                                    options, &env_.clock());
  }

  ProjectsTestEnv env_;
};

TEST_F(RegistryVillageDirectoryTest, AnswersLineagesAndUnknownIds) {
  RegistryVillageDirectory directory = Directory(absl::Seconds(60));
  EXPECT_THAT(directory.VillageLineage(kDangziling),
              IsOkAndHolds(ElementsAre(kDangziling, kWest, kHuiche, "411323",
                                       "411300", "410000")));
  EXPECT_THAT(
      directory.RegionLineage(kWest),
      IsOkAndHolds(ElementsAre(kWest, kHuiche, "411323", "411300", "410000")));
  EXPECT_THAT(directory.VillageLineage(kWest),
              StatusIs(absl::StatusCode::kNotFound,
                       "village 411323-huiche-west does not exist in the "
                       "registry"));
  EXPECT_THAT(directory.RegionLineage(kDangziling),
              StatusIs(absl::StatusCode::kNotFound, "region"));
  EXPECT_THAT(directory.VillagesUnder("411323-nowhere"),
              StatusIs(absl::StatusCode::kNotFound, "411323-nowhere"));
}

TEST_F(RegistryVillageDirectoryTest, VillagesUnderFollowsEveryPage) {
  // 1,205 villages: two full pages of the registry's 1,000 and a partial.
  registry::v1::Region district;
  district.set_id("411323-other-big");
  district.set_kind(registry::v1::DISTRICT);
  district.set_name("大管区");
  district.set_parent_id(kOtherTownship);
  const Principal admin{"fixture", Role::kAdmin, "*"};
  ASSERT_OK(env_.registry().registry().CreateRegion(admin, district));
  auto import = env_.registry().registry().StartImport(admin);
  ASSERT_OK(import);
  registry::v1::ImportRegistryRequest chunk;
  for (int i = 0; i < 1205; ++i) {
    registry::v1::Village* village = chunk.add_records()->mutable_village();
    village->set_id(absl::StrFormat("411323-other-big-%04d", i));
    village->set_name(absl::StrFormat("村%d", i));
    village->set_region_id(district.id());
    village->set_kind(registry::v1::VILLAGE);
  }
  ASSERT_OK((*import)->Add(chunk));
  ASSERT_OK((*import)->Finish());

  RegistryVillageDirectory directory = Directory(absl::Seconds(60));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> big,
                       directory.VillagesUnder(district.id()));
  EXPECT_EQ(big.size(), 1205u);
  EXPECT_TRUE(std::is_sorted(big.begin(), big.end()));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> township,
                       directory.VillagesUnder(kOtherTownship));
  EXPECT_EQ(township.size(), 1206u);  // The district's and its own village.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> west,
                       directory.VillagesUnder(kWest));
  EXPECT_THAT(west, ElementsAre(kDangziling, kDougou, "411323-huiche-west-03"));
}

TEST_F(RegistryVillageDirectoryTest, CachedAnswersLastUntilTheTtl) {
  RegistryVillageDirectory directory = Directory(absl::Seconds(60));
  ASSERT_OK(directory.VillageLineage(kDangziling));
  ASSERT_OK(directory.VillagesUnder(kWest));
  env_.registry().Stop();
  env_.clock().Advance(absl::Seconds(59));
  EXPECT_OK(directory.VillageLineage(kDangziling));
  EXPECT_OK(directory.VillagesUnder(kWest));
  EXPECT_THAT(directory.VillageLineage(kMaohe),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
  env_.clock().Advance(absl::Seconds(1));
  EXPECT_THAT(directory.VillageLineage(kDangziling),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry could not be reached to look up "
                       "village 411323-huiche-west-01"));
  EXPECT_THAT(directory.VillagesUnder(kWest),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
}

TEST_F(RegistryVillageDirectoryTest, ZeroTtlAsksEveryTime) {
  RegistryVillageDirectory directory = Directory(absl::ZeroDuration());
  ASSERT_OK(directory.VillageLineage(kDangziling));
  env_.registry().Stop();
  EXPECT_THAT(directory.VillageLineage(kDangziling),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
}

}  // namespace
}  // namespace fivestar::projects
