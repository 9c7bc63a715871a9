// Project tracking when the registry cannot answer: a closed port, a
// registry stopped mid-way, one that accepts connections but never answers,
// one that refuses this service's token. Writes fail with UNAVAILABLE within
// the configured deadline and write nothing; cached answers serve until they
// expire; unknown ids are never cached.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/projects/projects_test_env.h"
#include "tests/testing/ports.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::HasSubstr;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

// A registry whose process is alive but stuck (e.g. stopped, or wedged on
// its disk): connections and HTTP/2 work, GetAncestors never answers. The
// calls are finished, cancelled, only by ReleaseAll(), which must run
// before the server hosting it shuts down (which waits for them).
class HungRegistry final
    : public registry::v1::RegistryService::CallbackService {
 public:
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    for (grpc::ServerUnaryReactor* reactor : pending_) {
      reactor->Finish(grpc::Status::CANCELLED);
    }
    pending_.clear();
  }

  // Calls received so far.
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  grpc::ServerUnaryReactor* GetAncestors(
      grpc::CallbackServerContext* context,
      const registry::v1::GetAncestorsRequest*,
      registry::v1::GetAncestorsResponse*) override {
    return Hold(context);
  }
  grpc::ServerUnaryReactor* BatchGetVillages(
      grpc::CallbackServerContext* context,
      const registry::v1::BatchGetVillagesRequest*,
      registry::v1::BatchGetVillagesResponse*) override {
    return Hold(context);
  }

 private:
  grpc::ServerUnaryReactor* Hold(grpc::CallbackServerContext* context) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    pending_.push_back(context->DefaultReactor());
    return pending_.back();
  }

  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> pending_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class RegistryDownTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProjectsHost> StartProjectsAt(const std::string& address,
                                                absl::Duration deadline) {
    ProjectsHostOptions options;
    options.registry_address = address;
    options.registry_deadline = deadline;
    return env_.StartProjects(env_.database("isolated"), options);
  }

  template <typename Request, typename Response>
  static absl::StatusOr<Response> CallOn(
      Stub& stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      const Request& request, const std::string& token = kAdminToken) {
    return ProjectsTestEnv::CallOn(stub, method, request, token);
  }

  static v1::CreateProjectRequest CreateRequest(const std::string& village) {
    v1::CreateProjectRequest request;
    *request.mutable_project() = RoadProject(village);
    return request;
  }

  static v1::SetIndicatorValuesRequest ValuesRequest(
      const std::string& village) {
    v1::SetIndicatorValuesRequest request;
    v1::IndicatorValue* value = request.add_values();
    value->set_village_id(village);
    value->set_indicator_key("grids");
    value->set_period("2022-09");
    value->set_value(11);
    return request;
  }

  // Nothing was written: no project, no value, and an empty change feed.
  static void ExpectNothingWritten(Stub& stub) {
    auto projects =
        CallOn(stub, &Stub::ListProjects, v1::ListProjectsRequest());
    ASSERT_OK(projects);
    EXPECT_EQ(projects->projects_size(), 0);
    auto values = CallOn(stub, &Stub::ListIndicatorValues,
                         v1::ListIndicatorValuesRequest());
    ASSERT_OK(values);
    EXPECT_EQ(values->values_size(), 0);
    v1::WatchChangesRequest watch;
    watch.set_after_sequence(1);
    auto context = fivestar::testing::NewContext(kAdminToken);
    auto reader = stub.WatchChanges(context.get(), watch);
    v1::Change change;
    EXPECT_FALSE(reader->Read(&change));
    EXPECT_THAT(FromGrpcStatus(reader->Finish()),
                StatusIs(absl::StatusCode::kOutOfRange,
                         "beyond the newest sequence 0"));
  }

  ProjectsTestEnv env_;
};

TEST_F(RegistryDownTest, ClosedPortFailsWritesWithUnavailable) {
  // Free a moment ago, nobody listens: connections are refused.
  ASSERT_OK_AND_ASSIGN(int port, fivestar::testing::PickFreePort());
  auto host =
      StartProjectsAt(absl::StrCat("127.0.0.1:", port), absl::Seconds(2));
  auto stub = v1::ProjectsService::NewStub(host->NewChannel());

  EXPECT_THAT(CallOn(*stub, &Stub::CreateProject, CreateRequest(kDangziling)),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry could not be reached to look up "
                       "village 411323-huiche-west-01"));
  EXPECT_THAT(
      CallOn(*stub, &Stub::SetIndicatorValues, ValuesRequest(kDangziling)),
      StatusIs(absl::StatusCode::kUnavailable, "retry later"));
  v1::ProjectRecord record;
  record.set_key("k1");
  *record.mutable_project() = RoadProject(kDangziling);
  {
    auto context = fivestar::testing::NewContext(kAdminToken);
    auto stream = stub->ImportProjects(context.get());
    v1::ImportProjectsRequest chunk;
    *chunk.add_records() = record;
    stream->Write(chunk);
    stream->WritesDone();
    v1::ImportProjectsResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_THAT(FromGrpcStatus(stream->Finish()),
                StatusIs(absl::StatusCode::kUnavailable, "registry"));
  }
  // Reads that need the registry fail the same way.
  v1::GetSummaryRequest summary;
  summary.set_region_id(kHuiche);
  summary.set_period("2022-09");
  EXPECT_THAT(CallOn(*stub, &Stub::GetSummary, summary),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
  v1::ListProjectsRequest below;
  below.set_ancestor_region_id(kWest);
  EXPECT_THAT(CallOn(*stub, &Stub::ListProjects, below),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
  // A scoped principal cannot be checked either.
  EXPECT_THAT(CallOn(*stub, &Stub::ListProjects, v1::ListProjectsRequest(),
                     kHuicheViewerToken),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));
  ExpectNothingWritten(*stub);
}

TEST_F(RegistryDownTest, SilentRegistryFailsWithinTheDeadline) {
  // Accepts TCP connections but never speaks HTTP/2.
  fivestar::testing::HeldPort silent;
  auto host = StartProjectsAt(silent.address(), absl::Milliseconds(200));
  auto stub = v1::ProjectsService::NewStub(host->NewChannel());
  // The client waits up to 10 s; the service gives up after 200 ms and says
  // so (a missing deadline would end this call with DEADLINE_EXCEEDED).
  EXPECT_THAT(CallOn(*stub, &Stub::CreateProject, CreateRequest(kDangziling)),
              StatusIs(absl::StatusCode::kUnavailable, "DEADLINE_EXCEEDED"));
  ExpectNothingWritten(*stub);
}

TEST_F(RegistryDownTest, HungRegistryHoldsUpNeitherHealthNorOtherCalls) {
  HungRegistry hung;
  fivestar::testing::TestServer hung_server(
      {{&hung, registry::v1::RegistryService::service_full_name()}});
  absl::Cleanup release = [&hung] { hung.ReleaseAll(); };
  auto host = StartProjectsAt(hung_server.address(), absl::Seconds(3));
  auto stub = v1::ProjectsService::NewStub(host->NewChannel());
  // Twelve writes that need twelve distinct registry lookups: the first
  // asks the registry, the other eleven gather behind it into one batch
  // (registry_village_directory_test).
  std::vector<absl::Status> results(12);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < results.size(); ++i) {
    callers.emplace_back([&, i] {
      results[i] = CallOn(*stub, &Stub::CreateProject,
                          CreateRequest(absl::StrCat(kDangziling, "-", i)))
                       .status();
    });
  }
  absl::SleepFor(absl::Milliseconds(500));  // All twelve are in flight.

  // Health and a call that needs no registry answer within 1 s, while the
  // twelve are still waiting (they used to block gRPC's own threads, and
  // with them every other call).
  auto health = grpc::health::v1::Health::NewStub(host->NewChannel());
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse serving;
  auto context = fivestar::testing::NewContext("", absl::Seconds(1));
  ASSERT_OK(FromGrpcStatus(health->Check(context.get(), check, &serving)));
  EXPECT_EQ(serving.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  v1::GetIndicatorDefinitionRequest definition;
  definition.set_key("grids");
  v1::IndicatorDefinition grids;
  context = fivestar::testing::NewContext(kAdminToken, absl::Seconds(1));
  EXPECT_OK(FromGrpcStatus(
      stub->GetIndicatorDefinition(context.get(), definition, &grids)));
  EXPECT_EQ(grids.key(), "grids");

  // Past a quarter of the 3 s deadline the registry counts as slow: a
  // thirteenth lookup is turned away at once rather than queued.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_THAT(CallOn(*stub, &Stub::CreateProject,
                     CreateRequest(absl::StrCat(kDangziling, "-12"))),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry is slow to answer: a lookup has "
                       "waited "));

  for (std::thread& caller : callers) caller.join();
  // The eleven behind the first failed with it, at its deadline, without
  // asking again.
  for (const absl::Status& result : results) {
    EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
    EXPECT_THAT(result.message(), HasSubstr("DEADLINE_EXCEEDED")) << result;
  }
  EXPECT_EQ(hung.calls(), 1);
  ExpectNothingWritten(*stub);
}

TEST_F(RegistryDownTest, StoppedRegistryServesCachedAnswersUntilTheyExpire) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  env_.registry().Stop();

  // Dangziling's lineage is cached: reporting on it still works.
  ASSERT_OK(env_.Report(project.id(), 100, kDangzilingReporterToken));
  // Maohe was never asked about.
  EXPECT_THAT(env_.CreateProject(RoadProject(kMaohe)),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));

  env_.clock().Advance(absl::Seconds(61));  // The cache TTL is 60 s.
  EXPECT_THAT(env_.Report(project.id(), 100, kDangzilingReporterToken),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the village registry could not be reached"));
  EXPECT_THAT(env_.Report(project.id(), 100),
              StatusIs(absl::StatusCode::kUnavailable, "registry"));

  // Nothing was written by the failed calls; a global reader still reads.
  v1::GetProjectRequest get;
  get.set_id(project.id());
  ASSERT_OK_AND_ASSIGN(v1::Project after,
                       env_.Call(&Stub::GetProject, get, kViewerToken));
  EXPECT_EQ(after.report_count(), 1);
  EXPECT_EQ(after.delivered_quantity(), 100);
  ASSERT_OK_AND_ASSIGN(auto all, env_.ListAllProjects({}, kViewerToken));
  EXPECT_EQ(all.size(), 1u);
}

TEST_F(RegistryDownTest, UnknownVillagesAreNotCached) {
  const std::string village = "411323-huiche-west-04";
  EXPECT_THAT(env_.CreateProject(RoadProject(village)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "project.village_id: village 411323-huiche-west-04 "
                       "does not exist in the registry"));
  registry::v1::Village created;
  created.set_id(village);
  created.set_name("西管区第4村");
  created.set_region_id(kWest);
  created.set_kind(registry::v1::VILLAGE);
  ASSERT_OK(env_.registry().registry().CreateVillage(
      Principal{"fixture", Role::kAdmin, "*"}, created));
  // At once, without waiting for any TTL.
  EXPECT_OK(env_.CreateProject(RoadProject(village)));
}

TEST_F(RegistryDownTest, RegistryRefusingOurTokenIsAnInternalError) {
  ProjectsHostOptions options;
  options.registry_address = env_.registry().address();
  options.registry_token = "not-a-registry-token";
  auto host = env_.StartProjects(env_.database("isolated"), options);
  auto stub = v1::ProjectsService::NewStub(host->NewChannel());
  // The cause (our token refused) is the operator's to fix: it goes to
  // the server's log, and the client gets a request id to quote.
  EXPECT_THAT(
      CallOn(*stub, &Stub::CreateProject, CreateRequest(kDangziling)),
      StatusIs(absl::StatusCode::kInternal, "internal error (request id "));
  ExpectNothingWritten(*stub);
}

}  // namespace
}  // namespace fivestar::projects
