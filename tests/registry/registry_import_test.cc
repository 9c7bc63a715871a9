// ImportRegistry / ExportRegistry: the Huiche data set, idempotency,
// all-or-nothing, validate-only, and the export round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "tests/registry/registry_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::registry {
namespace {

using ::fivestar::testing::NewContext;
using ::fivestar::testing::StatusIs;
using testing::HuicheRecords;
using testing::kAdminToken;
using testing::RegistryTestEnv;
using ::testing::SizeIs;

// Output-only fields aside, so imported and exported records compare.
v1::RegistryRecord WithoutOutputFields(v1::RegistryRecord record) {
  if (record.has_region()) {
    record.mutable_region()->clear_create_time();
    record.mutable_region()->clear_update_time();
    record.mutable_region()->clear_etag();
  } else {
    record.mutable_village()->clear_create_time();
    record.mutable_village()->clear_update_time();
    record.mutable_village()->clear_etag();
  }
  return record;
}

std::string Key(const v1::RegistryRecord& record) {
  return record.has_region() ? "r:" + record.region().id()
                             : "v:" + record.village().id();
}

class RegistryImportTest : public ::testing::Test {
 protected:
  int CountVillages() {
    v1::ListVillagesRequest request;
    request.set_page_size(1000);
    v1::ListVillagesResponse response;
    auto context = NewContext(kAdminToken);
    EXPECT_TRUE(
        env_.stub().ListVillages(context.get(), request, &response).ok());
    return response.villages_size();
  }

  RegistryTestEnv env_;
};

TEST_F(RegistryImportTest, HuicheImportsThenReimportChangesNothing) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  ASSERT_THAT(records, SizeIs(30));
  ASSERT_OK_AND_ASSIGN(v1::ImportRegistryResponse first, env_.Import(records));
  EXPECT_EQ(first.phase(), v1::ImportRegistryResponse::DONE);
  EXPECT_EQ(first.records_received(), 30);
  EXPECT_EQ(first.created(), 30);
  EXPECT_EQ(first.updated(), 0);
  EXPECT_EQ(first.unchanged(), 0);
  ASSERT_OK_AND_ASSIGN(auto exported_before, env_.Export());

  env_.clock().Advance(absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(v1::ImportRegistryResponse second, env_.Import(records));
  EXPECT_EQ(second.created(), 0);
  EXPECT_EQ(second.updated(), 0);
  EXPECT_EQ(second.unchanged(), 30);
  // Not even the etags or update times moved.
  ASSERT_OK_AND_ASSIGN(auto exported_after, env_.Export());
  ASSERT_EQ(exported_before.size(), exported_after.size());
  for (size_t i = 0; i < exported_before.size(); ++i) {
    EXPECT_EQ(exported_before[i].SerializeAsString(),
              exported_after[i].SerializeAsString());
  }
}

TEST_F(RegistryImportTest, ChangedRecordsAreUpdatedOthersUnchanged) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  ASSERT_OK(env_.Import(records));
  records[10].mutable_village()->set_target_level(5);
  records[2].mutable_region()->set_name_en("Xixia county");
  ASSERT_OK_AND_ASSIGN(auto result, env_.Import(records));
  EXPECT_EQ(result.created(), 0);
  EXPECT_EQ(result.updated(), 2);
  EXPECT_EQ(result.unchanged(), 28);
}

TEST_F(RegistryImportTest, RecordsMayComeInAnyOrder) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  std::reverse(records.begin(), records.end());  // Villages before regions.
  ASSERT_OK_AND_ASSIGN(auto result,
                       env_.Import(records, kAdminToken, false, 3));
  EXPECT_EQ(result.created(), 30);
  EXPECT_EQ(CountVillages(), 21);
}

TEST_F(RegistryImportTest, ProgressIsReportedPerChunk) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  auto context = NewContext(kAdminToken);
  auto stream = env_.stub().ImportRegistry(context.get());
  std::vector<int64_t> received;
  for (size_t i = 0; i < records.size(); i += 10) {
    v1::ImportRegistryRequest chunk;
    for (size_t j = i; j < i + 10; ++j) *chunk.add_records() = records[j];
    ASSERT_TRUE(stream->Write(chunk));
    v1::ImportRegistryResponse progress;
    ASSERT_TRUE(stream->Read(&progress));
    EXPECT_EQ(progress.phase(), v1::ImportRegistryResponse::RECEIVED);
    received.push_back(progress.records_received());
  }
  stream->WritesDone();
  v1::ImportRegistryResponse done;
  ASSERT_TRUE(stream->Read(&done));
  EXPECT_EQ(done.phase(), v1::ImportRegistryResponse::DONE);
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(received, ::testing::ElementsAre(10, 20, 30));
}

TEST_F(RegistryImportTest, OneBadRecordRejectsTheWholeImport) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  records[25].mutable_village()->set_target_level(8);
  EXPECT_THAT(
      env_.Import(records),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "records[25].village.target_level: must be 0..5, got 8"));
  EXPECT_EQ(CountVillages(), 0);
}

TEST_F(RegistryImportTest, DuplicateIdsAreRejected) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  records.push_back(records[12]);
  EXPECT_THAT(env_.Import(records),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records[30].village.id: \"411323-huiche-north-04\" "
                       "already appears at records[12]"));
  EXPECT_EQ(CountVillages(), 0);
}

TEST_F(RegistryImportTest, MissingParentIsRejected) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  records.erase(records.begin() + 3);  // The township.
  EXPECT_THAT(env_.Import(records),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "region 411323-huiche is neither in the import nor "
                       "stored"));
  EXPECT_EQ(CountVillages(), 0);
}

TEST_F(RegistryImportTest, VillageUnderACountyIsRejected) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  records[9].mutable_village()->set_region_id("411323");
  EXPECT_THAT(env_.Import(records),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records[9].village.region_id: region 411323 is a "
                       "COUNTY"));
}

TEST_F(RegistryImportTest, ValidateOnlyCountsButWritesNothing) {
  ASSERT_OK_AND_ASSIGN(auto result,
                       env_.Import(HuicheRecords(), kAdminToken, true));
  EXPECT_EQ(result.created(), 30);
  EXPECT_EQ(CountVillages(), 0);
  ASSERT_OK_AND_ASSIGN(auto exported, env_.Export());
  EXPECT_THAT(exported, SizeIs(0));
}

TEST_F(RegistryImportTest, ExportRoundTripsTheImport) {
  std::vector<v1::RegistryRecord> records = HuicheRecords();
  ASSERT_OK(env_.Import(records));
  ASSERT_OK_AND_ASSIGN(auto exported, env_.Export());
  ASSERT_THAT(exported, SizeIs(30));
  std::map<std::string, std::string> imported_by_key;
  for (const auto& record : records) {
    imported_by_key[Key(record)] = record.SerializeAsString();
  }
  for (const auto& record : exported) {
    EXPECT_EQ(WithoutOutputFields(record).SerializeAsString(),
              imported_by_key[Key(record)])
        << Key(record);
  }
  // Parents always precede their children.
  std::set<std::string> seen;
  for (const auto& record : exported) {
    if (record.has_region()) {
      if (!record.region().parent_id().empty()) {
        EXPECT_TRUE(seen.count(record.region().parent_id()))
            << record.region().id();
      }
      seen.insert(record.region().id());
    } else {
      EXPECT_TRUE(seen.count(record.village().region_id()));
    }
  }
}

TEST_F(RegistryImportTest, ExportOfASubtree) {
  ASSERT_OK(env_.Import(HuicheRecords()));
  ASSERT_OK_AND_ASSIGN(auto north, env_.Export("411323-huiche-north"));
  ASSERT_THAT(north, SizeIs(5));
  EXPECT_EQ(north[0].region().id(), "411323-huiche-north");
  EXPECT_EQ(north[4].village().id(), "411323-huiche-north-04");
  EXPECT_THAT(env_.Export("nowhere"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "root_id: region nowhere does not exist"));
}

}  // namespace
}  // namespace fivestar::registry
