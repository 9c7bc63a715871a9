// The registry store on its own, on both engines (SQLite and a real
// PostgreSQL): persistence, lineage through moves, the consistency rules it
// keeps without the logic above it, and its change feed (one entry per
// committed write, none for a failed one, filtering by the old or new path,
// and the SQLite migration that introduced it).
#include "services/registry/sql_registry_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/change_feed.h"
#include "common/sqlite.h"
#include "common/versioned_resource.h"
#include "tests/testing/sql_engines.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

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

// The stored regions, read straight from the engine's database, in id
// order, as DeterministicBytes (so that a mismatch prints which).
template <typename Engine>
std::vector<std::string> StoredRegions(Engine& engine) {
  auto db = engine.Connect();
  EXPECT_OK(db.status());
  auto stmt = (*db)->Prepare(
      "SELECT body, version, create_time_us, update_time_us FROM regions "
      "ORDER BY id");
  EXPECT_OK(stmt.status());
  auto regions = ReadVersionedResources<Region>(*stmt);
  EXPECT_OK(regions.status());
  std::vector<std::string> bytes;
  for (const Region& region : *regions) {
    bytes.push_back(DeterministicBytes(region));
  }
  return bytes;
}

template <typename Store>
std::vector<std::string> TreeRegions(const Store& store) {
  std::vector<std::string> bytes;
  for (const Region& region : store.region_tree().All()) {
    bytes.push_back(DeterministicBytes(region));
  }
  return bytes;
}

// Checks that the store's region tree equals its regions table (records,
// and every lineage the stored path), and that the province, city and
// county columns of every region and village agree with the lineage.
template <typename Store, typename Engine>
void ExpectTreeMatchesDatabase(const Store& store, Engine& engine) {
  EXPECT_EQ(TreeRegions(store), StoredRegions(engine));
  auto db = engine.Connect();
  ASSERT_OK(db.status());
  // A region's own columns, from its lineage in the tree.
  auto expected_columns = [&](const std::string& region_id) {
    std::vector<std::string> columns(3);
    auto lineage = store.region_tree().Lineage(region_id);
    EXPECT_OK(lineage.status());
    if (!lineage.ok()) return columns;
    for (const std::string& id : *lineage) {
      auto region = store.region_tree().Get(id);
      EXPECT_OK(region.status());
      if (region.ok() && region->kind() <= v1::COUNTY) {
        columns[region->kind() - 1] = id;
      }
    }
    return columns;
  };
  auto regions = (*db)->Prepare(
      "SELECT id, path, COALESCE(province_id, ''), COALESCE(city_id, ''), "
      "COALESCE(county_id, '') FROM regions");
  ASSERT_OK(regions.status());
  while (true) {
    auto row = regions->Step();
    ASSERT_OK(row.status());
    if (!*row) break;
    const std::string id = regions->ColumnText(0);
    EXPECT_THAT(store.region_tree().Lineage(id),
                ::fivestar::testing::IsOkAndHolds(
                    LineageOfPath(regions->ColumnText(1))))
        << "region " << id;
    EXPECT_EQ((std::vector<std::string>{regions->ColumnText(2),
                                        regions->ColumnText(3),
                                        regions->ColumnText(4)}),
              expected_columns(id))
        << "region " << id;
  }
  auto villages = (*db)->Prepare(
      "SELECT id, region_id, COALESCE(province_id, ''), "
      "COALESCE(city_id, ''), COALESCE(county_id, '') FROM villages");
  ASSERT_OK(villages.status());
  while (true) {
    auto row = villages->Step();
    ASSERT_OK(row.status());
    if (!*row) break;
    EXPECT_EQ((std::vector<std::string>{villages->ColumnText(2),
                                        villages->ColumnText(3),
                                        villages->ColumnText(4)}),
              expected_columns(villages->ColumnText(1)))
        << "village " << villages->ColumnText(0);
  }
}

template <typename Engine>
class SqlRegistryStoreTest : public ::testing::Test {
 protected:
  using Store = SqlRegistryStore<typename Engine::Pool>;

  void SetUp() override {
    ASSERT_OK(Reopen());
    ASSERT_OK(store_->CreateRegion(MakeRegion("p", v1::PROVINCE, "")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("c", v1::COUNTY, "p")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("t1", v1::TOWNSHIP, "c")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("t2", v1::TOWNSHIP, "c")));
    ASSERT_OK(store_->CreateRegion(MakeRegion("d", v1::DISTRICT, "t1")));
    ASSERT_OK(store_->CreateVillage(MakeVillage("v", "d")));
  }

  // Closes the store (if open) and opens it again on the same database.
  absl::Status Reopen() {
    store_.reset();
    ASSIGN_OR_RETURN(std::string database, engine_.Database());
    ASSIGN_OR_RETURN(store_, Store::Open(database, &clock_));
    return absl::OkStatus();
  }

  Engine engine_;
  FakeClock clock_{absl::FromUnixSeconds(1'664'000'000)};
  std::unique_ptr<Store> store_;
};
TYPED_TEST_SUITE(SqlRegistryStoreTest, fivestar::testing::SqlEngines,
                 fivestar::testing::SqlEngineNames);

TYPED_TEST(SqlRegistryStoreTest, DataSurvivesReopening) {
  ASSERT_OK(this->Reopen());
  ASSERT_OK_AND_ASSIGN(Village village, this->store_->GetVillage("v"));
  EXPECT_EQ(village.region_id(), "d");
  EXPECT_EQ(village.create_time().seconds(), 1'664'000'000);
}

TYPED_TEST(SqlRegistryStoreTest, LineageFollowsAMove) {
  EXPECT_THAT(
      this->store_->RegionLineage("d"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("d", "t1", "c", "p")));
  ASSERT_OK_AND_ASSIGN(Region d, this->store_->GetRegion("d"));
  Region moved = d;
  moved.set_parent_id("t2");
  ASSERT_OK(this->store_->UpdateRegion(moved, d.etag()));
  EXPECT_THAT(
      this->store_->RegionLineage("d"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("d", "t2", "c", "p")));
  VillageQuery query;
  query.ancestor_id = "t2";
  ASSERT_OK_AND_ASSIGN(std::vector<Village> below_t2,
                       this->store_->ListVillages(query));
  ASSERT_EQ(below_t2.size(), 1u);
  query.ancestor_id = "t1";
  ASSERT_OK_AND_ASSIGN(std::vector<Village> below_t1,
                       this->store_->ListVillages(query));
  EXPECT_TRUE(below_t1.empty());
}

TYPED_TEST(SqlRegistryStoreTest, MovingUnderOwnDescendantIsRefused) {
  ASSERT_OK_AND_ASSIGN(Region t1, this->store_->GetRegion("t1"));
  Region moved = t1;
  moved.set_parent_id("d");
  EXPECT_THAT(this->store_->UpdateRegion(moved, t1.etag()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cannot become its own ancestor"));
}

TYPED_TEST(SqlRegistryStoreTest, ReferencesMustExist) {
  EXPECT_THAT(this->store_->CreateVillage(MakeVillage("w", "nowhere")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "region nowhere does not exist"));
  EXPECT_THAT(
      this->store_->CreateRegion(MakeRegion("x", v1::TOWNSHIP, "nowhere")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "region nowhere does not exist"));
}

TYPED_TEST(SqlRegistryStoreTest, EtagChangesOnEveryUpdate) {
  ASSERT_OK_AND_ASSIGN(Village v1, this->store_->GetVillage("v"));
  ASSERT_OK_AND_ASSIGN(Village v2, this->store_->UpdateVillage(v1, v1.etag()));
  EXPECT_NE(v1.etag(), v2.etag());  // Same clock reading, new version.
  EXPECT_THAT(this->store_->UpdateVillage(v1, v1.etag()),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
}

TYPED_TEST(SqlRegistryStoreTest, DryRunImportRollsBack) {
  ASSERT_OK_AND_ASSIGN(
      ImportCounts counts,
      this->store_->Import({MakeRegion("t3", v1::TOWNSHIP, "c")},
                           {MakeVillage("v2", "t3")},
                           /*dry_run=*/true));
  EXPECT_EQ(counts.created, 2);
  EXPECT_THAT(this->store_->GetRegion("t3"),
              StatusIs(absl::StatusCode::kNotFound, ""));
}

std::vector<uint64_t> Sequences(const ChangeBatch& batch) {
  std::vector<uint64_t> out;
  for (const v1::Change& change : batch.changes) {
    out.push_back(change.sequence());
  }
  return out;
}

TYPED_TEST(SqlRegistryStoreTest, OnlyCommittedWritesAppendAndAreAnnounced) {
  std::vector<uint64_t> announced;
  this->store_->SetCommitObserver(
      [&](uint64_t newest) { announced.push_back(newest); });
  ASSERT_OK_AND_ASSIGN(Village v, this->store_->GetVillage("v"));
  EXPECT_THAT(this->store_->UpdateVillage(v, "stale"),
              StatusIs(absl::StatusCode::kAborted, ""));
  EXPECT_THAT(this->store_->DeleteRegion("d", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_THAT(this->store_->CreateRegion(MakeRegion("t1", v1::TOWNSHIP, "c")),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  ASSERT_OK(this->store_->Import({}, {MakeVillage("w", "d")},
                                 /*dry_run=*/true));
  EXPECT_THAT(this->store_->NewestSequence(),
              ::fivestar::testing::IsOkAndHolds(6u));  // SetUp's writes.
  EXPECT_THAT(announced, IsEmpty());

  ASSERT_OK(this->store_->UpdateVillage(v, v.etag()));
  ASSERT_OK(this->store_->DeleteVillage("v", ""));
  ASSERT_OK(
      this->store_->Import({}, {}, /*dry_run=*/false));  // Nothing to say.
  EXPECT_THAT(announced, ElementsAre(7u, 8u));
  ASSERT_OK_AND_ASSIGN(ChangeBatch batch, this->store_->ReadChanges(6, {}, 10));
  EXPECT_EQ(Sequences(batch), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(batch.changes[0].kind(), v1::VILLAGE_CHANGED);
  EXPECT_EQ(batch.changes[1].kind(), v1::VILLAGE_DELETED);
  EXPECT_THAT(batch.changes[1].lineage(),
              ElementsAre("v", "d", "t1", "c", "p"));
  EXPECT_EQ(batch.scanned_through, 8u);
}

TYPED_TEST(SqlRegistryStoreTest, ReadChangesMatchesTheOldOrTheNewPathWhole) {
  ASSERT_OK_AND_ASSIGN(Village v, this->store_->GetVillage("v"));
  Village moved = v;
  moved.set_region_id("t2");
  ASSERT_OK(this->store_->UpdateVillage(moved, v.etag()));  // 7
  auto read = [&](std::vector<std::string> components) {
    absl::StatusOr<ChangeBatch> batch =
        this->store_->ReadChanges(6, components, 10);
    EXPECT_OK(batch);
    EXPECT_EQ(batch->scanned_through, 7u);  // Examined, matching or not.
    return batch.ok() ? Sequences(*batch) : std::vector<uint64_t>{};
  };
  const std::vector<uint64_t> seen = {7};
  EXPECT_EQ(read({"/t1/"}), seen);                // The place it left.
  EXPECT_EQ(read({"/t2/"}), seen);                // The place it joined.
  EXPECT_EQ(read({"/t1/", "/d/"}), seen);         // Both in the old path.
  EXPECT_THAT(read({"/t2/", "/d/"}), IsEmpty());  // Never both in one path.
  ASSERT_OK_AND_ASSIGN(ChangeBatch batch, this->store_->ReadChanges(6, {}, 10));
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].kind(), v1::VILLAGE_MOVED);
  EXPECT_THAT(batch.changes[0].lineage(), ElementsAre("v", "t2", "c", "p"));
  EXPECT_THAT(batch.changes[0].old_lineage(),
              ElementsAre("v", "d", "t1", "c", "p"));
  EXPECT_EQ(batch.changes[0].old_parent_id(), "d");
}

TYPED_TEST(SqlRegistryStoreTest, TreeFollowsEveryCommittedWrite) {
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  // A new city between the province and the county: the county moves.
  ASSERT_OK(this->store_->CreateRegion(MakeRegion("k", v1::CITY, "p")));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  ASSERT_OK_AND_ASSIGN(Region c, this->store_->GetRegion("c"));
  Region moved = c;
  moved.set_parent_id("k");
  ASSERT_OK(this->store_->UpdateRegion(moved, c.etag()));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  EXPECT_THAT(
      this->store_->RegionLineage("d"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("d", "t1", "c", "k", "p")));
  // A changed name, no move.
  ASSERT_OK_AND_ASSIGN(Region t2, this->store_->GetRegion("t2"));
  t2.set_name("renamed");
  ASSERT_OK_AND_ASSIGN(Region renamed,
                       this->store_->UpdateRegion(t2, t2.etag()));
  EXPECT_EQ(this->store_->GetRegion("t2")->etag(), renamed.etag());
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  // The county becomes a root: its villages have no province or city.
  ASSERT_OK_AND_ASSIGN(c, this->store_->GetRegion("c"));
  c.set_parent_id("");
  ASSERT_OK(this->store_->UpdateRegion(c, c.etag()));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  // A village moves, then villages and regions go.
  ASSERT_OK_AND_ASSIGN(Village v, this->store_->GetVillage("v"));
  v.set_region_id("t2");
  ASSERT_OK(this->store_->UpdateVillage(v, v.etag()));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  ASSERT_OK(this->store_->CreateVillage(MakeVillage("w", "d")));
  ASSERT_OK(this->store_->DeleteVillage("w", ""));
  ASSERT_OK(this->store_->DeleteRegion("d", ""));
  ASSERT_OK(this->store_->DeleteRegion("k", ""));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  EXPECT_THAT(this->store_->GetRegion("d"),
              StatusIs(absl::StatusCode::kNotFound, "region d not found"));
  EXPECT_THAT(this->store_->RegionLineage("k"),
              StatusIs(absl::StatusCode::kNotFound, "region k not found"));
  // A reopened store loads the same tree.
  const std::vector<std::string> before = TreeRegions(*this->store_);
  ASSERT_OK(this->Reopen());
  EXPECT_EQ(TreeRegions(*this->store_), before);
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
}

TYPED_TEST(SqlRegistryStoreTest, FailedAndRolledBackWritesLeaveTheTree) {
  const std::vector<std::string> before = TreeRegions(*this->store_);
  EXPECT_THAT(
      this->store_->CreateRegion(MakeRegion("x", v1::TOWNSHIP, "nowhere")),
      StatusIs(absl::StatusCode::kFailedPrecondition, "nowhere"));
  ASSERT_OK_AND_ASSIGN(Region c, this->store_->GetRegion("c"));
  Region renamed = c;
  renamed.set_name("stale");
  EXPECT_THAT(this->store_->UpdateRegion(renamed, "W/\"stale\""),
              StatusIs(absl::StatusCode::kAborted, ""));
  Region below_itself = c;
  below_itself.set_parent_id("t1");
  EXPECT_THAT(this->store_->UpdateRegion(below_itself, c.etag()),
              StatusIs(absl::StatusCode::kFailedPrecondition, "lies below"));
  EXPECT_THAT(this->store_->DeleteRegion("c", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, "still has"));
  // A dry run creates, moves and renames, then rolls back.
  Region moved = c;
  moved.set_parent_id("");
  ASSERT_OK(this->store_->Import({MakeRegion("q", v1::PROVINCE, ""), moved,
                                  MakeRegion("y", v1::TOWNSHIP, "q")},
                                 {MakeVillage("u", "y")},
                                 /*dry_run=*/true));
  // An import whose regions went in before its last village failed.
  EXPECT_THAT(this->store_->Import({MakeRegion("q", v1::PROVINCE, ""), moved},
                                   {MakeVillage("u", "missing")}, false),
              StatusIs(absl::StatusCode::kFailedPrecondition, "missing"));
  EXPECT_EQ(TreeRegions(*this->store_), before);
  EXPECT_THAT(this->store_->GetRegion("q"),
              StatusIs(absl::StatusCode::kNotFound, "region q not found"));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
}

TYPED_TEST(SqlRegistryStoreTest, TreeFollowsAnImport) {
  ASSERT_OK_AND_ASSIGN(Region c, this->store_->GetRegion("c"));
  Region moved = c;
  moved.set_parent_id("k");
  Region renamed = MakeRegion("t2", v1::TOWNSHIP, "c");
  renamed.set_name("renamed");
  ASSERT_OK_AND_ASSIGN(
      ImportCounts counts,
      this->store_->Import({MakeRegion("k", v1::CITY, "p"), moved, renamed,
                            MakeRegion("t3", v1::TOWNSHIP, "k")},
                           {MakeVillage("v", "t3"), MakeVillage("u", "t2")},
                           false));
  EXPECT_EQ(counts.created, 3);
  EXPECT_EQ(counts.updated, 3);
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  ASSERT_OK_AND_ASSIGN(std::vector<LocatedVillage> located,
                       this->store_->GetLocatedVillages({"u", "v"}));
  EXPECT_THAT(located[0].region_lineage, ElementsAre("t2", "c", "k", "p"));
  EXPECT_THAT(located[1].region_lineage, ElementsAre("t3", "k", "p"));
}

TYPED_TEST(SqlRegistryStoreTest, LocatedVillagesNameTheFirstMissing) {
  EXPECT_THAT(this->store_->GetLocatedVillages({"v", "nope", "gone"}),
              StatusIs(absl::StatusCode::kNotFound, "village nope not found"));
  ASSERT_OK_AND_ASSIGN(std::vector<LocatedVillage> located,
                       this->store_->GetLocatedVillages({"v"}));
  ASSERT_EQ(located.size(), 1u);
  EXPECT_EQ(located[0].village.id(), "v");
  EXPECT_THAT(located[0].region_lineage, ElementsAre("d", "t1", "c", "p"));
}

// Ids page in byte order on both engines, whatever the database's
// collation (the PostgreSQL test databases' own does not order bytewise).
TYPED_TEST(SqlRegistryStoreTest, IdsPageInByteOrder) {
  const std::vector<std::string> ids = {
      "b", "B", "a-2", "a_1", "A", "\xe9\x83\x91", "Z"};
  for (const std::string& id : ids) {
    ASSERT_OK(this->store_->CreateVillage(MakeVillage(id, "d")));
    ASSERT_OK(this->store_->CreateRegion(
        MakeRegion(absl::StrCat("r", id), v1::TOWNSHIP, "c")));
  }
  std::vector<std::string> expected = ids;
  expected.push_back("v");
  std::sort(expected.begin(), expected.end());
  for (const std::string& ancestor : {std::string(), std::string("p")}) {
    std::vector<std::string> paged;
    VillageQuery query;
    query.ancestor_id = ancestor;
    query.limit = 3;
    while (true) {
      ASSERT_OK_AND_ASSIGN(std::vector<Village> page,
                           this->store_->ListVillages(query));
      for (const Village& village : page) paged.push_back(village.id());
      if (page.size() < 3) break;
      query.after_id = page.back().id();
    }
    EXPECT_EQ(paged, expected) << "below '" << ancestor << "'";
  }
  RegionQuery regions;
  regions.ancestor_id = "c";
  regions.kind = v1::TOWNSHIP;
  regions.after_id = "r";
  regions.limit = 100;
  ASSERT_OK_AND_ASSIGN(std::vector<Region> listed,
                       this->store_->ListRegions(regions));
  std::vector<std::string> region_ids;
  for (const Region& region : listed) region_ids.push_back(region.id());
  std::vector<std::string> expected_regions = {"t1", "t2"};
  for (const std::string& id : ids) expected_regions.push_back("r" + id);
  std::sort(expected_regions.begin(), expected_regions.end());
  EXPECT_EQ(region_ids, expected_regions);
}

// Villages of several sizes, enough to fill many of the arena's blocks:
// each reads back as it was added, its bytes the village without its
// output-only fields.
TEST(EncodedVillagesTest, EachReadsBackAsAddedAcrossBlocks) {
  EncodedVillages villages;
  std::vector<Village> added;
  for (int i = 0; i < 20'000; ++i) {
    Village village =
        MakeVillage(absl::StrCat("village-", i), absl::StrCat("t", i % 97));
    village.set_name(std::string(static_cast<size_t>(i % 300), 'n'));
    village.set_target_level(i % 6);
    village.set_etag("output-only");
    const EncodedVillage kept = villages.Add(village);
    EXPECT_EQ(kept.id, village.id());
    added.push_back(village);
  }
  ASSERT_EQ(villages.size(), added.size());
  for (size_t i = 0; i < added.size(); ++i) {
    const EncodedVillage village = villages[i];
    ASSERT_EQ(village.id, added[i].id());
    ASSERT_EQ(village.region_id, added[i].region_id());
    ASSERT_EQ(village.target_level, added[i].target_level());
    Village parsed;
    ASSERT_TRUE(parsed.ParseFromArray(village.bytes.data(),
                                      static_cast<int>(village.bytes.size())));
    Village expected = added[i];
    expected.clear_etag();
    ASSERT_EQ(parsed.SerializeAsString(), expected.SerializeAsString()) << i;
  }
}
// A province of 2 cities, 3 counties (one straight under the province),
// townships and districts, with villages in shuffled id order.
template <typename Engine>
class ListVillagesIndexTest : public ::testing::Test {
 protected:
  using Store = SqlRegistryStore<typename Engine::Pool>;

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string database, engine_.Database());
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(database, &clock_));
    std::vector<Region> regions = {MakeRegion("p", v1::PROVINCE, ""),
                                   MakeRegion("k1", v1::CITY, "p"),
                                   MakeRegion("k2", v1::CITY, "p"),
                                   MakeRegion("c1", v1::COUNTY, "k1"),
                                   MakeRegion("c2", v1::COUNTY, "k1"),
                                   MakeRegion("c3", v1::COUNTY, "p"),
                                   MakeRegion("t1", v1::TOWNSHIP, "c1"),
                                   MakeRegion("t2", v1::TOWNSHIP, "c2"),
                                   MakeRegion("t3", v1::TOWNSHIP, "c3"),
                                   MakeRegion("t4", v1::TOWNSHIP, "k2"),
                                   MakeRegion("d1", v1::DISTRICT, "t1"),
                                   MakeRegion("d2", v1::DISTRICT, "t3")};
    const std::vector<std::string> homes = {"t1", "t2", "t3", "t4", "d1", "d2"};
    EncodedVillages villages;
    std::mt19937 random(7);
    for (int i = 0; i < 300; ++i) {
      Village village = MakeVillage(absl::StrCat("v", (i * 7919) % 1000),
                                    homes[random() % homes.size()]);
      village.set_target_level(static_cast<int>(random() % 6));
      if (village.target_level() > 0) village.set_target_year(2025);
      villages.Add(village);
    }
    ASSERT_OK(store_->Import(regions, villages, false));
    for (const Region& region : regions) region_ids_.push_back(region.id());
  }

  // The ids of the villages below `ancestor` as the query before the
  // ancestor columns found them (the subtree's regions by path, sorted).
  std::vector<std::string> OldQuery(const std::string& ancestor,
                                    int target_level,
                                    const std::string& after_id, int limit) {
    auto db = engine_.Connect();
    EXPECT_OK(db.status());
    auto stmt = (*db)->Prepare(
        "SELECT id FROM villages WHERE region_id IN "
        "(SELECT id FROM regions WHERE path >= ?1 AND path < ?2) "
        "AND (?3 = 0 OR target_level = ?3) AND id > ?4 ORDER BY id LIMIT ?5");
    EXPECT_OK(stmt.status());
    auto path = (*db)->Prepare("SELECT path FROM regions WHERE id = ?");
    EXPECT_OK(path.status());
    path->Bind(1, ancestor);
    EXPECT_THAT(path->Step(), ::fivestar::testing::IsOkAndHolds(true));
    std::string lower = path->ColumnText(0);
    std::string upper = lower;
    upper.back() = '0';
    stmt->Bind(1, lower)
        .Bind(2, upper)
        .Bind(3, target_level)
        .Bind(4, after_id)
        .Bind(5, limit);
    std::vector<std::string> ids;
    while (*stmt->Step()) ids.push_back(stmt->ColumnText(0));
    return ids;
  }

  Engine engine_;
  FakeClock clock_{absl::FromUnixSeconds(1'664'000'000)};
  std::unique_ptr<Store> store_;
  std::vector<std::string> region_ids_;
};
TYPED_TEST_SUITE(ListVillagesIndexTest, fivestar::testing::SqlEngines,
                 fivestar::testing::SqlEngineNames);

TYPED_TEST(ListVillagesIndexTest, PagesEqualTheOldSubtreeQuery) {
  int pages = 0;
  for (const std::string& ancestor : this->region_ids_) {
    for (int level = 0; level <= 5; ++level) {
      std::string after;
      while (true) {
        VillageQuery query;
        query.ancestor_id = ancestor;
        query.target_level = level;
        query.after_id = after;
        query.limit = 17;
        ASSERT_OK_AND_ASSIGN(std::vector<Village> page,
                             this->store_->ListVillages(query));
        std::vector<std::string> ids;
        for (const Village& village : page) ids.push_back(village.id());
        ASSERT_EQ(ids, this->OldQuery(ancestor, level, after, 17))
            << "below " << ancestor << ", level " << level << ", after "
            << after;
        ++pages;
        if (ids.size() < 17) break;
        after = ids.back();
      }
    }
  }
  EXPECT_GT(pages, 100);
  // Still equal once a county moved to the other city.
  ASSERT_OK_AND_ASSIGN(Region c2, this->store_->GetRegion("c2"));
  c2.set_parent_id("k2");
  ASSERT_OK(this->store_->UpdateRegion(c2, c2.etag()));
  ExpectTreeMatchesDatabase(*this->store_, this->engine_);
  for (const char* ancestor : {"p", "k1", "k2", "c2"}) {
    VillageQuery query;
    query.ancestor_id = ancestor;
    query.limit = 1000;
    ASSERT_OK_AND_ASSIGN(std::vector<Village> all,
                         this->store_->ListVillages(query));
    std::vector<std::string> ids;
    for (const Village& village : all) ids.push_back(village.id());
    EXPECT_EQ(ids, this->OldQuery(ancestor, 0, "", 1000))
        << "below " << ancestor;
  }
}

// SQLite's plan (PostgreSQL's planner chooses by its statistics).
class SqliteListVillagesIndexTest
    : public ListVillagesIndexTest<fivestar::testing::SqliteEngine> {};

TEST_F(SqliteListVillagesIndexTest,
       ProvinceCityAndCountyPagesReadOneIndexRange) {
  ASSERT_OK_AND_ASSIGN(auto db, engine_.Connect());
  const std::pair<RegionKind, const char*> kinds[] = {
      {v1::PROVINCE, "villages_by_province"},
      {v1::CITY, "villages_by_city"},
      {v1::COUNTY, "villages_by_county"}};
  for (const auto& [kind, index] : kinds) {
    ASSERT_OK_AND_ASSIGN(
        SqliteStatement plan,
        db->Prepare(absl::StrCat("EXPLAIN QUERY PLAN ",
                                 Store::VillagesBelowSql(kind))));
    std::string details;
    while (*plan.Step()) absl::StrAppend(&details, plan.ColumnText(3), "\n");
    EXPECT_THAT(details, HasSubstr(absl::StrCat("SEARCH villages USING INDEX ",
                                                index, " (")))
        << details;
    // In id order straight from the index: no sort of the subtree.
    EXPECT_THAT(details, Not(HasSubstr("TEMP B-TREE"))) << details;
  }
}

TEST(SqliteRegistryStoreMigrationTest, ExistingRecordsEnterTheFeedAsCreated) {
  fivestar::testing::TempDir dir;
  const std::string path = dir.File("registry.db");
  {
    // A database as the binary before the feed left it: schema version 1
    // (frozen here) with two regions and a village.
    const SchemaMigration v1_schema[] = {{1, "regions and villages", R"sql(
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
  ASSERT_OK_AND_ASSIGN(auto store,
                       SqlRegistryStore<SqlitePool>::Open(path, &clock));
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
  // Migration 4 filled in the province of the stored region and village.
  ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(path));
  ASSERT_OK_AND_ASSIGN(
      SqliteStatement stmt,
      db->Prepare("SELECT (SELECT province_id FROM regions WHERE id = 'a'), "
                  "(SELECT county_id IS NULL FROM regions WHERE id = 'a'), "
                  "(SELECT province_id FROM villages WHERE id = 'v')"));
  ASSERT_THAT(stmt.Step(), ::fivestar::testing::IsOkAndHolds(true));
  EXPECT_EQ(stmt.ColumnText(0), "z");
  EXPECT_EQ(stmt.ColumnInt64(1), 1);
  EXPECT_EQ(stmt.ColumnText(2), "z");
  EXPECT_THAT(store->RegionLineage("a"),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("a", "z")));
}

}  // namespace
}  // namespace fivestar::registry
