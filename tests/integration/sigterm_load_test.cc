// SIGTERM under load, for each server process: client threads call (reads
// and writes) without pause while the server is sent SIGTERM. Calls begun
// before the signal complete OK (the drain delay keeps taking calls, the
// grace period lets them finish), a stream in flight across the whole
// shutdown completes OK, calls once the server stopped taking calls are
// refused with UNAVAILABLE (and no call ends any other way), every
// acknowledged write is there after a restart, and the process exits 0
// within its drain delay plus shutdown grace plus a margin. One exception,
// gRPC's own (grpc/grpc#41785): a call that reaches the server in the
// instant it stops taking calls may end CANCELLED instead of UNAVAILABLE;
// such a call's handler never ran, so a write that ended so must be absent.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/integration/process_faults_env.h"
#include "tests/testing/import_chunks.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::DescribeWaitStatus;
using ::fivestar::testing::ServiceProcess;
using ::fivestar::testing::StatusIs;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
namespace scoring_v1 = ::fivestar::scoring::v1;

constexpr absl::Duration kDrainDelay = absl::Seconds(2);
constexpr absl::Duration kShutdownGrace = absl::Seconds(20);
// Flags of the server under test.
const std::vector<std::string> kShutdownFlags = {
    absl::StrCat("--drain_delay=", absl::FormatDuration(kDrainDelay)),
    absl::StrCat("--shutdown_grace=", absl::FormatDuration(kShutdownGrace))};
constexpr int kThreads = 4;  // Even threads write, odd ones read.
// Calls answered OK before the signal is sent.
constexpr int kOkBeforeSignal = 40;

// One call of the load: a write (the key it writes in `written`, set
// before the call) or a read, made on a fresh stub of the server's channel.
using LoadCall =
    std::function<absl::Status(grpc::Channel& channel, bool write, int thread,
                               int i, std::string* written)>;
// A call in flight across the whole shutdown: Begin() returns once the
// server has it, Finish() completes it.
struct InFlight {
  std::function<void()> begin;
  std::function<absl::Status()> finish;
};

struct Outcome {
  bool write = false;
  absl::Time start;
  absl::Time end;
  absl::Status status;
  std::string written;  // For a write.
};

// What the load's writes came to.
struct Writes {
  // Acknowledged OK: must be there after the restart.
  std::vector<std::string> acknowledged;
  // Ended CANCELLED: must not be there. gRPC core ends calls that reached
  // the server as it stopped taking calls, before any handler took them,
  // with CANCELLED rather than UNAVAILABLE (grpc/grpc#41785); their
  // handler never ran.
  std::vector<std::string> cancelled;
};

// Runs the load against `server`, sends SIGTERM once kOkBeforeSignal calls
// were answered, checks every outcome and the exit, restarts the server and
// returns what the writes came to.
Writes SigtermUnderLoad(ServiceProcess& server, const LoadCall& call,
                        InFlight& in_flight) {
  in_flight.begin();
  absl::Mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<int> ok_calls{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  auto channel = server.NewChannel();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        Outcome outcome;
        outcome.write = t % 2 == 0;
        outcome.start = absl::Now();
        outcome.status = call(*channel, outcome.write, t, i, &outcome.written);
        outcome.end = absl::Now();
        if (outcome.status.ok()) ++ok_calls;
        absl::MutexLock lock(&mu);
        outcomes.push_back(std::move(outcome));
      }
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (ok_calls.load() < kOkBeforeSignal && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(ok_calls.load(), kOkBeforeSignal);
  const absl::Time signalled = absl::Now();
  server.process().Signal(SIGTERM);

  // Wait until calls are refused (after the drain delay), with the load
  // still running; the in-flight stream is still open.
  absl::Time refused_from = absl::InfiniteFuture();
  {
    const absl::Time limit = absl::Now() + kDrainDelay + absl::Seconds(15);
    std::string ignored;
    while (absl::Now() < limit) {
      auto fresh = server.NewChannel();
      absl::Status status = call(*fresh, false, kThreads, 0, &ignored);
      // CANCELLED: this call raced the stop (see Writes); try again.
      if (!status.ok() && !absl::IsCancelled(status)) {
        EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, ""));
        refused_from = absl::Now();
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  EXPECT_NE(refused_from, absl::InfiniteFuture())
      << "calls were still taken " << kDrainDelay + absl::Seconds(15)
      << " after SIGTERM";

  // The stream begun before the signal completes.
  EXPECT_OK(in_flight.finish());

  absl::StatusOr<int> exit_status =
      server.process().Wait(kDrainDelay + kShutdownGrace + absl::Seconds(15));
  EXPECT_OK(exit_status.status()) << server.process().Log();
  if (exit_status.ok()) {
    EXPECT_EQ(DescribeWaitStatus(*exit_status), "exit 0");
  }
  absl::SleepFor(absl::Milliseconds(200));  // A few calls on a closed port.
  stop.store(true);
  for (std::thread& thread : threads) thread.join();

  Writes writes;
  int refused_after = 0;
  for (const Outcome& outcome : outcomes) {
    SCOPED_TRACE(absl::StrCat(
        outcome.write ? "a write" : "a read", " begun at SIGTERM",
        absl::FormatDuration(outcome.start - signalled), ", ended at SIGTERM",
        absl::FormatDuration(outcome.end - signalled), "; refused from SIGTERM",
        absl::FormatDuration(refused_from - signalled)));
    if (outcome.start < signalled) {
      EXPECT_OK(outcome.status) << "a call begun before SIGTERM";
    } else if (outcome.start >= refused_from) {
      EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnavailable, ""));
      ++refused_after;
    } else if (absl::IsCancelled(outcome.status)) {
      // Reached the server as it stopped taking calls (see Writes).
      if (!outcome.written.empty()) writes.cancelled.push_back(outcome.written);
    } else if (!outcome.status.ok()) {
      EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kUnavailable, ""));
    }
    if (outcome.status.ok() && !outcome.written.empty()) {
      writes.acknowledged.push_back(outcome.written);
    }
  }
  EXPECT_GT(refused_after, 0);
  EXPECT_OK(server.Restart());
  return writes;
}

// An import stream with its first chunk acknowledged before the signal and
// the rest sent after it.
template <typename Stub, typename Request, typename Response, typename Record>
InFlight ImportInFlight(
    std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> (
        Stub::*method)(grpc::ClientContext*),
    std::shared_ptr<Stub> stub, std::vector<Record> records) {
  struct State {
    std::unique_ptr<grpc::ClientContext> context = Context(absl::Seconds(60));
    std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream;
  };
  auto state = std::make_shared<State>();
  InFlight in_flight;
  in_flight.begin = [=] {
    state->stream = ((*stub).*method)(state->context.get());
    Response response;
    ASSERT_TRUE(state->stream->Write(
        testing::ImportChunk<Request>(records, 0, records.size() / 2)));
    ASSERT_TRUE(state->stream->Read(&response));
    EXPECT_EQ(response.phase(), Response::RECEIVED);
  };
  in_flight.finish = [=]() -> absl::Status {
    if (!state->stream->Write(testing::ImportChunk<Request>(
            records, records.size() / 2, records.size()))) {
      return FromGrpcStatus(state->stream->Finish());
    }
    state->stream->WritesDone();
    Response response;
    bool done = false;
    while (state->stream->Read(&response)) {
      done = response.phase() == Response::DONE;
    }
    RETURN_IF_ERROR(FromGrpcStatus(state->stream->Finish()));
    if (!done) return absl::InternalError("the import ended without DONE");
    return absl::OkStatus();
  };
  return in_flight;
}

TEST(SigtermUnderLoadTest, Registry) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(
      auto registry, ServiceProcess::Start(
                         RegistryOptions(sandbox, "registry", kShutdownFlags)));
  std::shared_ptr<registry_v1::RegistryService::Stub> stub =
      registry_v1::RegistryService::NewStub(registry->NewChannel());
  ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), 100));
  const std::vector<registry_v1::RegistryRecord> imported =
      SyntheticVillages(200, 2);
  InFlight in_flight = ImportInFlight(
      &registry_v1::RegistryService::Stub::ImportRegistry, stub, imported);

  LoadCall call = [](grpc::Channel& channel, bool write, int thread, int i,
                     std::string* written) -> absl::Status {
    auto own = registry_v1::RegistryService::NewStub(
        std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
    auto context = Context(absl::Seconds(10));
    registry_v1::Village village;
    if (write) {
      registry_v1::CreateVillageRequest request;
      registry_v1::Village* created = request.mutable_village();
      created->set_id(
          absl::StrFormat("411323-huiche-west-t%d-%04d", thread, i));
      created->set_name(absl::StrCat("负载村", thread, "-", i));
      created->set_region_id("411323-huiche-west");
      created->set_kind(registry_v1::VILLAGE);
      created->set_committee_members(5);
      RETURN_IF_ERROR(
          FromGrpcStatus(own->CreateVillage(context.get(), request, &village)));
      *written = created->id();
      return absl::OkStatus();
    }
    registry_v1::GetVillageRequest request;
    request.set_id("411323-huiche-north-01");
    return FromGrpcStatus(own->GetVillage(context.get(), request, &village));
  };
  const Writes writes = SigtermUnderLoad(*registry, call, in_flight);
  EXPECT_FALSE(writes.acknowledged.empty());

  stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
  for (const std::string& id : writes.cancelled) {
    auto context = Context();
    registry_v1::GetVillageRequest request;
    request.set_id(id);
    registry_v1::Village village;
    EXPECT_THAT(
        FromGrpcStatus(stub->GetVillage(context.get(), request, &village)),
        StatusIs(absl::StatusCode::kNotFound, id))
        << "a cancelled write was applied";
  }
  for (const std::string& id : writes.acknowledged) {
    auto context = Context();
    registry_v1::GetVillageRequest request;
    request.set_id(id);
    registry_v1::Village village;
    EXPECT_OK(
        FromGrpcStatus(stub->GetVillage(context.get(), request, &village)))
        << "acknowledged village " << id;
  }
  for (const auto& record : imported) {
    auto context = Context();
    registry_v1::GetVillageRequest request;
    request.set_id(record.village().id());
    registry_v1::Village village;
    EXPECT_OK(
        FromGrpcStatus(stub->GetVillage(context.get(), request, &village)))
        << "imported village " << record.village().id();
  }
}

TEST(SigtermUnderLoadTest, Projects) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  {
    auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, HuicheRegistry(), 100));
  }
  ASSERT_OK_AND_ASSIGN(
      auto projects,
      ServiceProcess::Start(ProjectsOptions(
          sandbox, "projects", registry->address(), kShutdownFlags)));
  std::shared_ptr<projects_v1::ProjectsService::Stub> stub =
      projects_v1::ProjectsService::NewStub(projects->NewChannel());
  std::vector<projects_v1::ProjectRecord> records = HuicheProjects();
  std::vector<projects_v1::ProjectRecord> first(records.begin(),
                                                records.begin() + 20);
  std::vector<projects_v1::ProjectRecord> imported(records.begin() + 20,
                                                   records.end());
  ASSERT_OK(ImportProjects(*stub, first, 100));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> before, ProjectsState(*stub));
  // The project the load reports on.
  std::string project_id;
  {
    auto context = Context();
    projects_v1::ListProjectsRequest request;
    request.set_page_size(1);
    projects_v1::ListProjectsResponse response;
    ASSERT_OK(
        FromGrpcStatus(stub->ListProjects(context.get(), request, &response)));
    ASSERT_EQ(response.projects_size(), 1);
    project_id = response.projects(0).id();
  }
  InFlight in_flight = ImportInFlight(
      &projects_v1::ProjectsService::Stub::ImportProjects, stub, imported);

  LoadCall call = [&project_id](grpc::Channel& channel, bool write, int thread,
                                int i, std::string* written) -> absl::Status {
    auto own = projects_v1::ProjectsService::NewStub(
        std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
    auto context = Context(absl::Seconds(10));
    if (write) {
      projects_v1::CreateProgressReportRequest request;
      projects_v1::ProgressReport* report = request.mutable_report();
      report->set_project_id(project_id);
      report->set_quantity(0);
      report->set_note(absl::StrCat("负载 ", thread, "-", i));
      report->set_request_id(absl::StrCat("load-", thread, "-", i));
      projects_v1::CreateProgressReportResponse response;
      *written = report->request_id();
      return FromGrpcStatus(
          own->CreateProgressReport(context.get(), request, &response));
    }
    projects_v1::GetProjectRequest request;
    request.set_id(project_id);
    projects_v1::Project project;
    return FromGrpcStatus(own->GetProject(context.get(), request, &project));
  };
  const Writes writes = SigtermUnderLoad(*projects, call, in_flight);
  EXPECT_FALSE(writes.acknowledged.empty());

  stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());
  ASSERT_OK_AND_ASSIGN(auto reports, ReportsOf(*stub, project_id));
  for (const std::string& request_id : writes.acknowledged) {
    EXPECT_TRUE(reports.count(request_id))
        << "acknowledged report " << request_id << " lost";
  }
  for (const std::string& request_id : writes.cancelled) {
    EXPECT_FALSE(reports.count(request_id))
        << "cancelled report " << request_id << " was recorded";
  }
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after, ProjectsState(*stub));
  EXPECT_EQ(after.size(), records.size());
}

TEST(SigtermUnderLoadTest, Scoring) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  std::vector<registry_v1::RegistryRecord> township = HuicheRegistry();
  for (auto& record : SyntheticVillages(300, 2)) township.push_back(record);
  {
    auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, township, 100));
  }
  ASSERT_OK_AND_ASSIGN(auto projects,
                       ServiceProcess::Start(ProjectsOptions(
                           sandbox, "projects", registry->address())));
  {
    auto stub = projects_v1::ProjectsService::NewStub(projects->NewChannel());
    ASSERT_OK(ImportProjects(*stub, HuicheProjects(), 100));
  }
  std::vector<std::string> flags = kShutdownFlags;
  ASSERT_OK_AND_ASSIGN(
      auto scoring, ServiceProcess::Start(
                        ScoringOptions(sandbox, "scoring", registry->address(),
                                       projects->address(), "", flags)));
  const std::vector<std::string> villages = VillageIds(HuicheRegistry());

  // In flight: a region evaluation streaming every result, read slowly.
  struct State {
    std::unique_ptr<grpc::ClientContext> context = Context(absl::Seconds(60));
    std::unique_ptr<scoring_v1::ScoringService::Stub> stub;
    std::unique_ptr<grpc::ClientReader<scoring_v1::EvaluateRegionResponse>>
        stream;
  };
  auto state = std::make_shared<State>();
  state->stub = scoring_v1::ScoringService::NewStub(scoring->NewChannel());
  InFlight in_flight;
  in_flight.begin = [state] {
    scoring_v1::EvaluateRegionRequest request;
    request.set_region_id(kHuiche);
    request.set_period(kPeriod);
    request.set_include_evaluations(true);
    state->stream = state->stub->EvaluateRegion(state->context.get(), request);
    scoring_v1::EvaluateRegionResponse response;
    ASSERT_TRUE(state->stream->Read(&response));
  };
  in_flight.finish = [state]() -> absl::Status {
    scoring_v1::EvaluateRegionResponse response;
    bool done = false;
    while (state->stream->Read(&response)) {
      done = response.phase() == scoring_v1::EvaluateRegionResponse::DONE;
    }
    RETURN_IF_ERROR(FromGrpcStatus(state->stream->Finish()));
    if (!done) return absl::InternalError("the evaluation ended without DONE");
    return absl::OkStatus();
  };

  LoadCall call = [&villages](grpc::Channel& channel, bool write, int thread,
                              int i, std::string* written) -> absl::Status {
    auto own = scoring_v1::ScoringService::NewStub(
        std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
    auto context = Context(absl::Seconds(10));
    const std::string& village = villages[(thread * 7 + i) % villages.size()];
    scoring_v1::Evaluation evaluation;
    if (write) {
      scoring_v1::EvaluateRequest request;
      request.set_village_id(village);
      request.set_period(kPeriod);
      RETURN_IF_ERROR(
          FromGrpcStatus(own->Evaluate(context.get(), request, &evaluation)));
      *written = village;
      return absl::OkStatus();
    }
    scoring_v1::GetRubricRequest request;
    scoring_v1::Rubric rubric;
    return FromGrpcStatus(own->GetRubric(context.get(), request, &rubric));
  };
  // Evaluations are recorded again and again: a cancelled one may be there
  // from an earlier call, so only the acknowledged ones are checked.
  const Writes writes = SigtermUnderLoad(*scoring, call, in_flight);
  EXPECT_FALSE(writes.acknowledged.empty());

  auto stub = scoring_v1::ScoringService::NewStub(scoring->NewChannel());
  ASSERT_OK_AND_ASSIGN(auto stored, StoredEvaluations(*stub, villages));
  for (const std::string& village : writes.acknowledged) {
    EXPECT_TRUE(stored.count(village))
        << "acknowledged evaluation of " << village << " lost";
  }
}

}  // namespace
}  // namespace fivestar::faults
