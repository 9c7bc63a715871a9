// Two registries on one PostgreSQL database, as two replicas behind a load
// balancer: what is written through either is read through the other at
// once, the region tree each keeps in memory included (so the other's new,
// moved and deleted regions count in its scope checks at once); etags hold
// across them; and either replica's change feed is the whole feed, gapless
// and in commit order, whichever replica wrote, concurrent writers too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watch_stream.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::Range;
using ::fivestar::testing::Sequences;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;
using Stub = v1::RegistryService::Stub;
using Watch = ::fivestar::testing::WatchStream<v1::Change>;
using namespace ::fivestar::registry::testing;

constexpr char kHuiche[] = "411323-huiche";
constexpr char kWest[] = "411323-huiche-west";
constexpr char kWestVillage[] = "411323-huiche-west-01";
// The feed entries of the Huiche import (9 regions, 21 villages).
constexpr uint64_t kHuicheEntries = 30;

class RegistryReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(env_.Import(HuicheRecords()));
    // The second replica starts after the import, as a scaled-out one would.
    other_ = std::make_unique<fivestar::testing::RegistryHost>(
        env_.database(), env_.tokens(), &env_.clock());
    other_stub_ = v1::RegistryService::NewStub(other_->NewChannel());
  }

  Stub& a() { return env_.stub(); }
  Stub& b() { return *other_stub_; }

  static absl::StatusOr<v1::Region> CreateRegion(
      Stub& stub, const v1::Region& region,
      const std::string& token = kAdminToken) {
    v1::CreateRegionRequest request;
    *request.mutable_region() = region;
    v1::Region response;
    auto context = NewContext(token);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.CreateRegion(context.get(), request, &response)));
    return response;
  }
  static absl::StatusOr<v1::Region> GetRegion(
      Stub& stub, const std::string& id,
      const std::string& token = kAdminToken) {
    v1::GetRegionRequest request;
    request.set_id(id);
    v1::Region response;
    auto context = NewContext(token);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.GetRegion(context.get(), request, &response)));
    return response;
  }
  static absl::StatusOr<v1::Region> UpdateRegion(Stub& stub,
                                                 const v1::Region& region,
                                                 const std::string& path) {
    v1::UpdateRegionRequest request;
    *request.mutable_region() = region;
    request.mutable_update_mask()->add_paths(path);
    v1::Region response;
    auto context = NewContext(kAdminToken);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.UpdateRegion(context.get(), request, &response)));
    return response;
  }
  static absl::Status DeleteRegion(Stub& stub, const std::string& id,
                                   const std::string& etag) {
    v1::DeleteRegionRequest request;
    request.set_id(id);
    request.set_etag(etag);
    google::protobuf::Empty response;
    auto context = NewContext(kAdminToken);
    return FromGrpcStatus(stub.DeleteRegion(context.get(), request, &response));
  }
  static absl::StatusOr<v1::Village> CreateVillage(
      Stub& stub, const std::string& id, const std::string& region_id,
      const std::string& token = kAdminToken) {
    v1::CreateVillageRequest request;
    v1::Village& village = *request.mutable_village();
    village.set_id(id);
    village.set_name("新村");
    village.set_region_id(region_id);
    village.set_kind(v1::VILLAGE);
    village.set_committee_members(5);
    village.set_target_level(3);
    village.set_target_year(2023);
    v1::Village response;
    auto context = NewContext(token);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.CreateVillage(context.get(), request, &response)));
    return response;
  }
  static absl::StatusOr<v1::Village> GetVillage(
      Stub& stub, const std::string& id,
      const std::string& token = kAdminToken) {
    v1::GetVillageRequest request;
    request.set_id(id);
    v1::Village response;
    auto context = NewContext(token);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub.GetVillage(context.get(), request, &response)));
    return response;
  }
  static Watch WatchAfter(Stub& stub, uint64_t sequence) {
    v1::WatchChangesRequest request;
    request.set_after_sequence(sequence);
    Watch watch;
    watch.context = NewContext(kAdminToken, absl::Seconds(30));
    watch.reader = stub.WatchChanges(watch.context.get(), request);
    return watch;
  }

  static v1::Region District(const std::string& id, const std::string& parent) {
    v1::Region region;
    region.set_id(id);
    region.set_kind(v1::DISTRICT);
    region.set_name("新管区");
    region.set_parent_id(parent);
    return region;
  }

  RegistryTestEnv env_;
  std::unique_ptr<fivestar::testing::RegistryHost> other_;
  std::unique_ptr<Stub> other_stub_;
};

TEST_F(RegistryReplicasTest,
       ARegionCreatedThroughOneIsUsedAtOnceThroughTheOther) {
  ASSERT_OK_AND_ASSIGN(
      v1::Region created,
      CreateRegion(a(), District("411323-huiche-new", kHuiche)));
  // No wait: the other replica's region tree follows the database.
  ASSERT_OK_AND_ASSIGN(v1::Region read, GetRegion(b(), "411323-huiche-new"));
  EXPECT_EQ(read.etag(), created.etag());
  EXPECT_EQ(read.parent_id(), kHuiche);
  // The township's admin may create a village in it through the other
  // replica: its scope check walks the new region's lineage there.
  ASSERT_OK(CreateVillage(b(), "411323-huiche-new-01", "411323-huiche-new",
                          kHuicheAdminToken));
  ASSERT_OK_AND_ASSIGN(v1::Village village,
                       GetVillage(a(), "411323-huiche-new-01"));
  EXPECT_EQ(village.region_id(), "411323-huiche-new");
}

TEST_F(RegistryReplicasTest, AMoveThroughOneChangesWhoMayReadThroughTheOther) {
  // The other township, made through the second replica, then the west
  // district moved below it through the first.
  v1::Region other;
  other.set_id("411323-other");
  other.set_kind(v1::TOWNSHIP);
  other.set_name("丁河镇");
  other.set_parent_id("411323");
  ASSERT_OK(CreateRegion(b(), other));
  EXPECT_THAT(
      GetRegion(b(), kWest, kOtherTownshipOperatorToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
  ASSERT_OK_AND_ASSIGN(v1::Region west, GetRegion(a(), kWest));
  west.set_parent_id("411323-other");
  ASSERT_OK(UpdateRegion(a(), west, "parent_id"));

  ASSERT_OK_AND_ASSIGN(v1::Region moved,
                       GetRegion(b(), kWest, kOtherTownshipOperatorToken));
  EXPECT_EQ(moved.parent_id(), "411323-other");
  EXPECT_THAT(
      GetRegion(b(), kWest, kHuicheAdminToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
  ASSERT_OK(GetVillage(b(), kWestVillage, kOtherTownshipOperatorToken));
  EXPECT_THAT(
      GetVillage(b(), kWestVillage, kHuicheAdminToken),
      StatusIs(absl::StatusCode::kPermissionDenied, "outside its scope"));
}

TEST_F(RegistryReplicasTest, EtagsHoldAcrossReplicasAndADeleteIsSeenAtOnce) {
  ASSERT_OK_AND_ASSIGN(
      v1::Region created,
      CreateRegion(a(), District("411323-huiche-new", kHuiche)));
  v1::Region renamed = created;
  renamed.set_name("更名管区");
  ASSERT_OK_AND_ASSIGN(v1::Region updated, UpdateRegion(b(), renamed, "name"));
  // The first replica's etag is stale now.
  EXPECT_THAT(DeleteRegion(a(), created.id(), created.etag()),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ASSERT_OK_AND_ASSIGN(v1::Region read, GetRegion(a(), created.id()));
  EXPECT_EQ(read.name(), "更名管区");
  EXPECT_EQ(read.etag(), updated.etag());

  ASSERT_OK(DeleteRegion(a(), created.id(), updated.etag()));
  EXPECT_THAT(GetRegion(b(), created.id()),
              StatusIs(absl::StatusCode::kNotFound,
                       "region 411323-huiche-new not found"));
  EXPECT_THAT(
      CreateVillage(b(), "411323-huiche-new-01", created.id()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "village.region_id: region 411323-huiche-new does not exist"));
}

TEST_F(RegistryReplicasTest, EitherFeedIsTheWholeFeedInCommitOrder) {
  Watch through_a = WatchAfter(a(), kHuicheEntries);
  Watch through_b = WatchAfter(b(), kHuicheEntries);
  // Alternating replicas, one write at a time: the order is known. The
  // last is the first replica's, which only the second's poll of the
  // database can show it.
  std::vector<std::string> written;
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("411323-huiche-west-alt", i);
    ASSERT_OK(CreateVillage(i % 2 == 0 ? b() : a(), id, kWest));
    written.push_back(id);
  }
  for (Watch* watch : {&through_a, &through_b}) {
    std::vector<v1::Change> changes = watch->Read(6);
    ASSERT_THAT(changes, SizeIs(6));
    EXPECT_THAT(
        Sequences(changes),
        ElementsAreArray(Range(kHuicheEntries + 1, kHuicheEntries + 6)));
    for (size_t i = 0; i < changes.size(); ++i) {
      EXPECT_EQ(changes[i].entity_id(), written[i]);
      EXPECT_EQ(changes[i].kind(), v1::VILLAGE_CREATED);
    }
  }

  // Then two writers at once, one per replica: 2 × 20 entries, gapless,
  // the same order on both feeds.
  std::vector<std::string> concurrent[2];
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([this, w, &concurrent] {
      for (int i = 0; i < 20; ++i) {
        const std::string id = absl::StrCat("411323-huiche-west-w", w, "-", i);
        EXPECT_OK(CreateVillage(w == 0 ? a() : b(), id, kWest));
        concurrent[w].push_back(id);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  std::vector<std::string> all = concurrent[0];
  all.insert(all.end(), concurrent[1].begin(), concurrent[1].end());
  std::vector<std::string> order_a, order_b;
  for (auto [watch, order] :
       {std::pair{&through_a, &order_a}, std::pair{&through_b, &order_b}}) {
    std::vector<v1::Change> changes = watch->Read(40);
    ASSERT_THAT(changes, SizeIs(40));
    EXPECT_THAT(
        Sequences(changes),
        ElementsAreArray(Range(kHuicheEntries + 7, kHuicheEntries + 46)));
    for (const v1::Change& change : changes) {
      order->push_back(change.entity_id());
    }
    EXPECT_THAT(*order, UnorderedElementsAreArray(all));
  }
  EXPECT_EQ(order_a, order_b);
  through_a.Cancel();
  through_b.Cancel();
}

}  // namespace
}  // namespace fivestar::registry
