// The registry hung (SIGSTOP), then killed, while project tracking and
// scoring (real processes, registry cache off, peer deadlines of 1 s) are
// called. Calls that need the registry fail with UNAVAILABLE (the peer
// contract of common/peer_client.h: a peer's DEADLINE_EXCEEDED or
// UNAVAILABLE becomes UNAVAILABLE) and return; calls that need no registry
// (local reads, health) answer meanwhile; after SIGCONT, and after a
// restart of the killed registry, the calls succeed again.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/process_faults_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::IsServing;
using ::fivestar::testing::ServiceProcess;
using ::fivestar::testing::StatusIs;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
namespace scoring_v1 = ::fivestar::scoring::v1;

// The calls' own deadline: far beyond the services' 1 s peer deadline, so
// a call that returns at all returned because the service gave up.
constexpr absl::Duration kClientDeadline = absl::Seconds(30);
// The hang guard: a call needing the hung registry returns within this
// (the 1 s peer deadline plus a generous margin for a loaded machine).
constexpr absl::Duration kReturnsWithin = absl::Seconds(15);

class HungRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(registry_, ServiceProcess::Start(
                                        RegistryOptions(sandbox_, "registry")));
    auto registry_stub =
        registry_v1::RegistryService::NewStub(registry_->NewChannel());
    ASSERT_OK(ImportRegistry(*registry_stub, HuicheRegistry(), 100));
    villages_ = VillageIds(HuicheRegistry());
    ASSERT_OK_AND_ASSIGN(
        projects_, ServiceProcess::Start(ProjectsOptions(
                       sandbox_, "projects", registry_->address(),
                       {"--registry_deadline=1s", "--registry_cache_ttl=0"})));
    ASSERT_OK_AND_ASSIGN(
        scoring_,
        ServiceProcess::Start(ScoringOptions(
            sandbox_, "scoring", registry_->address(), projects_->address(), "",
            {"--peer_deadline=1s", "--registry_cache_ttl=0"})));
    projects_stub_ =
        projects_v1::ProjectsService::NewStub(projects_->NewChannel());
    scoring_stub_ = scoring_v1::ScoringService::NewStub(scoring_->NewChannel());
    // A project and an evaluation made while the registry answers, for the
    // local reads later.
    ASSERT_OK_AND_ASSIGN(projects_v1::Project project, CreateProject());
    project_id_ = project.id();
    ASSERT_OK(Evaluate().status());
  }

  // Needs the registry: the village's lineage (cache off).
  absl::StatusOr<projects_v1::Project> CreateProject() {
    projects_v1::CreateProjectRequest request;
    projects_v1::Project* project = request.mutable_project();
    project->set_village_id(villages_[0]);
    project->set_title(absl::StrCat("道路硬化 ", ++projects_created_));
    project->set_star(common::v1::INDUSTRY_THRIVING);
    project->set_target_quantity(100);
    project->set_unit("m");
    project->set_start_date("2022-01-01");
    project->set_due_date("2023-12-31");
    auto context = Context(kClientDeadline);
    projects_v1::Project created;
    RETURN_IF_ERROR(FromGrpcStatus(
        projects_stub_->CreateProject(context.get(), request, &created)));
    return created;
  }

  // Needs the registry: the village's lineage and target level.
  absl::StatusOr<scoring_v1::Evaluation> Evaluate() {
    scoring_v1::EvaluateRequest request;
    request.set_village_id(villages_[0]);
    request.set_period(kPeriod);
    auto context = Context(kClientDeadline);
    scoring_v1::Evaluation evaluation;
    RETURN_IF_ERROR(FromGrpcStatus(
        scoring_stub_->Evaluate(context.get(), request, &evaluation)));
    return evaluation;
  }

  // Calls that need no registry answer OK: health of both services, a
  // project read, a recorded evaluation read.
  void ExpectLocalCallsAnswer() {
    EXPECT_TRUE(IsServing(projects_->address(), absl::Seconds(5)));
    EXPECT_TRUE(IsServing(scoring_->address(), absl::Seconds(5)));
    EXPECT_OK(GetProject(*projects_stub_, project_id_));
    ASSERT_OK_AND_ASSIGN(auto evaluations,
                         StoredEvaluations(*scoring_stub_, {villages_[0]}));
    EXPECT_EQ(evaluations.size(), 1u);
  }

  // Both registry-needing calls, each on its own thread, fail with
  // UNAVAILABLE naming the registry and return within kReturnsWithin, while
  // the local calls answer.
  void ExpectRegistryCallsUnavailable() {
    absl::Status create_status, evaluate_status;
    absl::Duration create_took, evaluate_took;
    std::thread create([&] {
      const absl::Time start = absl::Now();
      create_status = CreateProject().status();
      create_took = absl::Now() - start;
    });
    std::thread evaluate([&] {
      const absl::Time start = absl::Now();
      evaluate_status = Evaluate().status();
      evaluate_took = absl::Now() - start;
    });
    ExpectLocalCallsAnswer();
    create.join();
    evaluate.join();
    EXPECT_THAT(create_status,
                StatusIs(absl::StatusCode::kUnavailable, "registry"));
    EXPECT_LT(create_took, kReturnsWithin);
    EXPECT_THAT(evaluate_status,
                StatusIs(absl::StatusCode::kUnavailable, "registry"));
    EXPECT_LT(evaluate_took, kReturnsWithin);
  }

  // `call` succeeds within 30 s of retries; until then it fails only with
  // UNAVAILABLE (channels reconnect with backoff).
  template <typename T>
  void ExpectSucceedsAgain(const std::function<absl::StatusOr<T>()>& call) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    absl::StatusOr<T> result = call();
    while (!result.ok() && absl::Now() < give_up) {
      ASSERT_THAT(result.status(),
                  StatusIs(absl::StatusCode::kUnavailable, "registry"));
      absl::SleepFor(absl::Milliseconds(200));
      result = call();
    }
    EXPECT_OK(result.status());
  }

  void ExpectBothSucceedAgain() {
    ExpectSucceedsAgain<projects_v1::Project>(
        [this] { return CreateProject(); });
    ExpectSucceedsAgain<scoring_v1::Evaluation>([this] { return Evaluate(); });
  }

  Sandbox sandbox_;
  std::unique_ptr<ServiceProcess> registry_, projects_, scoring_;
  std::unique_ptr<projects_v1::ProjectsService::Stub> projects_stub_;
  std::unique_ptr<scoring_v1::ScoringService::Stub> scoring_stub_;
  std::vector<std::string> villages_;
  std::string project_id_;
  int projects_created_ = 0;
};

TEST_F(HungRegistryTest, StoppedThenContinued) {
  registry_->process().Signal(SIGSTOP);
  ASSERT_OK(registry_->process().WaitStopped(absl::Seconds(10)));
  {
    SCOPED_TRACE("registry stopped");
    ExpectRegistryCallsUnavailable();
  }
  {
    // Still hung: the same again (no call got stuck behind the first ones).
    SCOPED_TRACE("registry still stopped");
    ExpectRegistryCallsUnavailable();
  }
  registry_->process().Signal(SIGCONT);
  ExpectBothSucceedAgain();
  ExpectLocalCallsAnswer();
}

TEST_F(HungRegistryTest, StoppedThenKilledAndRestarted) {
  registry_->process().Signal(SIGSTOP);
  ASSERT_OK(registry_->process().WaitStopped(absl::Seconds(10)));
  {
    SCOPED_TRACE("registry stopped");
    ExpectRegistryCallsUnavailable();
  }
  registry_->process().Kill();
  {
    // Nobody listens: refused at once, the same way.
    SCOPED_TRACE("registry killed");
    ExpectRegistryCallsUnavailable();
  }
  ASSERT_OK(registry_->Restart());
  ExpectBothSucceedAgain();
  ExpectLocalCallsAnswer();
}

}  // namespace
}  // namespace fivestar::faults
