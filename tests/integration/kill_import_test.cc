// SIGKILL during a chunked import (registry ImportRegistry, project
// tracking ImportProjects): after a restart on the same database nothing of
// the unfinished import is visible, every import acknowledged earlier is,
// and running the import again gives exactly the state of a clean import
// (compared record for record with a second server's export or listing).
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/process_faults_env.h"
#include "tests/testing/import_chunks.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::DescribeWaitStatus;
using ::fivestar::testing::ServiceProcess;
using ::testing::AnyOf;
using ::testing::Eq;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;

constexpr size_t kChunk = 10;
// Chunks acknowledged (RECEIVED) before the server is killed.
constexpr int kChunksBeforeKill = 5;

// Where KillDuring kills the server.
enum class KillPoint {
  // After kChunksBeforeKill chunks were acknowledged; the stream is not
  // half-closed, so the import cannot have been applied.
  kMidStream,
  // Right after every chunk was sent and the stream half-closed: the
  // import may or may not have been committed.
  kAfterWritesDone,
};

// Starts an import of `records` in chunks of kChunk through `stub` on
// `server`, kills the server with SIGKILL at `point`, and checks that it
// died of it.
template <typename Stub, typename Request, typename Response, typename Record>
void KillDuring(std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
                    Stub::*method)(grpc::ClientContext*),
                Stub& stub, ServiceProcess& server,
                const std::vector<Record>& records, KillPoint point) {
  ASSERT_GT(records.size(), kChunk * (kChunksBeforeKill + 1));
  auto context = Context();
  auto stream = (stub.*method)(context.get());
  Response response;
  size_t begin = 0;
  if (point == KillPoint::kMidStream) {
    for (int i = 0; i < kChunksBeforeKill; ++i, begin += kChunk) {
      ASSERT_TRUE(stream->Write(
          testing::ImportChunk<Request>(records, begin, begin + kChunk)));
      ASSERT_TRUE(stream->Read(&response)) << "chunk " << i;
      EXPECT_EQ(response.phase(), Response::RECEIVED);
      EXPECT_EQ(response.records_received(),
                static_cast<int64_t>(begin + kChunk));
    }
  } else {
    for (; begin < records.size(); begin += kChunk) {
      ASSERT_TRUE(stream->Write(
          testing::ImportChunk<Request>(records, begin, begin + kChunk)));
    }
    ASSERT_TRUE(stream->WritesDone());
  }
  server.process().Signal(SIGKILL);
  ASSERT_OK_AND_ASSIGN(int status, server.process().Wait(absl::Seconds(30)));
  EXPECT_EQ(DescribeWaitStatus(status), "killed by signal 9");
  context->TryCancel();
  stream->Finish();
}

// The import under test: Huiche's villages with changed household counts
// (updates) and 300 new villages (creates), 32 chunks.
std::vector<registry_v1::RegistryRecord> RegistryImport() {
  std::vector<registry_v1::RegistryRecord> records;
  for (registry_v1::RegistryRecord& record : HuicheRegistry()) {
    if (!record.has_village()) continue;
    record.mutable_village()->set_households(record.village().households() + 7);
    records.push_back(std::move(record));
  }
  for (registry_v1::RegistryRecord& record : SyntheticVillages(300, 2)) {
    records.push_back(std::move(record));
  }
  return records;
}

TEST(KillDuringImportTest, RegistryImportIsAllOrNothing) {
  Sandbox sandbox;
  const std::vector<registry_v1::RegistryRecord> import = RegistryImport();

  // A clean run: the acknowledged first import, then the one under test.
  std::vector<std::string> clean;
  {
    ASSERT_OK_AND_ASSIGN(auto reference, ServiceProcess::Start(RegistryOptions(
                                             sandbox, "clean")));
    auto stub = registry_v1::RegistryService::NewStub(reference->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), kChunk));
    ASSERT_OK(ImportRegistry(*stub, import, kChunk));
    ASSERT_OK_AND_ASSIGN(clean, RegistryState(*stub));
  }

  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
  ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), kChunk));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> before,
                       RegistryState(*stub));
  ASSERT_NE(before, clean);

  // Killed mid-stream: nothing of it, everything acknowledged before.
  KillDuring(&registry_v1::RegistryService::Stub::ImportRegistry, *stub,
             *registry, import, KillPoint::kMidStream);
  ASSERT_OK(registry->Restart());
  stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
  EXPECT_THAT(RegistryState(*stub), testing::IsOkAndHolds(Eq(before)));

  // Killed after the half-close: all of it or nothing of it.
  KillDuring(&registry_v1::RegistryService::Stub::ImportRegistry, *stub,
             *registry, import, KillPoint::kAfterWritesDone);
  ASSERT_OK(registry->Restart());
  stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after_kill,
                       RegistryState(*stub));
  EXPECT_THAT(after_kill, AnyOf(Eq(before), Eq(clean)));
  RecordProperty("committed_before_kill", after_kill == clean ? 1 : 0);

  // Run again to the end: exactly the clean state.
  ASSERT_OK(ImportRegistry(*stub, import, kChunk));
  EXPECT_THAT(RegistryState(*stub), testing::IsOkAndHolds(Eq(clean)));
}

// The projects import under test: every Huiche project, the first 20 with
// a changed title_en (updates of acknowledged ones), 20 chunks.
std::vector<projects_v1::ProjectRecord> ProjectsImport() {
  std::vector<projects_v1::ProjectRecord> records = HuicheProjects();
  for (size_t i = 0; i < 20; ++i) {
    records[i].mutable_project()->set_title_en(records[i].project().title_en() +
                                               " (revised)");
  }
  return records;
}

// The import acknowledged before: the first 80 Huiche projects with their
// reports.
std::vector<projects_v1::ProjectRecord> FirstProjects() {
  std::vector<projects_v1::ProjectRecord> records = HuicheProjects();
  records.resize(80);
  return records;
}

TEST(KillDuringImportTest, ProjectsImportIsAllOrNothing) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  {
    auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), kChunk));
  }
  const std::vector<projects_v1::ProjectRecord> import = ProjectsImport();

  std::vector<std::string> clean;
  {
    ASSERT_OK_AND_ASSIGN(auto reference,
                         ServiceProcess::Start(ProjectsOptions(
                             sandbox, "clean", registry->address())));
    auto stub = projects_v1::ProjectsService::NewStub(reference->NewChannel());
    ASSERT_OK(ImportProjects(*stub, FirstProjects(), kChunk));
    ASSERT_OK(ImportProjects(*stub, import, kChunk));
    ASSERT_OK_AND_ASSIGN(clean, ProjectsState(*stub));
    ASSERT_EQ(clean.size(), import.size());
  }

  ASSERT_OK_AND_ASSIGN(auto projects,
                       ServiceProcess::Start(ProjectsOptions(
                           sandbox, "projects", registry->address())));
  auto stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());
  ASSERT_OK(ImportProjects(*stub, FirstProjects(), kChunk));
  ASSERT_OK_AND_ASSIGN(const std::vector<std::string> before,
                       ProjectsState(*stub));
  ASSERT_EQ(before.size(), 80u);

  KillDuring(&projects_v1::ProjectsService::Stub::ImportProjects, *stub,
             *projects, import, KillPoint::kMidStream);
  ASSERT_OK(projects->Restart());
  stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());
  EXPECT_THAT(ProjectsState(*stub), testing::IsOkAndHolds(Eq(before)));

  KillDuring(&projects_v1::ProjectsService::Stub::ImportProjects, *stub,
             *projects, import, KillPoint::kAfterWritesDone);
  ASSERT_OK(projects->Restart());
  stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after_kill,
                       ProjectsState(*stub));
  EXPECT_THAT(after_kill, AnyOf(Eq(before), Eq(clean)));
  RecordProperty("committed_before_kill", after_kill == clean ? 1 : 0);

  ASSERT_OK(ImportProjects(*stub, import, kChunk));
  EXPECT_THAT(ProjectsState(*stub), testing::IsOkAndHolds(Eq(clean)));
}

}  // namespace
}  // namespace fivestar::faults
