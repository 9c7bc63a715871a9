// The registry's WatchChanges over gRPC: replay from a cursor with every
// kind of change, live follow under concurrent writers, scopes and region
// filters (moves seen from both places), bad cursors and arguments,
// imports, restarts on the same database, heartbeats, shutdown and the
// newest-sequence gauge. Every read is bounded by its call's deadline, so a
// bug fails the test instead of hanging it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "tests/registry/registry_test_env.h"
#include "tests/testing/metrics.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/test_tokens.h"
#include "tests/testing/watch_stream.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Stub = v1::RegistryService::Stub;
using namespace ::fivestar::registry::testing;

constexpr char kHuiche[] = "411323-huiche";
constexpr char kNorth[] = "411323-huiche-north";
constexpr char kMiddle[] = "411323-huiche-middle";
constexpr char kWest[] = "411323-huiche-west";
constexpr char kMaohe[] = "411323-huiche-north-01";
// The township of kOtherTownshipOperatorToken; not in the Huiche data.
constexpr char kOther[] = "411323-other";
// Entries of the Huiche import: its 9 regions, then its 21 villages.
constexpr uint64_t kHuicheEntries = 30;

using Watch = ::fivestar::testing::WatchStream<v1::Change>;
using ::fivestar::testing::Range;
using ::fivestar::testing::Sequences;

// What to ask WatchChanges for: Watching().After(30).As(token)...
struct Watching {
  uint64_t after = 0;
  std::string token = kAdminToken;
  std::string region;
  std::string feed_id;
  absl::Duration heartbeat = absl::ZeroDuration();

  Watching& After(uint64_t sequence) {
    after = sequence;
    return *this;
  }
  Watching& As(const std::string& caller) {
    token = caller;
    return *this;
  }
  Watching& Below(const std::string& region_id) {
    region = region_id;
    return *this;
  }
  Watching& Feed(const std::string& id) {
    feed_id = id;
    return *this;
  }
  Watching& Heartbeats(absl::Duration interval) {
    heartbeat = interval;
    return *this;
  }
};

Watch OpenOn(Stub& stub, const Watching& options) {
  v1::WatchChangesRequest request;
  request.set_after_sequence(options.after);
  request.set_ancestor_region_id(options.region);
  request.set_feed_id(options.feed_id);
  if (options.heartbeat != absl::ZeroDuration()) {
    const int64_t nanos = absl::ToInt64Nanoseconds(options.heartbeat);
    request.mutable_heartbeat_interval()->set_seconds(nanos / 1'000'000'000);
    request.mutable_heartbeat_interval()->set_nanos(nanos % 1'000'000'000);
  }
  Watch watch;
  watch.context = NewContext(options.token, absl::Seconds(30));
  watch.reader = stub.WatchChanges(watch.context.get(), request);
  return watch;
}

std::vector<v1::ChangeKind> Kinds(const std::vector<v1::Change>& changes) {
  std::vector<v1::ChangeKind> out;
  for (const v1::Change& change : changes) out.push_back(change.kind());
  return out;
}

std::vector<std::string> Lineage(const v1::Change& change) {
  return {change.lineage().begin(), change.lineage().end()};
}

std::vector<std::string> OldLineage(const v1::Change& change) {
  return {change.old_lineage().begin(), change.old_lineage().end()};
}

// Expects a HEARTBEAT at `sequence` with `newest`, and nothing else in it.
void ExpectHeartbeat(const v1::Change& change, uint64_t sequence,
                     uint64_t newest, const std::string& feed_id) {
  EXPECT_EQ(change.kind(), v1::HEARTBEAT);
  EXPECT_EQ(change.sequence(), sequence);
  EXPECT_EQ(change.newest_sequence(), newest);
  EXPECT_EQ(change.feed_id(), feed_id);
  EXPECT_EQ(change.entity_id(), "");
  EXPECT_THAT(change.lineage(), IsEmpty());
  EXPECT_THAT(change.old_lineage(), IsEmpty());
  EXPECT_EQ(change.old_parent_id(), "");
  EXPECT_FALSE(change.has_change_time());
}

v1::Region NewRegion(const std::string& id, v1::RegionKind kind,
                     const std::string& parent_id) {
  v1::Region region;
  region.set_id(id);
  region.set_kind(kind);
  region.set_name("新区");
  region.set_parent_id(parent_id);
  return region;
}

v1::Village NewVillage(const std::string& id, const std::string& region_id) {
  v1::Village village;
  village.set_id(id);
  village.set_name("新村");
  village.set_region_id(region_id);
  village.set_kind(v1::VILLAGE);
  return village;
}

// Write calls on any registry stub, as the holder of `token`.
absl::Status CreateRegion(Stub& stub, const v1::Region& region,
                          const std::string& token = kAdminToken) {
  v1::CreateRegionRequest request;
  *request.mutable_region() = region;
  v1::Region response;
  auto context = NewContext(token);
  return FromGrpcStatus(stub.CreateRegion(context.get(), request, &response));
}

absl::Status UpdateRegion(Stub& stub, const v1::Region& region,
                          const std::string& path) {
  v1::UpdateRegionRequest request;
  *request.mutable_region() = region;
  request.mutable_update_mask()->add_paths(path);
  v1::Region response;
  auto context = NewContext(kAdminToken);
  return FromGrpcStatus(stub.UpdateRegion(context.get(), request, &response));
}

absl::Status DeleteRegion(Stub& stub, const std::string& id) {
  v1::DeleteRegionRequest request;
  request.set_id(id);
  google::protobuf::Empty response;
  auto context = NewContext(kAdminToken);
  return FromGrpcStatus(stub.DeleteRegion(context.get(), request, &response));
}

absl::Status CreateVillage(Stub& stub, const v1::Village& village,
                           const std::string& token = kAdminToken) {
  v1::CreateVillageRequest request;
  *request.mutable_village() = village;
  v1::Village response;
  auto context = NewContext(token);
  return FromGrpcStatus(stub.CreateVillage(context.get(), request, &response));
}

absl::Status UpdateVillage(Stub& stub, const v1::Village& village,
                           const std::string& path) {
  v1::UpdateVillageRequest request;
  *request.mutable_village() = village;
  request.mutable_update_mask()->add_paths(path);
  v1::Village response;
  auto context = NewContext(kAdminToken);
  return FromGrpcStatus(stub.UpdateVillage(context.get(), request, &response));
}

absl::Status DeleteVillage(Stub& stub, const std::string& id) {
  v1::DeleteVillageRequest request;
  request.set_id(id);
  google::protobuf::Empty response;
  auto context = NewContext(kAdminToken);
  return FromGrpcStatus(stub.DeleteVillage(context.get(), request, &response));
}

class RegistryFeedTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env_.Import(HuicheRecords())); }

  Watch Open(const Watching& options) { return OpenOn(env_.stub(), options); }
  Stub& stub() { return env_.stub(); }

  // The feed id, read from the first entry.
  std::string FeedId() {
    Watch watch = Open(Watching());
    std::vector<v1::Change> first = watch.Read(1);
    EXPECT_THAT(first, SizeIs(1));
    watch.Cancel();
    return first.empty() ? "" : first[0].feed_id();
  }

  RegistryTestEnv env_;
};

TEST_F(RegistryFeedTest, ImportRecordsOneEntryPerRecordInImportOrder) {
  const std::vector<v1::RegistryRecord> records = HuicheRecords();
  Watch watch = Open(Watching());
  std::vector<v1::Change> changes = watch.Read(kHuicheEntries);
  ASSERT_EQ(Sequences(changes), Range(1, kHuicheEntries));
  for (size_t i = 0; i < records.size(); ++i) {
    const bool region = records[i].has_region();
    EXPECT_EQ(changes[i].kind(),
              region ? v1::REGION_CREATED : v1::VILLAGE_CREATED);
    EXPECT_EQ(changes[i].entity_id(),
              region ? records[i].region().id() : records[i].village().id());
    EXPECT_EQ(changes[i].newest_sequence(), kHuicheEntries);
    EXPECT_FALSE(changes[i].feed_id().empty());
    EXPECT_EQ(changes[i].feed_id(), changes[0].feed_id());
    EXPECT_THAT(changes[i].old_lineage(), IsEmpty());
    EXPECT_EQ(changes[i].old_parent_id(), "");
    EXPECT_GT(changes[i].change_time().seconds(), 0);
  }
  EXPECT_THAT(Lineage(changes[0]), ElementsAre("410000"));
  EXPECT_THAT(Lineage(changes[9]), ElementsAre(kMaohe, kNorth, kHuiche,
                                               "411323", "411300", "410000"));
  watch.Cancel();
}

TEST_F(RegistryFeedTest, ReimportAndValidateOnlyAddNoEntries) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  std::vector<v1::RegistryRecord> changed = HuicheRecords();
  for (v1::RegistryRecord& record : changed) {
    if (record.village().id() == kMaohe) {
      record.mutable_village()->set_target_level(4);
      record.mutable_village()->set_target_year(2022);
    }
  }
  ASSERT_OK_AND_ASSIGN(v1::ImportRegistryResponse dry,
                       env_.Import(changed, kAdminToken, true));
  EXPECT_EQ(dry.updated(), 1);

  // Caught up at once: the heartbeat says nothing came after the import.
  const std::string feed_id = FeedId();
  Watch watch =
      Open(Watching().After(kHuicheEntries).Heartbeats(absl::Hours(1)));
  std::vector<v1::Change> messages = watch.Read(1);
  ASSERT_THAT(messages, SizeIs(1));
  ExpectHeartbeat(messages[0], kHuicheEntries, kHuicheEntries, feed_id);
  watch.Cancel();
}

TEST_F(RegistryFeedTest, ImportRecordsOnlyCreatedAndChangedRecords) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  for (v1::RegistryRecord& record : records) {
    if (record.village().id() == kMaohe) {  // Changed in place.
      record.mutable_village()->set_target_level(4);
      record.mutable_village()->set_target_year(2022);
    }
    if (record.village().id() == "411323-huiche-north-02") {  // Moved.
      record.mutable_village()->set_region_id(kMiddle);
    }
    if (record.region().id() == kWest) {  // Renamed.
      record.mutable_region()->set_name("西管区（新）");
    }
  }
  *records.emplace_back().mutable_village() =
      NewVillage("411323-huiche-west-09", kWest);  // New.
  ASSERT_OK_AND_ASSIGN(v1::ImportRegistryResponse response,
                       env_.Import(records));
  EXPECT_EQ(response.created(), 1);
  EXPECT_EQ(response.updated(), 3);
  EXPECT_EQ(response.unchanged(), 27);

  Watch watch =
      Open(Watching().After(kHuicheEntries).Heartbeats(absl::Hours(1)));
  std::vector<v1::Change> changes = watch.Read(5);
  ASSERT_EQ(Sequences(changes), (std::vector<uint64_t>{31, 32, 33, 34, 34}));
  EXPECT_THAT(
      Kinds(changes),
      ElementsAre(v1::REGION_CHANGED, v1::VILLAGE_CHANGED, v1::VILLAGE_MOVED,
                  v1::VILLAGE_CREATED, v1::HEARTBEAT));
  EXPECT_EQ(changes[0].entity_id(), kWest);
  EXPECT_EQ(changes[1].entity_id(), kMaohe);
  EXPECT_EQ(changes[2].entity_id(), "411323-huiche-north-02");
  EXPECT_EQ(changes[2].old_parent_id(), kNorth);
  EXPECT_EQ(changes[2].lineage(1), kMiddle);
  EXPECT_EQ(changes[2].old_lineage(1), kNorth);
  EXPECT_EQ(changes[3].entity_id(), "411323-huiche-west-09");
  ExpectHeartbeat(changes[4], 34, 34, changes[0].feed_id());
  watch.Cancel();
}

TEST_F(RegistryFeedTest, ReplaysEveryKindOfChangeFromACursor) {
  ASSERT_OK(CreateRegion(stub(), NewRegion(kOther, v1::TOWNSHIP, "411323")));
  v1::Village village = NewVillage("411323-huiche-north-09", kNorth);
  ASSERT_OK(CreateVillage(stub(), village));  // 32
  village.set_households(120);
  ASSERT_OK(UpdateVillage(stub(), village, "households"));  // 33
  village.set_region_id(kMiddle);
  ASSERT_OK(UpdateVillage(stub(), village, "region_id"));  // 34
  ASSERT_OK(DeleteVillage(stub(), village.id()));          // 35
  v1::Region district = NewRegion("411323-huiche-new", v1::DISTRICT, kHuiche);
  ASSERT_OK(CreateRegion(stub(), district));  // 36
  district.set_name_en("New district");
  ASSERT_OK(UpdateRegion(stub(), district, "name_en"));  // 37
  district.set_parent_id(kOther);
  ASSERT_OK(UpdateRegion(stub(), district, "parent_id"));  // 38
  ASSERT_OK(DeleteRegion(stub(), district.id()));          // 39

  Watch watch = Open(Watching().After(kHuicheEntries));
  std::vector<v1::Change> changes = watch.Read(9);
  ASSERT_EQ(Sequences(changes), Range(31, 39));
  EXPECT_THAT(
      Kinds(changes),
      ElementsAre(v1::REGION_CREATED, v1::VILLAGE_CREATED, v1::VILLAGE_CHANGED,
                  v1::VILLAGE_MOVED, v1::VILLAGE_DELETED, v1::REGION_CREATED,
                  v1::REGION_CHANGED, v1::REGION_MOVED, v1::REGION_DELETED));
  for (const v1::Change& change : changes) {
    EXPECT_EQ(change.newest_sequence(), 39u);
  }
  EXPECT_EQ(changes[0].entity_id(), kOther);
  EXPECT_THAT(Lineage(changes[0]),
              ElementsAre(kOther, "411323", "411300", "410000"));
  EXPECT_EQ(changes[1].entity_id(), village.id());
  EXPECT_THAT(Lineage(changes[1]), ElementsAre(village.id(), kNorth, kHuiche,
                                               "411323", "411300", "410000"));
  EXPECT_EQ(Lineage(changes[2]), Lineage(changes[1]));
  EXPECT_THAT(changes[2].old_lineage(), IsEmpty());
  EXPECT_EQ(changes[2].old_parent_id(), "");
  // The move: where it went, where it was.
  EXPECT_THAT(Lineage(changes[3]), ElementsAre(village.id(), kMiddle, kHuiche,
                                               "411323", "411300", "410000"));
  EXPECT_EQ(OldLineage(changes[3]), Lineage(changes[1]));
  EXPECT_EQ(changes[3].old_parent_id(), kNorth);
  // Deleted where it was last.
  EXPECT_EQ(Lineage(changes[4]), Lineage(changes[3]));
  EXPECT_EQ(changes[5].entity_id(), district.id());
  EXPECT_THAT(Lineage(changes[6]), ElementsAre(district.id(), kHuiche, "411323",
                                               "411300", "410000"));
  EXPECT_THAT(Lineage(changes[7]),
              ElementsAre(district.id(), kOther, "411323", "411300", "410000"));
  EXPECT_EQ(OldLineage(changes[7]), Lineage(changes[6]));
  EXPECT_EQ(changes[7].old_parent_id(), kHuiche);
  EXPECT_EQ(Lineage(changes[8]), Lineage(changes[7]));
  EXPECT_THAT(changes[8].old_lineage(), IsEmpty());
  watch.Cancel();

  // Resuming in the middle gives the rest, exactly.
  Watch resumed = Open(Watching().After(36));
  EXPECT_EQ(Sequences(resumed.Read(3)), Range(37, 39));
  resumed.Cancel();
}

TEST_F(RegistryFeedTest, LiveFollowerSeesConcurrentWritesOnceInOrder) {
  Watch watch = Open(Watching().After(kHuicheEntries));
  watch.reader->WaitForInitialMetadata();
  constexpr int kWriters = 4;
  constexpr int kVillagesEach = 10;
  const char* regions[] = {kNorth, kMiddle, kWest, "411323-huiche-east"};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kVillagesEach; ++i) {
        EXPECT_OK(CreateVillage(
            stub(), NewVillage(absl::StrCat("411323-huiche-w", w, "-", i),
                               regions[w])));
      }
    });
  }
  std::vector<v1::Change> changes = watch.Read(kWriters * kVillagesEach);
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(
      Sequences(changes),
      Range(kHuicheEntries + 1, kHuicheEntries + kWriters * kVillagesEach));
  std::set<std::string> villages;
  for (const v1::Change& change : changes) {
    EXPECT_EQ(change.kind(), v1::VILLAGE_CREATED);
    EXPECT_GE(change.newest_sequence(), change.sequence());
    villages.insert(change.entity_id());
  }
  EXPECT_THAT(villages, SizeIs(kWriters * kVillagesEach));
  watch.Cancel();
}

TEST_F(RegistryFeedTest, ScopedViewerSeesOnlyItsSubtree) {
  // What a global follower sees, filtered here by lineage, is what a scoped
  // one must get from the server.
  Watch all = Open(Watching());
  const std::vector<v1::Change> everything = all.Read(kHuicheEntries);
  all.Cancel();
  auto below = [&](const std::string& id) {
    std::vector<uint64_t> out;
    for (const v1::Change& change : everything) {
      if (absl::c_linear_search(change.lineage(), id)) {
        out.push_back(change.sequence());
      }
    }
    return out;
  };
  ASSERT_THAT(below(kNorth), SizeIs(5));    // The district and 4 villages.
  ASSERT_THAT(below(kHuiche), SizeIs(27));  // 6 regions and 21 villages.

  Watch north = Open(Watching().As(kNorthViewerToken));
  EXPECT_EQ(Sequences(north.Read(5)), below(kNorth));
  // A change elsewhere is skipped; the next one inside arrives live.
  ASSERT_OK(CreateVillage(stub(), NewVillage("411323-huiche-west-09", kWest)));
  ASSERT_OK(
      CreateVillage(stub(), NewVillage("411323-huiche-north-09", kNorth)));
  std::vector<v1::Change> live = north.Read(1);
  ASSERT_THAT(live, SizeIs(1));
  EXPECT_EQ(live[0].sequence(), 32u);
  EXPECT_EQ(live[0].entity_id(), "411323-huiche-north-09");
  north.Cancel();

  Watch township = Open(Watching().As(kHuicheOperatorToken));
  std::vector<uint64_t> expected = below(kHuiche);
  expected.push_back(31);
  expected.push_back(32);
  EXPECT_EQ(Sequences(township.Read(29)), expected);
  township.Cancel();

  // The township narrowed to one district; resuming works the same way.
  Watch district =
      Open(Watching().After(13).As(kHuicheOperatorToken).Below(kNorth));
  EXPECT_EQ(Sequences(district.Read(1)), std::vector<uint64_t>{32});
  district.Cancel();

  // A region above the scope follows the scope, as a list would.
  Watch above = Open(Watching().As(kNorthViewerToken).Below(kHuiche));
  EXPECT_EQ(Sequences(above.Read(6)), [&] {
    std::vector<uint64_t> expected = below(kNorth);
    expected.push_back(32);
    return expected;
  }());
  above.Cancel();

  // A principal scoped to a village sees that village's entries.
  Watch village = Open(Watching().As(kMaoheReporterToken));
  std::vector<v1::Change> own = village.Read(1);
  ASSERT_THAT(own, SizeIs(1));
  EXPECT_EQ(own[0].entity_id(), kMaohe);
  EXPECT_EQ(own[0].sequence(), below(kMaohe)[0]);
  village.Cancel();
}

TEST_F(RegistryFeedTest, FilterOutsideTheScopeIsPermissionDenied) {
  // A region above the scope is not outside it
  // (ScopedViewerSeesOnlyItsSubtree).
  Watch sibling = Open(Watching().As(kNorthViewerToken).Below(kMiddle));
  EXPECT_THAT(sibling.Read(1), IsEmpty());
  EXPECT_THAT(sibling.Finish(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "watch the changes below 411323-huiche-middle"));
  Watch nowhere_scoped =
      Open(Watching().As(kNorthViewerToken).Below("411323-nowhere"));
  EXPECT_THAT(nowhere_scoped.Read(1), IsEmpty());
  EXPECT_THAT(nowhere_scoped.Finish(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "watch the changes below 411323-nowhere: outside its "
                       "scope 411323-huiche-north"));
  Watch nowhere = Open(Watching().Below("411323-nowhere"));
  EXPECT_THAT(nowhere.Read(1), IsEmpty());
  EXPECT_THAT(nowhere.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_region_id: region 411323-nowhere does not "
                       "exist"));
  Watch anonymous = Open(Watching().As(""));
  EXPECT_THAT(anonymous.Read(1), IsEmpty());
  EXPECT_THAT(anonymous.Finish(),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
}

TEST_F(RegistryFeedTest, MovesAreSeenFromTheOldAndTheNewPlace) {
  ASSERT_OK(CreateRegion(stub(), NewRegion(kOther, v1::TOWNSHIP, "411323")));
  v1::Village village = NewVillage("411323-other-01", kOther);
  ASSERT_OK(CreateVillage(stub(), village));  // 32
  village.set_region_id(kNorth);
  ASSERT_OK(UpdateVillage(stub(), village, "region_id"));  // 33
  v1::Region west = NewRegion(kWest, v1::DISTRICT, kOther);
  ASSERT_OK(UpdateRegion(stub(), west, "parent_id"));  // 34

  // The township it left sees the village arrive and leave, and the
  // district it gained.
  Watch other = Open(Watching()
                         .After(kHuicheEntries)
                         .As(kOtherTownshipOperatorToken)
                         .Heartbeats(absl::Hours(1)));
  std::vector<v1::Change> seen = other.Read(5);
  EXPECT_EQ(Sequences(seen), (std::vector<uint64_t>{31, 32, 33, 34, 34}));
  EXPECT_THAT(Kinds(seen),
              ElementsAre(v1::REGION_CREATED, v1::VILLAGE_CREATED,
                          v1::VILLAGE_MOVED, v1::REGION_MOVED, v1::HEARTBEAT));
  other.Cancel();

  // The township it joined sees the village arrive, and the district it
  // lost; the north district sees the village only.
  Watch huiche = Open(Watching()
                          .After(kHuicheEntries)
                          .As(kHuicheOperatorToken)
                          .Heartbeats(absl::Hours(1)));
  seen = huiche.Read(3);
  EXPECT_EQ(Sequences(seen), (std::vector<uint64_t>{33, 34, 34}));
  EXPECT_EQ(seen[0].old_parent_id(), kOther);
  EXPECT_EQ(seen[1].entity_id(), kWest);
  EXPECT_EQ(seen[1].old_parent_id(), kHuiche);
  EXPECT_EQ(seen[1].lineage(1), kOther);
  EXPECT_EQ(seen[1].old_lineage(1), kHuiche);
  huiche.Cancel();

  Watch north = Open(Watching()
                         .After(kHuicheEntries)
                         .As(kNorthViewerToken)
                         .Heartbeats(absl::Hours(1)));
  seen = north.Read(2);
  EXPECT_EQ(Sequences(seen), (std::vector<uint64_t>{33, 34}));
  EXPECT_THAT(Kinds(seen), ElementsAre(v1::VILLAGE_MOVED, v1::HEARTBEAT));
  north.Cancel();

  // A region filter on the old place matches the same way.
  Watch filtered = Open(Watching().After(kHuicheEntries).Below(kHuiche));
  EXPECT_EQ(Sequences(filtered.Read(2)), (std::vector<uint64_t>{33, 34}));
  filtered.Cancel();
}

TEST_F(RegistryFeedTest, RejectsForeignCursorsAndBadHeartbeats) {
  Watch beyond = Open(Watching().After(kHuicheEntries + 1));
  EXPECT_THAT(beyond.Read(1), IsEmpty());
  EXPECT_THAT(beyond.Finish(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       "after_sequence 31 is beyond the newest sequence 30"));
  Watch foreign = Open(Watching().Feed("0123456789abcdef"));
  EXPECT_THAT(foreign.Read(1), IsEmpty());
  EXPECT_THAT(foreign.Finish(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "feed_id 0123456789abcdef is not this server's feed"));
  // The right feed id is accepted.
  Watch same = Open(Watching().After(kHuicheEntries - 1).Feed(FeedId()));
  EXPECT_EQ(Sequences(same.Read(1)), std::vector<uint64_t>{kHuicheEntries});
  same.Cancel();

  for (const absl::Duration interval :
       {absl::Milliseconds(999), absl::Hours(1) + absl::Seconds(1),
        absl::Seconds(-5)}) {
    SCOPED_TRACE(absl::FormatDuration(interval));
    Watch bad = Open(Watching().Heartbeats(interval));
    EXPECT_THAT(bad.Read(1), IsEmpty());
    EXPECT_THAT(bad.Finish(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("heartbeat_interval: must be 0 (no "
                                      "heartbeats) or 1s..1h, got ",
                                      absl::FormatDuration(interval))));
  }
}

TEST_F(RegistryFeedTest, CaughtUpHeartbeatCarriesPositionAndNewest) {
  const std::string feed_id = FeedId();
  Watch watch = Open(Watching().After(20).Heartbeats(absl::Hours(1)));
  std::vector<v1::Change> messages = watch.Read(11);
  ASSERT_EQ(Sequences(messages), (std::vector<uint64_t>{21, 22, 23, 24, 25, 26,
                                                        27, 28, 29, 30, 30}));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(messages[i].kind(), v1::VILLAGE_CREATED);
    EXPECT_EQ(messages[i].newest_sequence(), kHuicheEntries);
  }
  ExpectHeartbeat(messages[10], kHuicheEntries, kHuicheEntries, feed_id);
  // Live changes still flow; no second marker follows them.
  ASSERT_OK(
      CreateVillage(stub(), NewVillage("411323-huiche-north-09", kNorth)));
  std::vector<v1::Change> live = watch.Read(1);
  ASSERT_THAT(live, SizeIs(1));
  EXPECT_EQ(live[0].kind(), v1::VILLAGE_CREATED);
  EXPECT_EQ(live[0].sequence(), 31u);
  EXPECT_EQ(live[0].newest_sequence(), 31u);
  watch.Cancel();

  // A scoped follower's marker is its position in the whole feed, past the
  // last change it may see.
  Watch north =
      Open(Watching().As(kNorthViewerToken).Heartbeats(absl::Hours(1)));
  messages = north.Read(7);
  ASSERT_THAT(messages, SizeIs(7));
  EXPECT_EQ(messages[5].sequence(), 31u);
  ExpectHeartbeat(messages[6], 31, 31, feed_id);
  north.Cancel();
}

TEST_F(RegistryFeedTest, IdleFollowerGetsAHeartbeatEveryInterval) {
  const std::string feed_id = FeedId();
  Watch watch =
      Open(Watching().After(kHuicheEntries).Heartbeats(absl::Seconds(1)));
  std::vector<v1::Change> marker = watch.Read(1);
  ASSERT_THAT(marker, SizeIs(1));
  ExpectHeartbeat(marker[0], kHuicheEntries, kHuicheEntries, feed_id);
  const auto start = std::chrono::steady_clock::now();
  std::vector<v1::Change> idle = watch.Read(1);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_THAT(idle, SizeIs(1));
  ExpectHeartbeat(idle[0], kHuicheEntries, kHuicheEntries, feed_id);
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));

  ASSERT_OK(
      CreateVillage(stub(), NewVillage("411323-huiche-north-09", kNorth)));
  std::vector<v1::Change> next = watch.Read(2);
  ASSERT_THAT(next, SizeIs(2));
  EXPECT_EQ(next[0].kind(), v1::VILLAGE_CREATED);
  EXPECT_EQ(next[0].sequence(), 31u);
  ExpectHeartbeat(next[1], 31, 31, feed_id);
  watch.Cancel();
}

// A registry started through its composition root on a database file, so a
// test can stop it and start another on the same file.
class RegistryServer {
 public:
  RegistryServer(const std::string& database,
                 std::shared_ptr<const Authenticator> tokens,
                 const Clock* clock)
      : host_(database, std::move(tokens), clock),
        stub_(v1::RegistryService::NewStub(host_.NewChannel())) {}

  Stub& stub() { return *stub_; }
  ChangeFeed& feed() { return host_.server().feed(); }
  // main.cc's shutdown sequence: end the change-feed streams, then drain.
  void Stop() { host_.Stop(); }

 private:
  fivestar::testing::RegistryHost host_;
  std::unique_ptr<Stub> stub_;
};

class RegistryRestartTest : public ::testing::Test {
 protected:
  std::unique_ptr<RegistryServer> Start() {
    return std::make_unique<RegistryServer>(databases_.Get("registry"), tokens_,
                                            &clock_);
  }

  fivestar::testing::TestDatabases databases_;
  FakeClock clock_{absl::FromUnixSeconds(1'664'510'400)};
  std::shared_ptr<const Authenticator> tokens_ =
      std::make_shared<Authenticator>(fivestar::testing::TestTokenTable(
          {{kAdminToken, "admin", "*", "province-admin"}}));
};

// The value of fivestar_feed_newest_sequence{feed="registry"}.
double NewestSequenceGauge(ChangeFeed& feed) {
  return fivestar::testing::MetricValue(
      feed.metrics(), "fivestar_feed_newest_sequence", "feed", "registry");
}

TEST_F(RegistryRestartTest, FeedContinuesOnTheSameDatabase) {
  auto first = Start();
  EXPECT_EQ(NewestSequenceGauge(first->feed()), 0);
  ASSERT_OK(CreateRegion(first->stub(), NewRegion("410000", v1::PROVINCE, "")));
  ASSERT_OK(
      CreateRegion(first->stub(), NewRegion("411300", v1::CITY, "410000")));
  EXPECT_EQ(NewestSequenceGauge(first->feed()), 2);
  Watch before = OpenOn(first->stub(), Watching());
  std::vector<v1::Change> seen = before.Read(2);
  ASSERT_EQ(Sequences(seen), Range(1, 2));
  before.Cancel();
  first.reset();

  auto second = Start();
  EXPECT_EQ(NewestSequenceGauge(second->feed()), 2);
  ASSERT_OK(
      CreateRegion(second->stub(), NewRegion("411323", v1::COUNTY, "411300")));
  EXPECT_EQ(NewestSequenceGauge(second->feed()), 3);
  Watch after =
      OpenOn(second->stub(), Watching().After(2).Feed(seen[1].feed_id()));
  std::vector<v1::Change> next = after.Read(1);
  ASSERT_EQ(Sequences(next), std::vector<uint64_t>{3});
  EXPECT_EQ(next[0].feed_id(), seen[0].feed_id());
  EXPECT_EQ(next[0].entity_id(), "411323");
  after.Cancel();

  // Another database is another feed.
  RegistryServer elsewhere(databases_.Get("other"), tokens_, &clock_);
  Watch foreign = OpenOn(elsewhere.stub(), Watching().Feed(seen[0].feed_id()));
  EXPECT_THAT(foreign.Read(1), IsEmpty());
  EXPECT_THAT(foreign.Finish(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         "is not this server's feed"));
}

TEST_F(RegistryRestartTest, ShutdownEndsOpenStreamsWithUnavailable) {
  auto server = Start();
  ASSERT_OK(
      CreateRegion(server->stub(), NewRegion("410000", v1::PROVINCE, "")));
  Watch following = OpenOn(server->stub(), Watching().After(1));  // Caught up.
  following.reader->WaitForInitialMetadata();
  Watch beating =
      OpenOn(server->stub(), Watching().After(1).Heartbeats(absl::Seconds(1)));
  EXPECT_THAT(Kinds(beating.Read(1)), ElementsAre(v1::HEARTBEAT));

  server->Stop();  // As main.cc does on SIGTERM.

  for (Watch* watch : {&following, &beating}) {
    EXPECT_THAT(watch->Read(1), IsEmpty());
    EXPECT_THAT(watch->Finish(),
                StatusIs(absl::StatusCode::kUnavailable,
                         "the server is shutting down; reconnect from your "
                         "last sequence"));
  }
}

}  // namespace
}  // namespace fivestar::registry
