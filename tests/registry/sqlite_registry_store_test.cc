// The SQLite registry store on its own: persistence, lineage through moves,
// and the consistency rules it keeps without the logic above it.
#include "services/registry/sqlite_registry_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;

Region MakeRegion(const std::string& id, RegionKind kind,
                  const std::string& parent) {
  Region region;
  region.set_id(id);
  region.set_kind(kind);
  region.set_name(id);
  region.set_parent_id(parent);
  return region;
}

Village MakeVillage(const std::string& id, const std::string& region) {
  Village village;
  village.set_id(id);
  village.set_name(id);
  village.set_region_id(region);
  village.set_kind(v1::VILLAGE);
  return village;
}

class SqliteRegistryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(store_, SqliteRegistryStore::Open(path_, &clock_));
    ASSERT_OK(store_->CreateRegion(MakeRegion("p", v1::PROVINCE, "")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("c", v1::COUNTY, "p")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("t1", v1::TOWNSHIP, "c")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("t2", v1::TOWNSHIP, "c")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("d", v1::DISTRICT, "t1")));
    ASSERT_OK(store_->CreateVillage(MakeVillage("v", "d")));
  }

  fivestar::testing::TempDir dir_;
  std::string path_ = dir_.File("registry.db");
  FakeClock clock_{absl::FromUnixSeconds(1'664'000'000)};
  std::unique_ptr<SqliteRegistryStore> store_;
};

TEST_F(SqliteRegistryStoreTest, DataSurvivesReopening) {
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, SqliteRegistryStore::Open(path_, &clock_));
  ASSERT_OK_AND_ASSIGN(Village village, store_->GetVillage("v"));
  EXPECT_EQ(village.region_id(), "d");
  EXPECT_EQ(village.create_time().seconds(), 1'664'000'000);
}

TEST_F(SqliteRegistryStoreTest, LineageFollowsAMove) {
  EXPECT_THAT(
      store_->RegionLineage("d"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("d", "t1", "c", "p")));
  ASSERT_OK_AND_ASSIGN(Region d, store_->GetRegion("d"));
  Region moved = d;
  moved.set_parent_id("t2");
  ASSERT_OK(store_->UpdateRegion(moved, d.etag()));
  EXPECT_THAT(
      store_->RegionLineage("d"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("d", "t2", "c", "p")));
  VillageQuery query;
  query.ancestor_id = "t2";
  ASSERT_OK_AND_ASSIGN(std::vector<Village> below_t2,
                       store_->ListVillages(query));
  ASSERT_EQ(below_t2.size(), 1u);
  query.ancestor_id = "t1";
  ASSERT_OK_AND_ASSIGN(std::vector<Village> below_t1,
                       store_->ListVillages(query));
  EXPECT_TRUE(below_t1.empty());
}

TEST_F(SqliteRegistryStoreTest, MovingUnderOwnDescendantIsRefused) {
  ASSERT_OK_AND_ASSIGN(Region t1, store_->GetRegion("t1"));
  Region moved = t1;
  moved.set_parent_id("d");
  EXPECT_THAT(store_->UpdateRegion(moved, t1.etag()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot become its own ancestor"));
}

TEST_F(SqliteRegistryStoreTest, ReferencesMustExist) {
  EXPECT_THAT(store_->CreateVillage(MakeVillage("w", "nowhere")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "region nowhere does not exist"));
  EXPECT_THAT(store_->CreateRegion(MakeRegion("x", v1::TOWNSHIP, "nowhere")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "region nowhere does not exist"));
}

TEST_F(SqliteRegistryStoreTest, EtagChangesOnEveryUpdate) {
  ASSERT_OK_AND_ASSIGN(Village v1, store_->GetVillage("v"));
  ASSERT_OK_AND_ASSIGN(Village v2, store_->UpdateVillage(v1, v1.etag()));
  EXPECT_NE(v1.etag(), v2.etag());  // Same clock reading, new version.
  EXPECT_THAT(store_->UpdateVillage(v1, v1.etag()),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
}

TEST_F(SqliteRegistryStoreTest, DryRunImportRollsBack) {
  ASSERT_OK_AND_ASSIGN(
      ImportCounts counts,
      store_->Import({MakeRegion("t3", v1::TOWNSHIP, "c")},
                     {MakeVillage("v2", "t3")}, /*dry_run=*/true));
  EXPECT_EQ(counts.created, 2);
  EXPECT_THAT(store_->GetRegion("t3"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

}  // namespace
}  // namespace fivestar::registry
