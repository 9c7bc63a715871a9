// Scoring's start-up and its resilience to a hung cache: a rubric file that
// does not parse or breaks a rule stops start-up with the line or field
// named; a Redis that stops answering (SIGSTOP) degrades board reads to the
// database without holding any call past its deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/ports.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::testing::StatusIs;
using Stub = v1::ScoringService::Stub;

// Scoring's options for a start that must fail before it needs its peers.
ScoringServerOptions Options(const std::string& database,
                             const std::string& rubric) {
  ScoringServerOptions options;
  options.server.listen_address = "127.0.0.1:0";
  options.database = database;
  options.authenticator =
      std::make_shared<Authenticator>(fivestar::testing::TestTokenTable(
          {{kAdminToken, "admin", "*", "admin"}}));
  options.rubric_file = rubric;
  options.redis.host.clear();
  options.follow_feeds = false;
  return options;
}

std::string WriteFile(const fivestar::testing::TempDir& dir,
                      const std::string& name, const std::string& text) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  return path;
}

std::string DefaultRubricText() {
  std::ifstream in(
      fivestar::testing::SourcePath("data/rubrics/default.textproto"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ScoringStartupTest, ARubricFileThatDoesNotParseStopsStartUp) {
  fivestar::testing::TempDir dir;
  fivestar::testing::TestDatabases databases;
  const std::string path = WriteFile(
      dir, "bad.textproto", "name: \"x\"\nstars {\n  pass_mark: sixty\n}\n");
  EXPECT_THAT(ScoringServer::Start(Options(databases.Get("scoring"), path)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       path + ":3:14: Expected integer, got: sixty"));
}

TEST(ScoringStartupTest, ARubricFileThatBreaksARuleNamesLineAndField) {
  fivestar::testing::TempDir dir;
  fivestar::testing::TestDatabases databases;
  std::string text = DefaultRubricText();
  const std::string from = "pass_mark: 60";
  text.replace(text.find(from), from.size(), "pass_mark: 160");
  const std::string path = WriteFile(dir, "rule.textproto", text);
  absl::StatusOr<std::unique_ptr<ScoringServer>> server =
      ScoringServer::Start(Options(databases.Get("scoring"), path));
  EXPECT_THAT(server, StatusIs(absl::StatusCode::kInvalidArgument,
                               "rubric.stars[0].pass_mark"));
  EXPECT_THAT(server, StatusIs(absl::StatusCode::kInvalidArgument, path + ":"));
  EXPECT_THAT(ScoringServer::Start(
                  Options(databases.Get("scoring"), dir.File("missing"))),
              StatusIs(absl::StatusCode::kNotFound, "missing"));
}

// Scoring takes a PostgreSQL URI as the other services do; one it cannot
// reach stops start-up as UNAVAILABLE, its password never shown.
TEST(ScoringStartupTest,
     AnUnreachablePostgresIsUnavailableWithItsPasswordMasked) {
  absl::StatusOr<int> port = fivestar::testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string where = "127.0.0.1:" + std::to_string(*port) + "/scoring";
  ScoringServerOptions options =
      Options("postgresql://fivestar:s3cret@" + where, "");
  absl::StatusOr<std::unique_ptr<ScoringServer>> server =
      ScoringServer::Start(options);
  EXPECT_THAT(server,
              StatusIs(absl::StatusCode::kUnavailable,
                       "database postgresql://fivestar:***@" + where +
                           ": the database at " + where + " is unreachable"));
  EXPECT_THAT(server.status().message(),
              ::testing::Not(::testing::HasSubstr("s3cret")));
}

TEST(ScoringStartupTest, TheBuiltInRubricAndAFileAreStoredOnceAsVersionOne) {
  fivestar::testing::TempDir dir;
  fivestar::testing::TestDatabases databases;
  const std::string path =
      WriteFile(dir, "mine.textproto", DefaultRubricText());
  {
    ASSERT_OK_AND_ASSIGN(auto server, ScoringServer::Start(Options(
                                          databases.Get("scoring"), path)));
    ASSERT_OK_AND_ASSIGN(v1::Rubric rubric, server->store().GetRubric(0));
    EXPECT_EQ(rubric.version(), 1);
    EXPECT_EQ(rubric.creator(), "file:" + path);
  }
  // A restart keeps the stored rubric; it does not add a version.
  ASSERT_OK_AND_ASSIGN(
      auto server, ScoringServer::Start(Options(databases.Get("scoring"), "")));
  ASSERT_OK_AND_ASSIGN(auto rubrics, server->store().ListRubrics(0, 10));
  EXPECT_EQ(rubrics.size(), 1u);
}

TEST(ScoringHungRedisTest, BoardReadsDegradeWithinTheirDeadline) {
  ScoringEnvOptions options;
  options.follow_feeds = false;
  ScoringTestEnv env(options);
  ASSERT_OK(env.EvaluateRegion(kHuiche).status());
  ASSERT_OK_AND_ASSIGN(auto before, env.Leaderboard(kHuiche));
  ASSERT_FALSE(before.degraded());
  ASSERT_EQ(kill(env.redis()->pid(), SIGSTOP), 0);
  // Several reads and a write, each well within a 3 s deadline: the first
  // costs one command timeout, the rest fail over at once.
  for (int i = 0; i < 5; ++i) {
    v1::GetLeaderboardRequest request;
    request.set_region_id(kHuiche);
    request.set_period(kPeriod);
    std::unique_ptr<grpc::ClientContext> context =
        fivestar::testing::NewContext(kViewerToken, absl::Seconds(3));
    v1::GetLeaderboardResponse response;
    grpc::Status status =
        env.stub().GetLeaderboard(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.degraded());
    ASSERT_EQ(response.entries_size(), before.entries_size());
    for (int j = 0; j < response.entries_size(); ++j) {
      EXPECT_EQ(response.entries(j).village_id(),
                before.entries(j).village_id());
    }
  }
  EXPECT_OK(env.Evaluate(kMaohe).status());
  ASSERT_EQ(kill(env.redis()->pid(), SIGCONT), 0);
  // Back: the cache is re-synced (the write above missed it) and serves.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool served = false;
  while (!served && absl::Now() < deadline) {
    auto board = env.Leaderboard(kHuiche);
    served = board.ok() && !board->degraded();
    if (!served) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace fivestar::scoring
