// RegistryVillageDirectory against the real registry: lineages, villages of
// a region across every ListVillages page, NOT_FOUND for unknown ids, the
// cache (fresh answers served while the registry is down, none after the
// TTL or with the cache off), the region tree read once per TTL, single
// flight (identical lookups in flight share one registry call), distinct
// village lookups in flight gathered into one BatchGetVillages, distinct
// region lookups with the cache off still meeting the PeerCallLimit, and
// batch lookups (VillageLineages) with the exact number of registry calls
// they cost.
#include "common/registry_client/registry_village_directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/peer_client.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/indicator_ledger.h"
#include "services/projects/sql_projects_store.h"
#include "tests/projects/memory_region_tree.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using namespace ::fivestar::projects::testing;

// Counts the calls made on a channel and holds each one before it is sent
// until the gate opens, so that a test can line callers up behind a call
// in flight without relying on timing.
class CallGate {
 public:
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void Pass() {
    absl::MutexLock lock(&mu_);
    ++calls_;
    mu_.Await(absl::Condition(&open_));
  }

 private:
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class GateInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit GateInterceptor(CallGate* gate) : gate_(gate) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      gate_->Pass();
    }
    methods->Proceed();
  }

 private:
  CallGate* gate_;
};

class GateInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit GateInterceptorFactory(CallGate* gate) : gate_(gate) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new GateInterceptor(gate_);
  }

 private:
  CallGate* gate_;
};

// Waits (without a deadline: the test's own timeout bounds it) until
// `done()` holds.
template <typename Fn>
void WaitUntil(Fn done) {
  while (!done()) absl::SleepFor(absl::Milliseconds(1));
}

// Counts the calls a channel makes, by method ("/pkg.Service/Method").
class CallCounter {
 public:
  std::map<std::string, int> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void Reset() {
    absl::MutexLock lock(&mu_);
    calls_.clear();
  }
  void Count(const std::string& method) {
    absl::MutexLock lock(&mu_);
    ++calls_[method];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(CallCounter* counter, std::string method)
      : counter_(counter), method_(std::move(method)) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      counter_->Count(method_);
    }
    methods->Proceed();
  }

 private:
  CallCounter* counter_;
  std::string method_;
};

class CountingInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(CallCounter* counter)
      : counter_(counter) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new CountingInterceptor(counter_, info->method());
  }

 private:
  CallCounter* counter_;
};

constexpr char kBatchGet[] =
    "/fivestar.registry.v1.RegistryService/BatchGetVillages";
constexpr char kGetAncestors[] =
    "/fivestar.registry.v1.RegistryService/GetAncestors";
constexpr char kGetRegion[] = "/fivestar.registry.v1.RegistryService/GetRegion";
constexpr char kListRegions[] =
    "/fivestar.registry.v1.RegistryService/ListRegions";

class RegistryVillageDirectoryTest : public ::testing::Test {
 protected:
  // A directory whose every registry call `counter_` counts.
  std::unique_ptr<RegistryVillageDirectory> CountedDirectory(
      absl::Duration ttl) {
    RegistryDirectoryOptions options;
    options.bearer_token = kProjectsServiceToken;
    options.cache_ttl = ttl;
    std::vector<
        std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<CountingInterceptorFactory>(&counter_));
    auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        env_.registry().address(), grpc::InsecureChannelCredentials(),
        grpc::ChannelArguments(), std::move(interceptors));
    return std::make_unique<RegistryVillageDirectory>(channel, options,
                                                      &env_.clock());
  }

  // A directory whose every registry call passes `gate` first.
  std::unique_ptr<RegistryVillageDirectory> GatedDirectory(
      CallGate* gate, absl::Duration ttl = absl::Seconds(60)) {
    std::vector<
        std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(std::make_unique<GateInterceptorFactory>(gate));
    auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        env_.registry().address(), grpc::InsecureChannelCredentials(),
        grpc::ChannelArguments(), std::move(interceptors));
    RegistryDirectoryOptions options;
    options.bearer_token = kProjectsServiceToken;
    options.cache_ttl = ttl;
    return std::make_unique<RegistryVillageDirectory>(channel, options,
                                                      &env_.clock());
  }

  // Creates district `id` below the other township with `count` villages
  // "<id>-0000", "<id>-0001", ... through the registry's import.
  void AddDistrict(const std::string& id, int count) {
    registry::v1::Region district;
    district.set_id(id);
    district.set_kind(registry::v1::DISTRICT);
    district.set_name("大管区");
    district.set_parent_id(kOtherTownship);
    const Principal admin{"fixture", Role::kAdmin, "*"};
    ASSERT_OK(env_.registry().registry().CreateRegion(admin, district));
    auto import = env_.registry().registry().StartImport(admin);
    ASSERT_OK(import);
    registry::v1::ImportRegistryRequest chunk;
    for (int i = 0; i < count; ++i) {
      registry::v1::Village* village = chunk.add_records()->mutable_village();
      village->set_id(absl::StrFormat("%s-%04d", id, i));
      village->set_name(absl::StrFormat("村%d", i));
      village->set_region_id(id);
      village->set_kind(registry::v1::VILLAGE);
    }
    ASSERT_OK((*import)->Add(chunk));
    ASSERT_OK((*import)->Finish());
  }

  CallCounter counter_;

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
  AddDistrict("411323-other-big", 1205);

  RegistryVillageDirectory directory = Directory(absl::Seconds(60));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> big,
                       directory.VillagesUnder("411323-other-big"));
  EXPECT_EQ(big.size(), 1205u);
  EXPECT_TRUE(std::is_sorted(big.begin(), big.end()));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> township,
                       directory.VillagesUnder(kOtherTownship));
  EXPECT_EQ(township.size(), 1206u);  // The district's and its own village.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> west,
                       directory.VillagesUnder(kWest));
  EXPECT_THAT(west, ElementsAre(kDangziling, kDougou, "411323-huiche-west-03"));
}

TEST_F(RegistryVillageDirectoryTest, BatchLookupAsksOncePerThousandVillages) {
  AddDistrict("411323-other-big", 1205);
  std::vector<std::string> ids;
  for (int i = 0; i < 1205; ++i) {
    ids.push_back(absl::StrFormat("411323-other-big-%04d", i));
  }
  // Villages of two more regions, one of them twice.
  ids.push_back(kDangziling);
  ids.push_back(kMaohe);
  ids.push_back(kDangziling);
  std::unique_ptr<RegistryVillageDirectory> directory =
      CountedDirectory(absl::Seconds(60));
  ASSERT_OK_AND_ASSIGN(std::vector<std::vector<std::string>> lineages,
                       directory->VillageLineages(ids));
  ASSERT_EQ(lineages.size(), ids.size());
  EXPECT_THAT(lineages[0],
              ElementsAre("411323-other-big-0000", "411323-other-big",
                          kOtherTownship, "411323", "411300", "410000"));
  EXPECT_THAT(lineages[1204],
              ElementsAre("411323-other-big-1204", "411323-other-big",
                          kOtherTownship, "411323", "411300", "410000"));
  EXPECT_THAT(lineages[1205], ElementsAre(kDangziling, kWest, kHuiche, "411323",
                                          "411300", "410000"));
  EXPECT_THAT(lineages[1206], ElementsAre(kMaohe, kNorth, kHuiche, "411323",
                                          "411300", "410000"));
  EXPECT_EQ(lineages[1207], lineages[1205]);
  // 1,207 distinct villages: two batches of at most 1,000; the regions
  // from the region tree, one ListRegions page.
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kBatchGet, 2),
                                            std::make_pair(kListRegions, 1)));

  // Again: the regions are cached, the villages asked again in batches.
  counter_.Reset();
  ASSERT_OK_AND_ASSIGN(std::vector<std::vector<std::string>> again,
                       directory->VillageLineages(ids));
  EXPECT_EQ(again, lineages);
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kBatchGet, 2)));

  // A village asked singly before is answered from the cache.
  counter_.Reset();
  ASSERT_OK(directory->VillageLineage(kDougou));
  ASSERT_OK_AND_ASSIGN(std::vector<std::vector<std::string>> cached,
                       directory->VillageLineages({kDougou}));
  EXPECT_THAT(cached[0], ElementsAre(kDougou, kWest, kHuiche, "411323",
                                     "411300", "410000"));
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kBatchGet, 1)));
}

TEST_F(RegistryVillageDirectoryTest, BatchLookupSinglesOutUnknownVillages) {
  // The cache off: every region is asked again, once per batch lookup.
  std::unique_ptr<RegistryVillageDirectory> directory =
      CountedDirectory(absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(
      std::vector<std::vector<std::string>> lineages,
      directory->VillageLineages(
          {kDangziling, "411323-nowhere", kMaohe, kDougou, kDangziling}));
  ASSERT_EQ(lineages.size(), 5u);
  EXPECT_THAT(lineages[0], ElementsAre(kDangziling, kWest, kHuiche, "411323",
                                       "411300", "410000"));
  EXPECT_TRUE(lineages[1].empty());
  EXPECT_THAT(lineages[2], ElementsAre(kMaohe, kNorth, kHuiche, "411323",
                                       "411300", "410000"));
  EXPECT_THAT(lineages[3], ElementsAre(kDougou, kWest, kHuiche, "411323",
                                       "411300", "410000"));
  EXPECT_EQ(lineages[4], lineages[0]);
  // [4 distinct] fails; [Dangziling, nowhere] fails; [Dangziling] and
  // [nowhere] alone; [Maohe, Dougou] answers. Two regions (west, north).
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kBatchGet, 5),
                                            std::make_pair(kGetAncestors, 2)));
}

TEST_F(RegistryVillageDirectoryTest, BatchLookupFailsWhenTheRegistryIsDown) {
  std::unique_ptr<RegistryVillageDirectory> directory =
      CountedDirectory(absl::Seconds(60));
  env_.registry().Stop();
  EXPECT_THAT(directory->VillageLineages({kDangziling, kMaohe}),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
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

TEST_F(RegistryVillageDirectoryTest, IdenticalLookupsInFlightShareOneCall) {
  CallGate gate;
  std::unique_ptr<RegistryVillageDirectory> directory = GatedDirectory(&gate);
  // 64 callers, far beyond the limit of 8 calls in flight: the first asks
  // the registry, the other 63 wait for its answer.
  constexpr int kCallers = 64;
  std::vector<absl::StatusOr<std::vector<std::string>>> answers(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back(
        [&, i] { answers[i] = directory->VillageLineage(kDangziling); });
  }
  WaitUntil([&] {
    return gate.calls() == 1 && directory->shared_waiters() == kCallers - 1;
  });
  gate.Open();
  for (std::thread& caller : callers) caller.join();
  // The BatchGetVillages, then the region tree's one ListRegions page.
  EXPECT_EQ(gate.calls(), 2);
  for (const auto& answer : answers) {
    EXPECT_THAT(answer,
                IsOkAndHolds(ElementsAre(kDangziling, kWest, kHuiche, "411323",
                                         "411300", "410000")));
  }
  EXPECT_EQ(directory->shared_waiters(), 0);
  // The answer is cached: no further call.
  EXPECT_OK(directory->VillageLineage(kDangziling));
  EXPECT_EQ(gate.calls(), 2);
}

TEST_F(RegistryVillageDirectoryTest, SharedLookupsShareNotFoundAndSubtrees) {
  CallGate gate;
  std::unique_ptr<RegistryVillageDirectory> directory = GatedDirectory(&gate);
  constexpr int kCallers = 16;
  std::vector<absl::StatusOr<std::vector<std::string>>> missing(kCallers);
  std::vector<absl::StatusOr<std::vector<std::string>>> west(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      missing[i] = directory->VillageLineage("411323-huiche-west-99");
    });
    callers.emplace_back([&, i] { west[i] = directory->VillagesUnder(kWest); });
  }
  // One BatchGetVillages of the unknown village, the region tree's page
  // (the region is asked before its villages are listed); everyone else
  // waits.
  WaitUntil([&] {
    return gate.calls() == 2 &&
           directory->shared_waiters() == 2 * (kCallers - 1);
  });
  gate.Open();
  for (std::thread& caller : callers) caller.join();
  // Then one ListVillages page.
  EXPECT_EQ(gate.calls(), 3);
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_THAT(missing[i], StatusIs(absl::StatusCode::kNotFound,
                                     "village 411323-huiche-west-99 does not "
                                     "exist in the registry"));
    EXPECT_THAT(west[i], IsOkAndHolds(ElementsAre(kDangziling, kDougou,
                                                  "411323-huiche-west-03")));
  }
  // NOT_FOUND is not cached: the next lookup asks again.
  EXPECT_THAT(directory->VillageLineage("411323-huiche-west-99"),
              StatusIs(absl::StatusCode::kNotFound, "411323-huiche-west-99"));
  EXPECT_EQ(gate.calls(), 4);
}

TEST_F(RegistryVillageDirectoryTest, DistinctVillageLookupsShareOneBatch) {
  AddDistrict("411323-other-big", 64);
  CallGate gate;
  std::unique_ptr<RegistryVillageDirectory> directory = GatedDirectory(&gate);
  // 64 distinct villages, far beyond the limit of 8 calls in flight: the
  // first is asked alone, the other 63 gather behind it into one batch.
  constexpr int kCallers = 64;
  std::vector<absl::StatusOr<std::vector<std::string>>> answers(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      answers[i] = directory->VillageLineage(
          absl::StrFormat("411323-other-big-%04d", i));
    });
  }
  WaitUntil([&] {
    return gate.calls() == 1 && directory->shared_waiters() == kCallers - 1;
  });
  EXPECT_EQ(directory->registry_calls_in_flight(), 1);
  gate.Open();
  for (std::thread& caller : callers) caller.join();
  // The first BatchGetVillages, the region tree's one ListRegions page,
  // the batch of 63.
  EXPECT_EQ(gate.calls(), 3);
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_THAT(answers[i], IsOkAndHolds(ElementsAre(
                                absl::StrFormat("411323-other-big-%04d", i),
                                "411323-other-big", kOtherTownship, "411323",
                                "411300", "410000")));
  }
  EXPECT_EQ(directory->shared_waiters(), 0);
}

TEST_F(RegistryVillageDirectoryTest, ABatchAnswersUnknownAndFailedVillages) {
  CallGate gate;
  std::unique_ptr<RegistryVillageDirectory> directory = GatedDirectory(&gate);
  // The first lookup holds the gate; an unknown and a known village gather
  // behind it into one batch.
  absl::StatusOr<std::vector<std::string>> first, unknown, known;
  std::thread first_caller([&] { first = directory->VillageLineage(kMaohe); });
  WaitUntil([&] { return gate.calls() == 1; });
  std::thread unknown_caller(
      [&] { unknown = directory->VillageLineage("411323-huiche-west-99"); });
  std::thread known_caller(
      [&] { known = directory->VillageLineage(kDangziling); });
  WaitUntil([&] { return directory->shared_waiters() == 2; });
  gate.Open();
  first_caller.join();
  unknown_caller.join();
  known_caller.join();
  EXPECT_THAT(first, IsOkAndHolds(ElementsAre(kMaohe, kNorth, kHuiche, "411323",
                                              "411300", "410000")));
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kNotFound,
                                "village 411323-huiche-west-99 does not exist "
                                "in the registry"));
  EXPECT_THAT(known, IsOkAndHolds(ElementsAre(kDangziling, kWest, kHuiche,
                                              "411323", "411300", "410000")));

  // With the registry gone, every village of a batch gets its failure.
  env_.registry().Stop();
  EXPECT_THAT(directory->VillageLineage(kDougou),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry could not be reached to look up "
                       "village 411323-huiche-west-02"));
}

TEST_F(RegistryVillageDirectoryTest, TheRegionTreeIsReadOncePerTtl) {
  std::unique_ptr<RegistryVillageDirectory> directory =
      CountedDirectory(absl::Seconds(60));
  EXPECT_THAT(
      directory->RegionLineage(kWest),
      IsOkAndHolds(ElementsAre(kWest, kHuiche, "411323", "411300", "410000")));
  EXPECT_THAT(
      directory->RegionLineage(kOtherTownship),
      IsOkAndHolds(ElementsAre(kOtherTownship, "411323", "411300", "410000")));
  EXPECT_THAT(directory->RegionLineage("410000"),
              IsOkAndHolds(ElementsAre("410000")));
  EXPECT_THAT(directory->RegionLineage("411323-nowhere"),
              StatusIs(absl::StatusCode::kNotFound,
                       "region 411323-nowhere does not exist in the registry"));
  EXPECT_THAT(directory->RegionKindOf(kOtherTownship),
              IsOkAndHolds(registry::v1::TOWNSHIP));
  EXPECT_THAT(directory->RegionKindOf("410000"),
              IsOkAndHolds(registry::v1::PROVINCE));
  EXPECT_THAT(directory->RegionKindOf("411323-nowhere"),
              StatusIs(absl::StatusCode::kNotFound,
                       "region 411323-nowhere does not exist in the registry"));
  // One page for the whole tree; the region it does not hold is asked.
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kGetAncestors, 1),
                                            std::make_pair(kGetRegion, 1),
                                            std::make_pair(kListRegions, 1)));

  // A region created since is asked on its own; one moved keeps its old
  // lineage until the TTL, then the tree is read again.
  const Principal admin{"fixture", Role::kAdmin, "*"};
  registry::v1::Region fresh;
  fresh.set_id("411323-other-east");
  fresh.set_kind(registry::v1::DISTRICT);
  fresh.set_name("东管区");
  fresh.set_parent_id(kOtherTownship);
  ASSERT_OK(env_.registry().registry().CreateRegion(admin, fresh));
  registry::v1::Region moved;
  moved.set_id(kWest);
  moved.set_parent_id(kOtherTownship);
  google::protobuf::FieldMask mask;
  mask.add_paths("parent_id");
  ASSERT_OK(env_.registry().registry().UpdateRegion(admin, moved, mask));
  counter_.Reset();
  EXPECT_THAT(directory->RegionLineage("411323-other-east"),
              IsOkAndHolds(ElementsAre("411323-other-east", kOtherTownship,
                                       "411323", "411300", "410000")));
  EXPECT_THAT(directory->RegionKindOf("411323-other-east"),
              IsOkAndHolds(registry::v1::DISTRICT));
  EXPECT_THAT(
      directory->RegionLineage(kWest),
      IsOkAndHolds(ElementsAre(kWest, kHuiche, "411323", "411300", "410000")));
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kGetAncestors, 1),
                                            std::make_pair(kGetRegion, 1)));
  env_.clock().Advance(absl::Seconds(60));
  counter_.Reset();
  EXPECT_THAT(directory->RegionLineage(kWest),
              IsOkAndHolds(ElementsAre(kWest, kOtherTownship, "411323",
                                       "411300", "410000")));
  EXPECT_THAT(directory->RegionLineage("411323-other-east"),
              IsOkAndHolds(ElementsAre("411323-other-east", kOtherTownship,
                                       "411323", "411300", "410000")));
  EXPECT_THAT(directory->RegionKindOf("411323-other-east"),
              IsOkAndHolds(registry::v1::DISTRICT));
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kListRegions, 1)));
}

TEST_F(RegistryVillageDirectoryTest, DistinctRegionLookupsStillMeetTheLimit) {
  CallGate gate;
  // The cache off: every region is asked with GetAncestors.
  std::unique_ptr<RegistryVillageDirectory> directory =
      GatedDirectory(&gate, absl::ZeroDuration());
  // Eight distinct lookups fill the limit of 8 calls in flight.
  std::vector<absl::StatusOr<std::vector<std::string>>> answers(8);
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&, i] {
      answers[i] =
          directory->RegionLineage(absl::StrFormat("411323-nowhere-%02d", i));
    });
  }
  WaitUntil([&] {
    return gate.calls() == 8 && directory->registry_calls_in_flight() == 8;
  });
  // A ninth distinct one is refused once it has waited a quarter of the
  // deadline for a place; one identical to a lookup in flight is not (it
  // waits for that answer).
  EXPECT_THAT(directory->RegionLineage(kNorth),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry is slow to answer: 8 calls are "
                       "already waiting on it, so this one did not look up "
                       "region 411323-huiche-north; retry later"));
  absl::StatusOr<std::vector<std::string>> joined;
  std::thread joiner(
      [&] { joined = directory->RegionLineage("411323-nowhere-00"); });
  WaitUntil([&] { return directory->shared_waiters() == 1; });
  gate.Open();
  joiner.join();
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(gate.calls(), 8);
  for (const auto& answer : answers) {
    EXPECT_THAT(answer, StatusIs(absl::StatusCode::kNotFound,
                                 "does not exist in the registry"));
  }
  EXPECT_THAT(joined, StatusIs(absl::StatusCode::kNotFound,
                               "region 411323-nowhere-00 does not exist"));
}

// SetIndicatorValues checks every village it names, each once, in one
// lookup: a cold batch of the province's load names about 60 villages, and
// one registry call each was most of its time.
TEST_F(RegistryVillageDirectoryTest,
       SetIndicatorValuesLooksUpItsVillagesAtOnce) {
  AddDistrict("411323-other-big", 64);
  fivestar::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SqlProjectsStore<SqlitePool>> store,
      SqlProjectsStore<SqlitePool>::Open(dir.File("p.db"), &env_.clock()));
  ASSERT_OK(DefineIndicators(
      store.get(), {{"grids", v1::STOCK}, {"people_trained", v1::FLOW}}));
  std::unique_ptr<RegistryVillageDirectory> directory =
      CountedDirectory(absl::Seconds(60));
  const Jurisdiction jurisdiction(directory.get());
  IndicatorLedger ledger(store.get(), &jurisdiction, &env_.clock());
  v1::SetIndicatorValuesRequest request;
  for (int i = 0; i < 64; ++i) {
    for (const char* key : {"grids", "people_trained"}) {
      v1::IndicatorValue* value = request.add_values();
      value->set_village_id(absl::StrFormat("411323-other-big-%04d", i));
      value->set_indicator_key(key);
      value->set_period("2022-09");
      value->set_value(i);
    }
  }
  const Principal admin{"loader", Role::kAdmin, "*"};
  ASSERT_OK_AND_ASSIGN(v1::SetIndicatorValuesResponse response,
                       ledger.SetValues(admin, request));
  EXPECT_EQ(response.created(), 128);
  // 64 distinct villages: one BatchGetVillages; their regions from the
  // region tree.
  EXPECT_THAT(counter_.calls(), ElementsAre(std::make_pair(kBatchGet, 1),
                                            std::make_pair(kListRegions, 1)));

  // A village the registry does not know is still blamed on its field
  // (the first value naming it), and nothing is written.
  counter_.Reset();
  v1::SetIndicatorValuesRequest unknown = request;
  unknown.mutable_values(5)->set_village_id("411323-other-big-9999");
  unknown.mutable_values(6)->set_village_id("411323-other-big-9999");
  EXPECT_THAT(ledger.SetValues(admin, unknown),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "values[5].village_id: village 411323-other-big-9999 "
                       "does not exist in the registry"));
}

}  // namespace
}  // namespace fivestar::projects
