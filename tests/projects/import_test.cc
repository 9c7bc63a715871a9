// ImportProjects over gRPC: chunked progress, validate_only, keys shared with
// CreateProject's request_id, updates of existing projects, append-only
// reports, one bad record failing the whole import, and all or nothing when
// the client cancels, sends a chunk that does not parse, goes past the size
// limit or names a village outside its scope; imports larger than one
// apply batch (staged on disk, applied a batch at a time in one
// transaction) failing late, cancelled or past their deadline while
// applied.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/peer_client.h"
#include "common/registry_client/jurisdiction.h"
#include "common/registry_client/registry_village_directory.h"
#include "services/projects/project_tracker.h"
#include "services/projects/sql_projects_store.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/import_chunks.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

v1::ProgressReport KeyedReport(const std::string& request_id, double quantity,
                               int day) {
  v1::ProgressReport report;
  report.set_request_id(request_id);
  report.set_quantity(quantity);
  *report.mutable_report_time() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(StartOfDay(absl::CivilDay(2022, 9, day))));
  return report;
}

v1::ProjectRecord Record(const std::string& key, const std::string& village,
                         std::vector<v1::ProgressReport> reports = {}) {
  v1::ProjectRecord record;
  record.set_key(key);
  *record.mutable_project() = RoadProject(village);
  for (auto& report : reports) *record.add_reports() = std::move(report);
  return record;
}

class ImportTest : public ::testing::Test {
 protected:
  std::vector<v1::Project> All() {
    auto projects = env_.ListAllProjects({});
    EXPECT_OK(projects);
    return projects.ok() ? *projects : std::vector<v1::Project>{};
  }

  ProjectsTestEnv env_;
};

TEST_F(ImportTest, CreatesProjectsWithReportsAndReportsProgress) {
  std::vector<v1::ProjectRecord> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back(
        Record("k" + std::to_string(i), i % 2 ? kMaohe : kDangziling,
               {KeyedReport("k" + std::to_string(i) + ":r1", 300, 1),
                KeyedReport("k" + std::to_string(i) + ":r2", 480, 8)}));
  }
  ASSERT_OK_AND_ASSIGN(auto done, env_.Import(records, kAdminToken, false, 2));
  EXPECT_EQ(done.phase(), v1::ImportProjectsResponse::DONE);
  EXPECT_EQ(done.records_received(), 5);
  EXPECT_EQ(done.projects_created(), 5);
  EXPECT_EQ(done.reports_created(), 10);
  auto projects = All();
  ASSERT_EQ(projects.size(), 5u);
  for (const auto& project : projects) {
    EXPECT_EQ(project.status(), v1::DELIVERED);
    EXPECT_EQ(project.delivered_quantity(), 780);
    EXPECT_EQ(project.report_count(), 2);
  }
}

TEST_F(ImportTest, ValidateOnlyCountsButWritesNothing) {
  ASSERT_OK_AND_ASSIGN(
      auto dry,
      env_.Import({Record("k1", kDangziling, {KeyedReport("k1:r1", 1, 1)})},
                  kAdminToken, /*validate_only=*/true));
  EXPECT_EQ(dry.projects_created(), 1);
  EXPECT_EQ(dry.reports_created(), 1);
  EXPECT_TRUE(All().empty());
}

TEST_F(ImportTest, KeysAreCreateProjectRequestIds) {
  ASSERT_OK_AND_ASSIGN(
      v1::Project created,
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "huiche:1"));
  ASSERT_OK_AND_ASSIGN(auto same,
                       env_.Import({Record("huiche:1", kDangziling)}));
  EXPECT_EQ(same.projects_unchanged(), 1);

  // A record that differs updates the project in place.
  v1::ProjectRecord changed =
      Record("huiche:1", kDangziling, {KeyedReport("huiche:1:r1", 100, 2)});
  changed.mutable_project()->set_target_quantity(800);
  ASSERT_OK_AND_ASSIGN(auto updated, env_.Import({changed}));
  EXPECT_EQ(updated.projects_updated(), 1);
  EXPECT_EQ(updated.reports_created(), 1);
  auto projects = All();
  ASSERT_EQ(projects.size(), 1u);
  EXPECT_EQ(projects[0].id(), created.id());
  EXPECT_EQ(projects[0].target_quantity(), 800);
  EXPECT_EQ(projects[0].delivered_quantity(), 100);

  // CreateProject with the key now means the imported version.
  EXPECT_THAT(
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "huiche:1"),
      StatusIs(absl::StatusCode::kAlreadyExists, "huiche:1"));
  ASSERT_OK_AND_ASSIGN(
      v1::Project retried,
      env_.CreateProject(changed.project(), kAdminToken, "huiche:1"));
  EXPECT_EQ(retried.id(), created.id());
}

TEST_F(ImportTest, ReportsAreAppendOnly) {
  ASSERT_OK(
      env_.Import({Record("k1", kDangziling, {KeyedReport("k1:r1", 100, 1)})}));
  EXPECT_THAT(
      env_.Import({Record("k1", kDangziling, {KeyedReport("k1:r1", 101, 1)})}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "records[0].reports[0]: a report with request_id "
               "k1:r1 exists with other content"));
  EXPECT_THAT(
      env_.Import({Record("k2", kDangziling, {KeyedReport("k1:r1", 100, 1)})}),
      StatusIs(absl::StatusCode::kInvalidArgument, "or on another project"));
  EXPECT_EQ(All().size(), 1u);
}

TEST_F(ImportTest, OneBadRecordFailsTheWholeImport) {
  v1::ProjectRecord bad = Record("k2", kDangziling);
  bad.mutable_project()->set_target_quantity(-3);
  EXPECT_THAT(env_.Import({Record("k1", kDangziling), bad}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records[1].project.target_quantity"));
  EXPECT_THAT(env_.Import({Record("k1", kDangziling), Record("k1", kMaohe)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records[1].key: \"k1\" already appears at records[0]"));
  EXPECT_THAT(
      env_.Import({Record("k1", kDangziling), Record("k2", "411323-nowhere")}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "records[1].project.village_id: village 411323-nowhere "
               "does not exist"));
  EXPECT_THAT(
      env_.Import({Record(
          "k1", kDangziling,
          {KeyedReport("k1:r1", 10, 1), KeyedReport("k1:r2", -11, 2)})}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "records[0].reports[1].quantity: -11 would take the delivered "
               "total"));
  v1::ProgressReport unkeyed = KeyedReport("", 1, 1);
  EXPECT_THAT(env_.Import({Record("k1", kDangziling, {unkeyed})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "records[0].reports[0].request_id: required"));
  EXPECT_THAT(
      env_.Import({Record("", kDangziling)}),
      StatusIs(absl::StatusCode::kInvalidArgument, "records[0].key: required"));
  EXPECT_TRUE(All().empty());
}

TEST_F(ImportTest, ExistingProjectsKeepTheirVillageAndCancellation) {
  ASSERT_OK(env_.Import({Record("k1", kDangziling)}));
  EXPECT_THAT(env_.Import({Record("k1", kMaohe)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "a project's village cannot change"));
  auto projects = All();
  ASSERT_EQ(projects.size(), 1u);
  v1::CancelProjectRequest cancel;
  cancel.set_id(projects[0].id());
  cancel.set_reason("dropped");
  ASSERT_OK(env_.Call(&Stub::CancelProject, cancel, kAdminToken));
  v1::ProjectRecord changed = Record("k1", kDangziling);
  changed.mutable_project()->set_title("renamed");
  EXPECT_THAT(env_.Import({changed}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "CANCELLED"));
  EXPECT_THAT(
      env_.Import({Record("k1", kDangziling, {KeyedReport("k1:r1", 1, 1)})}),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "takes no new progress reports"));
  // Unchanged, it is fine.
  ASSERT_OK_AND_ASSIGN(auto same, env_.Import({Record("k1", kDangziling)}));
  EXPECT_EQ(same.projects_unchanged(), 1);
}

// `count` records of Dangziling with keys <prefix>-0, <prefix>-1, ...
std::vector<v1::ProjectRecord> Records(const std::string& prefix, int count) {
  std::vector<v1::ProjectRecord> records;
  for (int i = 0; i < count; ++i) {
    records.push_back(Record(absl::StrCat(prefix, "-", i), kDangziling));
  }
  return records;
}

constexpr auto Chunk =
    &fivestar::testing::ImportChunk<v1::ImportProjectsRequest,
                                    v1::ProjectRecord>;

TEST_F(ImportTest, ClientCancellingMidwayWritesNothing) {
  const std::vector<v1::ProjectRecord> records = Records("cancel", 100);
  auto context = fivestar::testing::NewContext(kAdminToken);
  auto stream = env_.stub().ImportProjects(context.get());
  for (size_t i = 0; i < records.size(); i += 10) {
    ASSERT_TRUE(stream->Write(Chunk(records, i, i + 10)));
    v1::ImportProjectsResponse progress;
    ASSERT_TRUE(stream->Read(&progress));
  }
  context->TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(300));  // Let the server see it through.
  EXPECT_TRUE(All().empty());
}

TEST_F(ImportTest, ChunkThatDoesNotParseFailsTheImport) {
  const std::vector<v1::ProjectRecord> records = Records("utf8", 30);
  v1::ImportProjectsRequest bad = Chunk(records, 10, 20);
  // Not UTF-8: serialized with a complaint, refused by every proto3 parser.
  bad.mutable_records(2)->mutable_project()->set_title("\xff\xfe");
  auto context = fivestar::testing::NewContext(kAdminToken);
  auto stream = env_.stub().ImportProjects(context.get());
  v1::ImportProjectsResponse progress;
  ASSERT_TRUE(stream->Write(Chunk(records, 0, 10)));
  ASSERT_TRUE(stream->Read(&progress));
  stream->Write(bad);
  stream->Write(Chunk(records, 20, 30));
  stream->WritesDone();
  while (stream->Read(&progress)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(
      status.error_message(),
      "chunk 2 does not parse as fivestar.projects.v1.ImportProjectsRequest"))
      << status.error_message();
  EXPECT_TRUE(All().empty());
}

TEST_F(ImportTest, ImportAboveTheLimitIsResourceExhausted) {
  auto host = std::make_unique<fivestar::testing::ProjectsHost>(
      env_.database("small"), env_.registry().address(), kProjectsServiceToken,
      env_.shared_tokens(), &env_.clock(),
      [](ProjectsServerOptions& options) { options.max_import_records = 5; });
  auto stub = v1::ProjectsService::NewStub(host->NewChannel());
  const std::vector<v1::ProjectRecord> records = Records("big", 6);
  auto context = fivestar::testing::NewContext(kAdminToken);
  auto stream = stub->ImportProjects(context.get());
  v1::ImportProjectsResponse progress;
  ASSERT_TRUE(stream->Write(Chunk(records, 0, 5)));
  ASSERT_TRUE(stream->Read(&progress));
  stream->Write(Chunk(records, 5, 6));
  EXPECT_FALSE(stream->Read(&progress));  // Refused before the half-close.
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(status.error_message(),
                                "records: at most 5 in one import"))
      << status.error_message();
  ASSERT_OK_AND_ASSIGN(
      v1::ListProjectsResponse listed,
      ProjectsTestEnv::CallOn(*stub, &Stub::ListProjects,
                              v1::ListProjectsRequest(), kAdminToken));
  EXPECT_EQ(listed.projects_size(), 0);
}

TEST_F(ImportTest, VillageOutsideTheScopeFailsOnArrival) {
  auto context = fivestar::testing::NewContext(kHuicheAdminToken);
  auto stream = env_.stub().ImportProjects(context.get());
  v1::ImportProjectsRequest chunk;
  *chunk.add_records() = Record("k-other", kOtherVillage);
  ASSERT_TRUE(stream->Write(chunk));
  v1::ImportProjectsResponse progress;
  EXPECT_FALSE(stream->Read(&progress));  // Refused before the half-close.
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(All().empty());
}

// `count` records over three villages with keys big-0, big-1, ..., each
// with two reports (300 then 480 of the 780 m road).
std::vector<v1::ProjectRecord> BigImport(int count) {
  const char* const villages[] = {kDangziling, kDougou, kMaohe};
  std::vector<v1::ProjectRecord> records;
  for (int i = 0; i < count; ++i) {
    const std::string key = absl::StrCat("big-", i);
    records.push_back(Record(
        key, villages[i % 3],
        {KeyedReport(key + ":r1", 300, 1), KeyedReport(key + ":r2", 480, 8)}));
  }
  return records;
}

// More records than one apply batch (1,000) holds, three times over.
constexpr int kBigImport = 3500;

TEST_F(ImportTest, ImportLargerThanABatchIsAppliedAsOne) {
  const std::vector<v1::ProjectRecord> records = BigImport(kBigImport);
  ASSERT_OK_AND_ASSIGN(auto dry, env_.Import(records, kAdminToken,
                                             /*validate_only=*/true, 1000));
  EXPECT_EQ(dry.projects_created(), kBigImport);
  EXPECT_EQ(dry.reports_created(), 2 * kBigImport);
  EXPECT_TRUE(All().empty());

  ASSERT_OK_AND_ASSIGN(auto done,
                       env_.Import(records, kAdminToken, false, 1000));
  EXPECT_EQ(done.records_received(), kBigImport);
  EXPECT_EQ(done.projects_created(), kBigImport);
  EXPECT_EQ(done.reports_created(), 2 * kBigImport);
  auto projects = All();
  ASSERT_EQ(projects.size(), static_cast<size_t>(kBigImport));
  for (const auto& project : projects) {
    EXPECT_EQ(project.status(), v1::DELIVERED);
    EXPECT_EQ(project.report_count(), 2);
  }

  ASSERT_OK_AND_ASSIGN(auto again,
                       env_.Import(records, kAdminToken, false, 1000));
  EXPECT_EQ(again.projects_unchanged(), kBigImport);
  EXPECT_EQ(again.reports_unchanged(), 2 * kBigImport);
  EXPECT_EQ(again.projects_created(), 0);
}

TEST_F(ImportTest, BadRecordNearTheEndOfALargeImportWritesNothing) {
  // Found only when applied, in the last batch, after three batches were
  // written in the import's transaction.
  std::vector<v1::ProjectRecord> records = BigImport(kBigImport);
  records[kBigImport - 2].mutable_reports(1)->set_quantity(-1000);
  EXPECT_THAT(
      env_.Import(records, kAdminToken, false, 1000),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("records[", kBigImport - 2,
                            "].reports[1].quantity: -1000 would take the "
                            "delivered total")));
  EXPECT_TRUE(All().empty());

  // Found as it arrives, in the last chunk: a key repeated from the first.
  records = BigImport(kBigImport);
  records.back().set_key("big-7");
  EXPECT_THAT(env_.Import(records, kAdminToken, false, 1000),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("records[", kBigImport - 1,
                                    "].key: \"big-7\" already appears at "
                                    "records[7]")));
  // A report request id repeated from another record.
  records = BigImport(kBigImport);
  records[kBigImport - 1].mutable_reports(0)->set_request_id("big-3:r2");
  EXPECT_THAT(
      env_.Import(records, kAdminToken, false, 1000),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("records[", kBigImport - 1,
                            "].reports[0].request_id: \"big-3:r2\" already "
                            "appears at records[3].reports[1]")));
  // An unknown village after a field error in the same chunk: the earlier
  // record is named.
  records = BigImport(kBigImport);
  records[kBigImport - 3].mutable_project()->set_village_id("411323-nowhere");
  records[kBigImport - 1].mutable_project()->set_target_quantity(-1);
  EXPECT_THAT(env_.Import(records, kAdminToken, false, 1000),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("records[", kBigImport - 3,
                                    "].project.village_id: village "
                                    "411323-nowhere does not exist")));
  EXPECT_TRUE(All().empty());
}

TEST_F(ImportTest, DeadlinePassingBeforeTheEndWritesNothing) {
  const std::vector<v1::ProjectRecord> records = BigImport(2000);
  auto context = fivestar::testing::NewContext(kAdminToken);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
  auto stream = env_.stub().ImportProjects(context.get());
  v1::ImportProjectsResponse progress;
  ASSERT_TRUE(stream->Write(Chunk(records, 0, 1000)));
  ASSERT_TRUE(stream->Read(&progress));
  // Past the deadline before the last chunk and the half-close.
  absl::SleepFor(absl::Milliseconds(2500));
  stream->Write(Chunk(records, 1000, 2000));
  stream->WritesDone();
  while (stream->Read(&progress)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  absl::SleepFor(absl::Milliseconds(300));  // Let the server see it through.
  EXPECT_TRUE(All().empty());
}

// The logic itself, for what a client cannot time: the call ending (client
// cancel or deadline, which the reactor reports alike) while the import is
// being applied, after batches were written into its transaction.
TEST_F(ImportTest, CallEndingWhileTheImportIsAppliedWritesNothing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqlProjectsStore<SqlitePool>> store,
                       SqlProjectsStore<SqlitePool>::Open(
                           env_.dir().File("direct.db"), &env_.clock()));
  RegistryDirectoryOptions options;
  options.bearer_token = kProjectsServiceToken;
  RegistryVillageDirectory directory(NewPeerChannel(env_.registry().address()),
                                     options, &env_.clock());
  Jurisdiction jurisdiction(&directory);
  ProjectTracker tracker(store.get(), &jurisdiction, &env_.clock());
  const Principal admin{"fixture", Role::kAdmin, "*"};
  const std::vector<v1::ProjectRecord> records = BigImport(kBigImport);

  // The check is made before each of the 4 batches planned and the end of
  // planning, then before each batch written: 0 ends the call before
  // anything is planned, 7 after two batches were written in the import's
  // transaction.
  for (int batches_before_end : {0, 7}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ProjectImport> import,
                         tracker.StartImport(admin));
    for (size_t i = 0; i < records.size(); i += 1000) {
      ASSERT_OK(import->Add(Chunk(records, i, i + 1000)));
    }
    int batches = 0;
    EXPECT_THAT(import->Finish([&] { return batches++ >= batches_before_end; }),
                StatusIs(absl::StatusCode::kCancelled, "nothing was written"));
    ASSERT_OK_AND_ASSIGN(std::vector<Project> stored,
                         store->ListProjects(ProjectQuery()));
    EXPECT_TRUE(stored.empty()) << batches_before_end;
    ASSERT_OK_AND_ASSIGN(uint64_t newest, store->NewestSequence());
    EXPECT_EQ(newest, 0u);
  }

  // Not cancelled, the same import applies.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ProjectImport> import,
                       tracker.StartImport(admin));
  for (size_t i = 0; i < records.size(); i += 1000) {
    ASSERT_OK(import->Add(Chunk(records, i, i + 1000)));
  }
  ASSERT_OK_AND_ASSIGN(ProjectImportCounts counts,
                       import->Finish([] { return false; }));
  EXPECT_EQ(counts.projects_created, kBigImport);
  ASSERT_OK_AND_ASSIGN(uint64_t newest, store->NewestSequence());
  EXPECT_EQ(newest, static_cast<uint64_t>(3 * kBigImport));
}

}  // namespace
}  // namespace fivestar::projects
