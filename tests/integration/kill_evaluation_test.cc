// SIGKILL during a region evaluation: scoring (a real process, with the
// registry and project tracking as processes and a real redis-server) is
// killed while EvaluateRegion walks Huiche (its 21 villages plus 480
// synthetic ones: six pages of 100). After a restart every village's
// recorded evaluation is either the old complete one or the new complete
// one, the leaderboard shows exactly the recorded evaluations, and running
// the evaluation again gives exactly the state of an undisturbed run (a
// second scoring process on its own database and Redis keys).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/process_faults_env.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::DescribeWaitStatus;
using ::fivestar::testing::RedisServer;
using ::fivestar::testing::ServiceProcess;
namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
namespace scoring_v1 = ::fivestar::scoring::v1;
using Evaluations = std::map<std::string, scoring_v1::Evaluation>;

std::vector<registry_v1::RegistryRecord> Township() {
  std::vector<registry_v1::RegistryRecord> records = HuicheRegistry();
  for (auto& record : SyntheticVillages(480, 2)) {
    records.push_back(std::move(record));
  }
  return records;
}

// The overall board the recorded `evaluations` make, as Board() shows it,
// in village order (compared as sets: the board's order is checked against
// the undisturbed run's).
std::vector<std::string> BoardOf(const Evaluations& evaluations) {
  std::vector<std::string> board;
  for (const auto& [village, evaluation] : evaluations) {
    board.push_back(absl::StrCat(village, " stars=", evaluation.stars_earned(),
                                 " points=", evaluation.total_points()));
  }
  return board;
}

std::vector<std::string> Sorted(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::string Text(const scoring_v1::Evaluation& evaluation) {
  return evaluation.ShortDebugString();
}

TEST(KillDuringEvaluationTest, NoEvaluationIsHalfApplied) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> redis,
                       RedisServer::Start());
  const std::string redis_address = absl::StrCat("127.0.0.1:", redis->port());
  ASSERT_OK_AND_ASSIGN(auto registry, ServiceProcess::Start(RegistryOptions(
                                          sandbox, "registry")));
  const std::vector<registry_v1::RegistryRecord> township = Township();
  const std::vector<std::string> villages = VillageIds(township);
  {
    auto stub = registry_v1::RegistryService::NewStub(registry->NewChannel());
    ASSERT_OK(ImportRegistry(*stub, township, 100));
  }
  ASSERT_OK_AND_ASSIGN(auto projects,
                       ServiceProcess::Start(ProjectsOptions(
                           sandbox, "projects", registry->address())));
  auto projects_stub =
      projects_v1::ProjectsService::NewStub(projects->NewChannel());
  ASSERT_OK(ImportProjects(*projects_stub, HuicheProjects(), 50));

  ASSERT_OK_AND_ASSIGN(
      auto scoring, ServiceProcess::Start(
                        ScoringOptions(sandbox, "scoring", registry->address(),
                                       projects->address(), redis_address)));
  auto stub = scoring_v1::ScoringService::NewStub(scoring->NewChannel());

  // The old standing: evaluated before the month's indicator values came.
  ASSERT_OK(EvaluateRegion(*stub, kHuiche));
  ASSERT_OK_AND_ASSIGN(const Evaluations old_evaluations,
                       StoredEvaluations(*stub, villages));
  ASSERT_EQ(old_evaluations.size(), villages.size());

  {
    auto context = Context();
    projects_v1::SetIndicatorValuesResponse response;
    ASSERT_OK(FromGrpcStatus(projects_stub->SetIndicatorValues(
        context.get(), HuicheIndicators(), &response)));
  }

  // The undisturbed run, on its own database and Redis keys.
  Evaluations new_evaluations;
  std::vector<std::string> undisturbed_board;
  {
    ASSERT_OK_AND_ASSIGN(
        auto reference,
        ServiceProcess::Start(ScoringOptions(
            sandbox, "reference", registry->address(), projects->address(),
            redis_address, {"--redis_key_prefix=reference"})));
    auto reference_stub =
        scoring_v1::ScoringService::NewStub(reference->NewChannel());
    ASSERT_OK(EvaluateRegion(*reference_stub, kHuiche));
    ASSERT_OK_AND_ASSIGN(new_evaluations,
                         StoredEvaluations(*reference_stub, villages));
    bool degraded = true;
    ASSERT_OK_AND_ASSIGN(undisturbed_board,
                         Board(*reference_stub, kHuiche, &degraded));
    EXPECT_FALSE(degraded);
  }
  ASSERT_EQ(new_evaluations.size(), villages.size());
  int changed = 0;
  for (const std::string& village : villages) {
    if (Text(old_evaluations.at(village)) !=
        Text(new_evaluations.at(village))) {
      ++changed;
    }
  }
  ASSERT_GT(changed, 0) << "the indicator values changed no evaluation";
  EXPECT_EQ(Sorted(undisturbed_board), Sorted(BoardOf(new_evaluations)));

  // Killed once the first page (100 villages) was recorded and reported.
  {
    auto context = Context(absl::Seconds(60));
    scoring_v1::EvaluateRegionRequest request;
    request.set_region_id(kHuiche);
    request.set_period(kPeriod);
    auto stream = stub->EvaluateRegion(context.get(), request);
    scoring_v1::EvaluateRegionResponse response;
    while (stream->Read(&response)) {
      if (response.villages_evaluated() > 0) break;
    }
    scoring->process().Signal(SIGKILL);
    ASSERT_OK_AND_ASSIGN(int status,
                         scoring->process().Wait(absl::Seconds(30)));
    EXPECT_EQ(DescribeWaitStatus(status), "killed by signal 9");
    context->TryCancel();
    stream->Finish();
  }
  ASSERT_OK(scoring->Restart());
  stub = scoring_v1::ScoringService::NewStub(scoring->NewChannel());

  ASSERT_OK_AND_ASSIGN(const Evaluations after_kill,
                       StoredEvaluations(*stub, villages));
  ASSERT_EQ(after_kill.size(), villages.size());
  int renewed = 0;
  for (const std::string& village : villages) {
    const std::string stored = Text(after_kill.at(village));
    const std::string old_one = Text(old_evaluations.at(village));
    const std::string new_one = Text(new_evaluations.at(village));
    EXPECT_TRUE(stored == old_one || stored == new_one)
        << village
        << " holds neither the old nor the new evaluation: " << stored
        << "\nold: " << old_one << "\nnew: " << new_one;
    if (stored == new_one && stored != old_one) ++renewed;
  }
  // How far the killed run got, for the test's XML output.
  RecordProperty("villages_renewed_before_kill", renewed);
  RecordProperty("villages_changed", changed);
  // The leaderboard shows what is recorded, no more and no less.
  bool degraded = true;
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> board,
                       Board(*stub, kHuiche, &degraded));
  EXPECT_EQ(Sorted(board), Sorted(BoardOf(after_kill)))
      << renewed << " villages had their new evaluation recorded"
      << (degraded ? " (board read from the database)" : "");

  // Again, to the end: exactly the undisturbed run.
  ASSERT_OK(EvaluateRegion(*stub, kHuiche));
  ASSERT_OK_AND_ASSIGN(const Evaluations rerun,
                       StoredEvaluations(*stub, villages));
  ASSERT_EQ(rerun.size(), villages.size());
  for (const std::string& village : villages) {
    EXPECT_EQ(Text(rerun.at(village)), Text(new_evaluations.at(village)))
        << village;
  }
  ASSERT_OK_AND_ASSIGN(board, Board(*stub, kHuiche, &degraded));
  EXPECT_FALSE(degraded);
  EXPECT_EQ(board, undisturbed_board);
}

}  // namespace
}  // namespace fivestar::faults
