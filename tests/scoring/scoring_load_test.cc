// A bounded load on scoring over real gRPC (with the real registry, project
// tracking and Redis behind it): several clients apply for stars (racing
// for the same village and star, with request ids, retried), review and
// withdraw applications on etags (some stale on purpose), change their own
// villages' scores (an indicator value, then Evaluate), and read boards,
// ranks and awards, a fixed number of operations each. Afterwards the
// awards are exactly what the acknowledged answers imply
// (tests/testing/acknowledged_writes.h), no village holds two open
// applications for a star, every acknowledged evaluation is the recorded
// one, and the boards rank exactly those.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/scoring/board_oracle.h"
#include "tests/scoring/scoring_test_env.h"
#include "tests/testing/acknowledged_writes.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::scoring {
namespace {

using namespace ::fivestar::scoring::testing;
using ::fivestar::common::v1::Star;
using ::fivestar::testing::AcknowledgedWrites;
using ::fivestar::testing::RunClients;
using ::fivestar::testing::Version;
using ::google::protobuf::util::MessageDifferencer;
using Stub = v1::ScoringService::Stub;

constexpr int kClients = 8;
constexpr int kOperations = 60;

Version VersionOf(const v1::Award& award) {
  return {award.etag(), absl::StrCat(award.village_id(), "|", award.star(), "|",
                                     v1::AwardState_Name(award.state()), "|",
                                     award.close_reason())};
}

bool Open(v1::AwardState state) {
  return state == v1::APPLIED || state == v1::TOWNSHIP_REVIEWED ||
         state == v1::COUNTY_APPROVED || state == v1::PUBLIC_NOTICE;
}

class ScoringLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ScoringEnvOptions options;
    options.follow_feeds = false;  // scores change only by Evaluate
    env_ = std::make_unique<ScoringTestEnv>(options);
    ASSERT_OK(env_->EvaluateRegion(kHuiche).status());
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> all,
                         RecordedEvaluations(*env_));
    ASSERT_EQ(all.size(), 21u);
    // The first kClients / 2 villages are rescored, each by two clients at
    // once; the others' earned stars are applied for.
    for (size_t v = 0; v < all.size(); ++v) {
      if (static_cast<int>(v) < kClients / 2) {
        owned_.push_back(all[v].village_id());
        continue;
      }
      for (const v1::StarResult& star : all[v].stars()) {
        if (star.earned())
          earned_.emplace_back(all[v].village_id(), star.star());
      }
    }
    ASSERT_GE(earned_.size(), 4u);
  }

  // Applies for an earned star (two clients apply for the same one in the
  // same round), retrying with the same request id.
  void Apply(int c, int i) {
    const auto& [village, star] = earned_[(i / 6 + c / 2) % earned_.size()];
    v1::ApplyForAwardRequest request;
    request.set_village_id(village);
    request.set_star(star);
    request.set_period(kPeriod);
    request.set_note(absl::StrCat("申报-", c, "-", i));
    request.set_request_id(absl::StrCat("apply-", c, "-", i));
    absl::StatusOr<v1::Award> award = env_->Call(&Stub::ApplyForAward, request);
    if (absl::IsAlreadyExists(award.status())) {
      awards_.Refused(absl::StrCat(village, "/", star), "",
                      award.status().code());
      return;
    }
    if (!award.ok()) {
      awards_.Unexpected(absl::StrCat("ApplyForAward ", request.request_id()),
                         award.status());
      return;
    }
    absl::StatusOr<v1::Award> retried =
        env_->Call(&Stub::ApplyForAward, request);
    if (!retried.ok() || retried->id() != award->id()) {
      awards_.Unexpected(
          absl::StrCat("ApplyForAward retry ", request.request_id(), " for ",
                       award->id()),
          retried.status());
    }
    awards_.Created(award->id(), VersionOf(*award));
  }

  // Approves (or rejects) an award on the newest etag a client saw; with
  // `again`, repeats the decision on the etag it consumed (stale on
  // purpose).
  void Review(const std::string& id, bool approve, bool again) {
    std::optional<std::string> etag = awards_.LastSeen(id);
    if (!etag.has_value()) return;
    v1::ReviewAwardRequest request;
    request.set_id(id);
    request.set_decision(approve ? v1::ReviewAwardRequest::APPROVE
                                 : v1::ReviewAwardRequest::REJECT);
    request.set_comment(approve ? "同意" : "驳回");
    request.set_etag(*etag);
    for (int attempt = 0; attempt < (again ? 2 : 1); ++attempt) {
      absl::StatusOr<v1::Award> reviewed =
          env_->Call(&Stub::ReviewAward, request);
      awards_.Answered("ReviewAward", id, *etag, reviewed.status(),
                       reviewed.ok() ? VersionOf(*reviewed) : Version());
      if (!reviewed.ok()) return;
    }
  }

  void Withdraw(const std::string& id, int c, int i) {
    std::optional<std::string> etag = awards_.LastSeen(id);
    if (!etag.has_value()) return;
    v1::WithdrawAwardRequest request;
    request.set_id(id);
    request.set_reason(absl::StrCat("撤回-", c, "-", i));
    request.set_etag(*etag);
    absl::StatusOr<v1::Award> withdrawn =
        env_->Call(&Stub::WithdrawAward, request);
    awards_.Answered("WithdrawAward", id, *etag, withdrawn.status(),
                     withdrawn.ok() ? VersionOf(*withdrawn) : Version());
  }

  // Changes the inspection score of a village the client shares with
  // another one and evaluates it.
  void Rescore(int c, int i) {
    const std::string& village = owned_[c / 2];
    absl::Status set = env_->SetIndicator(village, "inspection_score", kPeriod,
                                          (i * 13) % 101);
    if (!set.ok()) {
      awards_.Unexpected(absl::StrCat("SetIndicatorValues ", village), set);
      return;
    }
    absl::StatusOr<v1::Evaluation> evaluation = env_->Evaluate(village);
    if (!evaluation.ok()) {
      awards_.Unexpected(absl::StrCat("Evaluate ", village),
                         evaluation.status());
      return;
    }
    absl::MutexLock lock(&mu_);
    evaluated_[village][c] = *evaluation;
  }

  void Read(int c, int i, const std::string& award) {
    v1::GetLeaderboardRequest board;
    board.set_region_id(i % 2 == 0 ? kHuiche : kCounty);
    board.set_period(kPeriod);
    board.set_page_size(5);
    absl::StatusOr<v1::GetLeaderboardResponse> read =
        env_->Call(&Stub::GetLeaderboard, board, kViewerToken);
    if (!read.ok() || read->total_villages() != 21) {
      awards_.Unexpected(
          absl::StrCat("GetLeaderboard ", board.region_id(), " total ",
                       read.ok() ? read->total_villages() : -1),
          read.status());
    }
    v1::GetVillageRankRequest rank;
    rank.set_village_id(owned_[c / 2]);
    rank.set_period(kPeriod);
    absl::StatusOr<v1::GetVillageRankResponse> ranked =
        env_->Call(&Stub::GetVillageRank, rank, kViewerToken);
    if (!ranked.ok()) {
      awards_.Unexpected(absl::StrCat("GetVillageRank ", owned_[c / 2]),
                         ranked.status());
    }
    if (!award.empty()) {
      v1::GetAwardRequest get;
      get.set_id(award);
      absl::StatusOr<v1::Award> got =
          env_->Call(&Stub::GetAward, get, kViewerToken);
      if (!got.ok()) {
        awards_.Unexpected(absl::StrCat("GetAward ", award), got.status());
      }
    }
    absl::StatusOr<std::vector<v1::Award>> all = ListAwards(7);
    if (!all.ok()) awards_.Unexpected("ListAwards", all.status());
  }

  // Every award below Huiche, `page_size` at a time.
  absl::StatusOr<std::vector<v1::Award>> ListAwards(int page_size) {
    std::vector<v1::Award> awards;
    v1::ListAwardsRequest request;
    request.set_ancestor_region_id(kHuiche);
    request.set_page_size(page_size);
    for (int page = 0; page < 1000; ++page) {
      ASSIGN_OR_RETURN(v1::ListAwardsResponse response,
                       env_->Call(&Stub::ListAwards, request, kViewerToken));
      for (const v1::Award& award : response.awards()) awards.push_back(award);
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return awards;
  }

  std::unique_ptr<ScoringTestEnv> env_;
  std::vector<std::string> owned_;
  std::vector<std::pair<std::string, Star>> earned_;
  AcknowledgedWrites awards_;
  absl::Mutex mu_;
  // The last evaluation each client was told, by village and client.
  std::map<std::string, std::map<int, v1::Evaluation>> evaluated_
      ABSL_GUARDED_BY(mu_);
};

TEST_F(ScoringLoadTest, ConcurrentClientsLeaveExactlyWhatTheyWereTold) {
  const int skipped = RunClients(kClients, kOperations, [&](int c, int i) {
    std::minstd_rand random(c * 1000 + i);
    const std::vector<std::string> keys = awards_.Keys();
    const std::string any = keys.empty() ? "" : keys[random() % keys.size()];
    switch (i % 6) {
      case 0:
        Apply(c, i);
        break;
      case 1:
        if (!any.empty()) Review(any, true, true);
        break;
      case 2:
        Rescore(c, i);
        break;
      case 3:
        if (!any.empty()) Review(any, i % 12 != 3, false);
        break;
      case 4:
        Rescore(c, i);
        Read(c, i, any);
        break;
      case 5:
        if (!any.empty()) {
          if (i % 12 == 11) {
            Withdraw(any, c, i);
          } else {
            Review(any, true, false);
          }
        }
        break;
    }
  });
  EXPECT_EQ(skipped, 0);
  std::cout << "awards: " << awards_.Tally() << "\n";

  // The awards are what the clients were told, and the workflow's rule
  // held under the races: at most one open application per village and
  // star.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Award> awards, ListAwards(1000));
  std::map<std::string, Version> actual;
  std::map<std::pair<std::string, Star>, int> open;
  for (const v1::Award& award : awards) {
    actual[award.id()] = VersionOf(award);
    if (Open(award.state())) ++open[{award.village_id(), award.star()}];
  }
  const std::vector<std::string> errors = awards_.Check(actual);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  for (const auto& [pair, count] : open) {
    EXPECT_LE(count, 1) << pair.first << " star " << pair.second;
  }

  // Each rescored village's recorded evaluation is the last one one of its
  // two clients was told, and the board Redis serves ranks exactly the
  // recorded evaluations (a write-through applied out of order would leave
  // an older score on it).
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Evaluation> recorded,
                       RecordedEvaluations(*env_));
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(evaluated_.size(), static_cast<size_t>(kClients / 2));
    for (const v1::Evaluation& stored : recorded) {
      auto it = evaluated_.find(stored.village_id());
      if (it == evaluated_.end()) continue;
      bool told = false;
      std::string last;
      for (const auto& [client, evaluation] : it->second) {
        told = told || MessageDifferencer::Equals(stored, evaluation);
        absl::StrAppend(&last, "\nclient ", client, ": ",
                        evaluation.ShortDebugString());
      }
      EXPECT_TRUE(told) << "recorded: " << stored.ShortDebugString()
                        << "\nlast acknowledged:" << last;
    }
  }
  for (const char* region : {kHuiche, kProvince}) {
    // Bounded poll: a write that overlapped a re-sync makes the cache wait
    // for another before it serves again.
    v1::GetLeaderboardResponse board;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
      ASSERT_OK_AND_ASSIGN(
          board,
          env_->Leaderboard(region, kPeriod,
                            fivestar::common::v1::STAR_UNSPECIFIED, 100));
      if (!board.degraded() || absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_FALSE(board.degraded()) << region;
    EXPECT_EQ(DescribeBoard(EntriesOf(board)),
              DescribeBoard(ExpectedBoard(
                  recorded, fivestar::common::v1::STAR_UNSPECIFIED)))
        << region;
  }

  // The load did what it is for.
  EXPECT_GT(awards_.Refusals(absl::StatusCode::kAborted), 0);
  EXPECT_GT(awards_.Refusals(absl::StatusCode::kAlreadyExists), 0);
  EXPECT_GT(awards_.Acknowledged(), 2 * kClients);
}

}  // namespace
}  // namespace fivestar::scoring
