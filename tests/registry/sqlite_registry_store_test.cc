// The SQLite registry store on its own: persistence, lineage through moves,
// the consistency rules it keeps without the logic above it, and its change
// feed (one entry per committed write, none for a failed one, filtering by
// the old or new path, and the migration that introduced it).
#include "services/registry/sqlite_registry_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "common/sqlite.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

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

std::vector<uint64_t> Sequences(const ChangeBatch& batch) {
  std::vector<uint64_t> out;
  for (const v1::Change& change : batch.changes) {
    out.push_back(change.sequence());
  }
  return out;
}

TEST_F(SqliteRegistryStoreTest, OnlyCommittedWritesAppendAndAreAnnounced) {
  std::vector<uint64_t> announced;
  store_->SetCommitObserver(
      [&](uint64_t newest) { announced.push_back(newest); });
  ASSERT_OK_AND_ASSIGN(Village v, store_->GetVillage("v"));
  EXPECT_THAT(store_->UpdateVillage(v, "stale"),
              StatusIs(absl::StatusCode::kAborted, ""));
  EXPECT_THAT(store_->DeleteRegion("d", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_THAT(store_->CreateRegion(MakeRegion("t1", v1::TOWNSHIP, "c")),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  ASSERT_OK(store_->Import({}, {MakeVillage("w", "d")}, /*dry_run=*/true));
  EXPECT_THAT(store_->NewestSequence(),
              ::fivestar::testing::IsOkAndHolds(6u));  // SetUp's writes.
  EXPECT_THAT(announced, IsEmpty());

  ASSERT_OK(store_->UpdateVillage(v, v.etag()));
  ASSERT_OK(store_->DeleteVillage("v", ""));
  ASSERT_OK(store_->Import({}, {}, /*dry_run=*/false));  // Nothing to say.
  EXPECT_THAT(announced, ElementsAre(7u, 8u));
  ASSERT_OK_AND_ASSIGN(ChangeBatch batch, store_->ReadChanges(6, {}, 10));
  EXPECT_EQ(Sequences(batch), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(batch.changes[0].kind(), v1::VILLAGE_CHANGED);
  EXPECT_EQ(batch.changes[1].kind(), v1::VILLAGE_DELETED);
  EXPECT_THAT(batch.changes[1].lineage(),
              ElementsAre("v", "d", "t1", "c", "p"));
  EXPECT_EQ(batch.scanned_through, 8u);
}

TEST_F(SqliteRegistryStoreTest, ReadChangesMatchesTheOldOrTheNewPathWhole) {
  ASSERT_OK_AND_ASSIGN(Village v, store_->GetVillage("v"));
  Village moved = v;
  moved.set_region_id("t2");
  ASSERT_OK(store_->UpdateVillage(moved, v.etag()));  // 7
  auto read = [&](std::vector<std::string> components) {
    absl::StatusOr<ChangeBatch> batch = store_->ReadChanges(6, components, 10);
    EXPECT_OK(batch);
    EXPECT_EQ(batch->scanned_through, 7u);  // Examined, matching or not.
    return batch.ok() ? Sequences(*batch) : std::vector<uint64_t>{};
  };
  const std::vector<uint64_t> seen = {7};
  EXPECT_EQ(read({"/t1/"}), seen);                // The place it left.
  EXPECT_EQ(read({"/t2/"}), seen);                // The place it joined.
  EXPECT_EQ(read({"/t1/", "/d/"}), seen);         // Both in the old path.
  EXPECT_THAT(read({"/t2/", "/d/"}), IsEmpty());  // Never both in one path.
  ASSERT_OK_AND_ASSIGN(ChangeBatch batch, store_->ReadChanges(6, {}, 10));
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].kind(), v1::VILLAGE_MOVED);
  EXPECT_THAT(batch.changes[0].lineage(), ElementsAre("v", "t2", "c", "p"));
  EXPECT_THAT(batch.changes[0].old_lineage(),
              ElementsAre("v", "d", "t1", "c", "p"));
  EXPECT_EQ(batch.changes[0].old_parent_id(), "d");
}

TEST(SqliteRegistryStoreMigrationTest, ExistingRecordsEnterTheFeedAsCreated) {
  fivestar::testing::TempDir dir;
  const std::string path = dir.File("registry.db");
  {
    // A database as the binary before the feed left it: schema version 1
    // (frozen here) with two regions and a village.
    const SqliteMigration v1_schema[] = {{1, "regions and villages", R"sql(
CREATE TABLE regions (
  id TEXT PRIMARY KEY,
  parent_id TEXT REFERENCES regions(id),
  kind INTEGER NOT NULL,
  path TEXT NOT NULL UNIQUE,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX regions_by_parent ON regions(parent_id);
CREATE TABLE villages (
  id TEXT PRIMARY KEY,
  region_id TEXT NOT NULL REFERENCES regions(id),
  target_level INTEGER NOT NULL,
  version INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX villages_by_region ON villages(region_id, id);
)sql"}};
    ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(path));
    ASSERT_OK(db->Migrate(v1_schema));
    // Ids chosen so that id order is not parent-first order.
    ASSERT_OK(
        db->Execute("INSERT INTO regions VALUES "
                    "('z', NULL, 1, '/z/', 1, 1000000, 1000000, x''), "
                    "('a', 'z', 4, '/z/a/', 1, 2000000, 3000000, x'');"
                    "INSERT INTO villages VALUES ('v', 'a', 0, 1, 4000000, "
                    "5000000, x'');"));
  }
  FakeClock clock(absl::FromUnixSeconds(1'664'000'000));
  ASSERT_OK_AND_ASSIGN(auto store, SqliteRegistryStore::Open(path, &clock));
  ASSERT_OK_AND_ASSIGN(ChangeBatch batch, store->ReadChanges(0, {}, 10));
  ASSERT_EQ(Sequences(batch), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(batch.changes[0].kind(), v1::REGION_CREATED);
  EXPECT_EQ(batch.changes[0].entity_id(), "z");
  EXPECT_EQ(batch.changes[1].kind(), v1::REGION_CREATED);
  EXPECT_THAT(batch.changes[1].lineage(), ElementsAre("a", "z"));
  EXPECT_EQ(batch.changes[1].change_time().seconds(), 3);  // Last update.
  EXPECT_EQ(batch.changes[2].kind(), v1::VILLAGE_CREATED);
  EXPECT_THAT(batch.changes[2].lineage(), ElementsAre("v", "a", "z"));
  ASSERT_OK_AND_ASSIGN(std::string feed_id, store->FeedId());
  EXPECT_EQ(feed_id.size(), 32u);
  EXPECT_EQ(batch.changes[0].feed_id(), feed_id);
  // The next write continues the sequence.
  ASSERT_OK(store->CreateRegion(MakeRegion("b", v1::TOWNSHIP, "z")));
  EXPECT_THAT(store->NewestSequence(), ::fivestar::testing::IsOkAndHolds(4u));
}

}  // namespace
}  // namespace fivestar::registry
