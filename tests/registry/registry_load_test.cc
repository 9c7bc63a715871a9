// A bounded load on the registry over real gRPC: several clients create,
// update (on etags, some stale on purpose), delete, read and list villages
// at once, a fixed number of operations each; afterwards the villages are
// exactly what the acknowledged answers imply (tests/testing/
// acknowledged_writes.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/registry/registry_test_env.h"
#include "tests/testing/acknowledged_writes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/unary_call.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::AcknowledgedWrites;
using ::fivestar::testing::RunClients;
using ::fivestar::testing::UnaryCall;
using ::fivestar::testing::Version;
using Stub = v1::RegistryService::Stub;

constexpr char kNorth[] = "411323-huiche-north";
// The global admin: a scoped one is told PERMISSION_DENIED, not NOT_FOUND,
// for a village that is gone (absence is concealed outside the root).
constexpr const char* kToken = testing::kAdminToken;
constexpr int kClients = 8;
constexpr int kOperations = 60;

Version VersionOf(const v1::Village& village) {
  return {village.etag(), absl::StrCat(village.name(), "|", village.region_id(),
                                       "|", village.households())};
}

class RegistryLoadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env_.Import(testing::HuicheRecords())); }

  void Create(const std::string& id, bool shared) {
    v1::CreateVillageRequest request;
    v1::Village* village = request.mutable_village();
    village->set_id(id);
    village->set_name(absl::StrCat("负载村", id));
    village->set_region_id(kNorth);
    village->set_kind(v1::VILLAGE);
    village->set_committee_members(5);
    village->set_households(1);
    absl::StatusOr<v1::Village> created =
        UnaryCall(env_.stub(), &Stub::CreateVillage, request, kToken);
    if (created.ok()) {
      writes_.Created(id, VersionOf(*created));
    } else if (shared &&
               created.status().code() == absl::StatusCode::kAlreadyExists) {
      writes_.Refused(id, "", created.status().code());
    } else {
      writes_.Unexpected(absl::StrCat("CreateVillage ", id), created.status());
    }
  }

  // Sets the households of `id` on the newest etag a client saw; with
  // `again`, repeats an acknowledged update on the etag it consumed (stale
  // on purpose: must be ABORTED).
  void Update(const std::string& id, int households, bool again) {
    std::optional<std::string> etag = writes_.LastSeen(id);
    if (!etag.has_value()) return;  // deleted
    v1::UpdateVillageRequest request;
    request.mutable_village()->set_id(id);
    request.mutable_village()->set_etag(*etag);
    request.mutable_village()->set_households(households);
    request.mutable_update_mask()->add_paths("households");
    absl::StatusOr<v1::Village> updated =
        UnaryCall(env_.stub(), &Stub::UpdateVillage, request, kToken);
    writes_.Answered("UpdateVillage", id, *etag, updated.status(),
                     updated.ok() ? VersionOf(*updated) : Version());
    if (!updated.ok() || !again) return;
    request.mutable_village()->set_households(households + 1);
    absl::StatusOr<v1::Village> stale =
        UnaryCall(env_.stub(), &Stub::UpdateVillage, request, kToken);
    writes_.Answered("UpdateVillage", id, *etag, stale.status(),
                     stale.ok() ? VersionOf(*stale) : Version());
    forced_stale_.fetch_add(1);
  }

  void Delete(const std::string& id) {
    std::optional<std::string> etag = writes_.LastSeen(id);
    if (!etag.has_value()) return;
    v1::DeleteVillageRequest request;
    request.set_id(id);
    request.set_etag(*etag);
    absl::StatusOr<google::protobuf::Empty> deleted =
        UnaryCall(env_.stub(), &Stub::DeleteVillage, request, kToken);
    writes_.Answered("DeleteVillage", id, *etag, deleted.status(),
                     std::nullopt);
  }

  void Read(const std::string& id) {
    v1::GetVillageRequest get;
    get.set_id(id);
    absl::StatusOr<v1::Village> village =
        UnaryCall(env_.stub(), &Stub::GetVillage, get, kToken);
    if (!village.ok() && !absl::IsNotFound(village.status())) {
      writes_.Unexpected(absl::StrCat("GetVillage ", id), village.status());
    }
    absl::StatusOr<std::map<std::string, Version>> listed = ListLoadVillages();
    if (!listed.ok()) writes_.Unexpected("ListVillages", listed.status());
  }

  // Every village the load created that exists now, by id.
  absl::StatusOr<std::map<std::string, Version>> ListLoadVillages() {
    std::map<std::string, Version> villages;
    v1::ListVillagesRequest request;
    request.set_ancestor_id(kNorth);
    request.set_page_size(7);
    for (int page = 0; page < 1000; ++page) {
      ASSIGN_OR_RETURN(
          v1::ListVillagesResponse response,
          UnaryCall(env_.stub(), &Stub::ListVillages, request, kToken));
      for (const v1::Village& village : response.villages()) {
        if (absl::StartsWith(village.id(), "load-")) {
          villages[village.id()] = VersionOf(village);
        }
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return villages;
  }

  testing::RegistryTestEnv env_;
  AcknowledgedWrites writes_;
  std::atomic<int> forced_stale_{0};
};

TEST_F(RegistryLoadTest, ConcurrentClientsLeaveExactlyWhatTheyWereTold) {
  const int skipped = RunClients(kClients, kOperations, [&](int c, int i) {
    std::minstd_rand random(c * 1000 + i);
    const std::vector<std::string> keys = writes_.Keys();
    const std::string any = keys.empty() ? "" : keys[random() % keys.size()];
    const int households = 1000 * (c + 1) + i;  // unique per write
    switch (i % 6) {
      case 0:
        Create(absl::StrCat("load-", c, "-", i), false);
        break;
      case 1:  // every client races to create the same village
        Create(absl::StrCat("load-shared-", i), true);
        break;
      case 2:
        if (!any.empty()) Update(any, households, false);
        break;
      case 3:
        if (!any.empty()) Update(any, households, true);
        break;
      case 4:
        if (!any.empty()) Read(any);
        break;
      case 5:
        if (any.empty()) break;
        if (i % 12 == 11) {
          // Not a village clients may still be racing to create: a create
          // after the delete would make it again (legitimately), and each
          // key has one life in the model.
          if (!absl::StartsWith(any, "load-shared-")) Delete(any);
        } else {
          Update(any, households, false);
        }
        break;
    }
  });
  EXPECT_EQ(skipped, 0);
  std::cout << "registry load: " << writes_.Tally() << "\n";

  ASSERT_OK_AND_ASSIGN(auto actual, ListLoadVillages());
  const std::vector<std::string> errors = writes_.Check(actual);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  // The load did what it is for: writes acknowledged and refused.
  EXPECT_GT(forced_stale_.load(), 0);
  EXPECT_GT(writes_.Refusals(absl::StatusCode::kAborted), 0);
  EXPECT_EQ(writes_.Refusals(absl::StatusCode::kAlreadyExists),
            (kClients - 1) * (kOperations / 6));
  EXPECT_GT(writes_.Acknowledged(), kClients * kOperations / 3);
  EXPECT_FALSE(actual.empty());
}

}  // namespace
}  // namespace fivestar::registry
