// The scoring store on both engines (SQLite and a real PostgreSQL): rubric
// versions and the active one; evaluations recorded with the feed cursor in one
// transaction; boards ranked from the standings (ties, paging, per-star boards,
// every region level, a village that moved); frozen boards that later
// evaluations do not touch; awards with idempotent creation, etag- and
// state-checked transitions and their event trail; and everything surviving a
// reopen.
#include "services/scoring/sql_scoring_store.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/scoring/leaderboards.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/sql_engines.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::BRANCH_STRONG;
using ::fivestar::common::v1::CIVILIZED_HAPPY;
using ::fivestar::common::v1::INDUSTRY_THRIVING;
using ::fivestar::common::v1::SAFE_LAWFUL;
using ::fivestar::common::v1::Star;
using ::fivestar::common::v1::STAR_UNSPECIFIED;
using ::fivestar::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

constexpr char kMonth[] = "2022-09";
constexpr char kNextMonth[] = "2022-10";

// The region tree of the tests: province p1 > city c1 > counties k1, k2;
// k1 > townships t1 (districts d1, d2) and t2; k2 > township t3. A second
// province p2 > c9 > k9 > t9.
std::vector<std::string> Lineage(const std::string& village,
                                 const std::string& parent) {
  if (parent == "t9") return {village, "t9", "k9", "c9", "p2"};
  if (parent == "d1" || parent == "d2") {
    return {village, parent, "t1", "k1", "c1", "p1"};
  }
  if (parent == "t2") return {village, "t2", "k1", "c1", "p1"};
  return {village, "t3", "k2", "c1", "p1"};
}

// An evaluation with per-star `points` (in star order) and the stars whose
// bit (1 << index) is set in `earned` earned, as recorded.
EvaluationRecord Rec(const std::string& village, const std::string& period,
                     const std::string& parent, std::array<int, 5> points,
                     int earned) {
  v1::Evaluation evaluation;
  evaluation.set_village_id(village);
  evaluation.set_period(period);
  evaluation.set_rubric_version(1);
  evaluation.set_recorded(true);
  int stars = 0;
  int total = 0;
  for (int i = 0; i < 5; ++i) {
    v1::StarResult* star = evaluation.add_stars();
    star->set_star(static_cast<Star>(i + 1));
    star->set_points(points[i]);
    star->set_earned((earned & (1 << i)) != 0);
    star->set_passed(star->earned());
    stars += star->earned() ? 1 : 0;
    total += points[i];
  }
  evaluation.set_stars_earned(stars);
  evaluation.set_level(stars);
  evaluation.set_total_points(total);
  *evaluation.mutable_evaluate_time() =
      TimeUtil::SecondsToTimestamp(1664582400);
  EvaluationRecord record;
  record.standing = StandingOf(evaluation, Lineage(village, parent));
  record.evaluation = std::move(evaluation);
  return record;
}

// A record whose overall board score is (`stars`, `points`): the first
// `stars` stars earned, all points on the first star.
EvaluationRecord Overall(const std::string& village, const std::string& parent,
                         int stars, int points,
                         const std::string& period = kMonth) {
  return Rec(village, period, parent, {points, 0, 0, 0, 0}, (1 << stars) - 1);
}

CursorUpdate Cursor(uint64_t sequence) {
  return CursorUpdate{"projects", FeedCursor{"feed-a", sequence}, std::nullopt};
}

// (rank, village, stars, points) of entries, for compact expectations.
using Row = std::tuple<int, std::string, int, int>;
std::vector<Row> Rows(const std::vector<RankedEntry>& entries) {
  std::vector<Row> out;
  for (const RankedEntry& entry : entries) {
    out.emplace_back(entry.rank, entry.village_id, entry.stars, entry.points);
  }
  return out;
}
std::vector<std::string> Ids(const std::vector<RankedEntry>& entries) {
  std::vector<std::string> out;
  for (const RankedEntry& entry : entries) out.push_back(entry.village_id);
  return out;
}

BoardKey Board(const std::string& region, Star star = STAR_UNSPECIFIED,
               const std::string& period = kMonth) {
  return BoardKey{region, period, star};
}

google::protobuf::Timestamp At(int64_t seconds) {
  return TimeUtil::SecondsToTimestamp(seconds);
}

v1::Award NewAward(const std::string& village, Star star,
                   v1::AwardState state = v1::APPLIED) {
  v1::Award award;
  award.set_village_id(village);
  award.set_star(star);
  award.set_period(kMonth);
  award.set_rubric_version(1);
  award.set_state(state);
  award.set_applicant("operator-a");
  *award.mutable_create_time() = At(1664600000);
  *award.mutable_update_time() = At(1664600000);
  return award;
}

v1::AwardEvent Event(v1::AwardState from, v1::AwardState to,
                     int64_t seconds = 1664600000) {
  v1::AwardEvent event;
  event.set_from_state(from);
  event.set_to_state(to);
  event.set_actor("reviewer");
  event.set_actor_scope("t1");
  *event.mutable_event_time() = At(seconds);
  return event;
}

// `award` moved to `to` at `seconds`, with its event, expecting `etag`.
AwardTransition Move(const v1::Award& award, v1::AwardState to, int64_t seconds,
                     const std::string& etag) {
  AwardTransition transition;
  transition.award = award;
  transition.award.set_state(to);
  *transition.award.mutable_update_time() = At(seconds);
  transition.event = Event(award.state(), to, seconds);
  transition.expected_etag = etag;
  return transition;
}

template <typename Engine>
class SqlScoringStoreTest : public ::testing::Test {
 protected:
  using Store = SqlScoringStore<typename Engine::Pool>;

  void SetUp() override { Open(); }

  // Closes the store (if open) and opens it again on the same database.
  void Open() {
    store_.reset();
    auto database = engine_.Database();
    ASSERT_OK(database);
    auto store = Store::Open(*database, &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  void Record(std::vector<EvaluationRecord> records) {
    ASSERT_OK(store_->RecordEvaluations(records, std::nullopt));
  }

  std::vector<Row> WholeBoard(const BoardKey& board) {
    auto slice = store_->ReadBoard(board, 0, 1000);
    EXPECT_OK(slice);
    if (!slice.ok()) return {};
    EXPECT_EQ(slice->total, static_cast<int>(slice->entries.size()));
    return Rows(slice->entries);
  }

  std::vector<Row> FrozenBoard(const BoardKey& board) {
    auto slice = store_->ReadFrozenBoard(board, 0, 1000);
    EXPECT_OK(slice);
    if (!slice.ok()) return {};
    EXPECT_EQ(slice->total, static_cast<int>(slice->entries.size()));
    return Rows(slice->entries);
  }

  // Five villages of township t1 with overall scores giving ranks 1, 2, 2,
  // 4, 5 (the tied pair listed by id).
  void RecordTiedTownship() {
    Record({Overall("v-c", "d1", 2, 150), Overall("v-a", "d2", 3, 200),
            Overall("v-e", "d1", 1, 300), Overall("v-b", "d2", 2, 150),
            Overall("v-d", "d1", 2, 100)});
  }

  Engine engine_;
  FakeClock clock_{absl::FromUnixSeconds(1664600000)};
  std::unique_ptr<Store> store_;
};
TYPED_TEST_SUITE(SqlScoringStoreTest, fivestar::testing::SqlEngines,
                 fivestar::testing::SqlEngineNames);

// --- Rubrics -----------------------------------------------------------------

v1::Rubric NamedRubric(const std::string& name) {
  v1::Rubric rubric;
  rubric.set_name(name);
  rubric.set_creator("admin");
  *rubric.mutable_create_time() = At(1664000000);
  // Output-only fields a caller might leave set are the store's to decide.
  rubric.set_version(42);
  rubric.set_active(true);
  return rubric;
}

TYPED_TEST(SqlScoringStoreTest, FirstRubricBecomesActiveAndVersionsCount) {
  EXPECT_THAT(this->store_->GetRubric(0),
              StatusIs(absl::StatusCode::kNotFound, "no rubric is active yet"));
  ASSERT_OK_AND_ASSIGN(v1::Rubric first,
                       this->store_->CreateRubric(NamedRubric("one"), false));
  EXPECT_EQ(first.version(), 1);
  EXPECT_TRUE(first.active());
  EXPECT_EQ(first.creator(), "admin");
  EXPECT_EQ(first.create_time(), At(1664000000));
  ASSERT_OK_AND_ASSIGN(v1::Rubric second,
                       this->store_->CreateRubric(NamedRubric("two"), false));
  EXPECT_EQ(second.version(), 2);
  EXPECT_FALSE(second.active());
  ASSERT_OK_AND_ASSIGN(v1::Rubric active, this->store_->GetRubric(0));
  EXPECT_EQ(active.version(), 1);
  ASSERT_OK_AND_ASSIGN(v1::Rubric third,
                       this->store_->CreateRubric(NamedRubric("three"), true));
  EXPECT_EQ(third.version(), 3);
  EXPECT_TRUE(third.active());
  ASSERT_OK_AND_ASSIGN(v1::Rubric old, this->store_->GetRubric(1));
  EXPECT_EQ(old.name(), "one");
  EXPECT_FALSE(old.active());
}

TYPED_TEST(SqlScoringStoreTest, ActiveRubricSwitchesAndSurvivesReopen) {
  for (const char* name : {"one", "two", "three"}) {
    ASSERT_OK(this->store_->CreateRubric(NamedRubric(name), false));
  }
  ASSERT_OK_AND_ASSIGN(v1::Rubric two, this->store_->SetActiveRubric(2));
  EXPECT_EQ(two.version(), 2);
  EXPECT_TRUE(two.active());
  EXPECT_THAT(
      this->store_->SetActiveRubric(9),
      StatusIs(absl::StatusCode::kNotFound, "rubric version 9 not found"));
  EXPECT_THAT(
      this->store_->GetRubric(7),
      StatusIs(absl::StatusCode::kNotFound, "rubric version 7 not found"));
  this->Open();
  ASSERT_OK_AND_ASSIGN(v1::Rubric active, this->store_->GetRubric(0));
  EXPECT_EQ(active.version(), 2);
  EXPECT_EQ(active.name(), "two");
  ASSERT_OK_AND_ASSIGN(v1::Rubric one, this->store_->GetRubric(1));
  EXPECT_FALSE(one.active());
}

TYPED_TEST(SqlScoringStoreTest, RubricsListNewestFirstInPages) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_OK(
        this->store_->CreateRubric(NamedRubric(absl::StrCat("r", i)), false));
  }
  auto versions = [](const std::vector<v1::Rubric>& rubrics) {
    std::vector<std::pair<int, bool>> out;
    for (const v1::Rubric& rubric : rubrics) {
      out.emplace_back(rubric.version(), rubric.active());
    }
    return out;
  };
  ASSERT_OK_AND_ASSIGN(auto page, this->store_->ListRubrics(0, 2));
  EXPECT_EQ(versions(page),
            (std::vector<std::pair<int, bool>>{{5, false}, {4, false}}));
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListRubrics(4, 2));
  EXPECT_EQ(versions(page),
            (std::vector<std::pair<int, bool>>{{3, false}, {2, false}}));
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListRubrics(2, 2));
  EXPECT_EQ(versions(page), (std::vector<std::pair<int, bool>>{{1, true}}));
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListRubrics(1, 2));
  EXPECT_THAT(page, IsEmpty());
}

// --- Evaluations -------------------------------------------------------------

TYPED_TEST(SqlScoringStoreTest,
           RecordingReplacesAndReturnsThePreviousStanding) {
  ASSERT_OK_AND_ASSIGN(
      auto outcomes,
      this->store_->RecordEvaluations(
          {Rec("v1", kMonth, "d1", {70, 10, 0, 0, 0}, 1)}, Cursor(3)));
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].previous.has_value());

  ASSERT_OK_AND_ASSIGN(outcomes,
                       this->store_->RecordEvaluations(
                           {Rec("v1", kMonth, "d2", {80, 90, 0, 0, 0}, 3),
                            Rec("v2", kMonth, "t2", {1, 0, 0, 0, 0}, 0)},
                           Cursor(7)));
  ASSERT_EQ(outcomes.size(), 2u);
  ASSERT_TRUE(outcomes[0].previous.has_value());
  const Standing& previous = *outcomes[0].previous;
  EXPECT_EQ(previous.village_id, "v1");
  EXPECT_EQ(previous.period, kMonth);
  EXPECT_EQ(previous.rubric_version, 1);
  EXPECT_EQ(previous.lineage, Lineage("v1", "d1"));
  EXPECT_EQ(previous.stars, 1);
  EXPECT_EQ(previous.points, 80);
  EXPECT_TRUE(previous.per_star[0].earned);
  EXPECT_EQ(previous.per_star[0].points, 70);
  EXPECT_FALSE(previous.per_star[1].earned);
  EXPECT_EQ(previous.per_star[1].points, 10);
  EXPECT_FALSE(outcomes[1].previous.has_value());

  ASSERT_OK_AND_ASSIGN(v1::Evaluation stored,
                       this->store_->GetEvaluation("v1", kMonth));
  EXPECT_EQ(stored.total_points(), 170);
  EXPECT_EQ(stored.stars_earned(), 2);
  EXPECT_TRUE(stored.recorded());
  EXPECT_THAT(this->store_->GetEvaluation("v1", kNextMonth),
              StatusIs(absl::StatusCode::kNotFound,
                       "village v1 has no recorded evaluation for 2022-10"));
  ASSERT_OK_AND_ASSIGN(FeedCursor cursor, this->store_->GetCursor("projects"));
  EXPECT_EQ(cursor.feed_id, "feed-a");
  EXPECT_EQ(cursor.sequence, 7u);
}

TYPED_TEST(SqlScoringStoreTest, FailingRecordLeavesBatchAndCursorUnwritten) {
  ASSERT_OK(
      this->store_->RecordEvaluations({Overall("v1", "d1", 1, 60)}, Cursor(3)));
  EvaluationRecord broken = Overall("v3", "d1", 2, 100);
  broken.standing.lineage.clear();
  EXPECT_THAT(
      this->store_->RecordEvaluations(
          {Overall("v1", "d1", 5, 500), Overall("v2", "d2", 2, 100), broken},
          Cursor(9)),
      StatusIs(absl::StatusCode::kInternal, "records[2]: the standing"));
  this->Open();  // What the file holds, not what a connection might cache.
  ASSERT_OK_AND_ASSIGN(FeedCursor cursor, this->store_->GetCursor("projects"));
  EXPECT_EQ(cursor.sequence, 3u);
  EXPECT_THAT(this->store_->GetEvaluation("v2", kMonth),
              StatusIs(absl::StatusCode::kNotFound, "v2"));
  EXPECT_THAT(this->WholeBoard(Board("t1")), ElementsAre(Row{1, "v1", 1, 60}));
}

TYPED_TEST(SqlScoringStoreTest, StandingsListByMonthAndVillage) {
  EXPECT_THAT(this->store_->StandingPeriods(),
              ::fivestar::testing::IsOkAndHolds(IsEmpty()));
  this->Record({Overall("v2", "d1", 1, 60), Overall("v1", "t2", 2, 100),
                Overall("v3", "t3", 0, 10),
                Overall("v1", "t2", 3, 150, kNextMonth),
                Overall("v4", "t2", 3, 150, "2021-12")});
  EXPECT_THAT(
      this->store_->RecordedPeriods("v1"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("2022-09", "2022-10")));
  EXPECT_THAT(this->store_->StandingPeriods(),
              ::fivestar::testing::IsOkAndHolds(
                  ElementsAre("2021-12", "2022-09", "2022-10")));
  ASSERT_OK_AND_ASSIGN(auto page, this->store_->ListStandings(kMonth, "", 2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].village_id, "v1");
  EXPECT_EQ(page[0].lineage, Lineage("v1", "t2"));
  EXPECT_EQ(page[1].village_id, "v2");
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListStandings(kMonth, "v2", 2));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].village_id, "v3");
  EXPECT_EQ(page[0].points, 10);
  // Any month counts: v4 stands only in 2021-12.
  EXPECT_THAT(this->store_->VillagesWithStandings("k1"),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("v1", "v2", "v4")));
  EXPECT_THAT(
      this->store_->VillagesWithStandings("c1"),
      ::fivestar::testing::IsOkAndHolds(ElementsAre("v1", "v2", "v3", "v4")));
  EXPECT_THAT(this->store_->VillagesWithStandings("t3"),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("v3")));
}

TYPED_TEST(SqlScoringStoreTest, StandingsUnderARegionListByItsBoard) {
  this->Record({Overall("v2", "d1", 1, 60), Overall("v1", "t2", 2, 100),
                Overall("v3", "t3", 0, 10), Overall("v5", "d2", 1, 50),
                Overall("v1", "t2", 3, 150, kNextMonth)});
  auto ids = [](const absl::StatusOr<std::vector<Standing>>& page) {
    std::vector<std::string> out;
    if (page.ok()) {
      for (const Standing& standing : *page) out.push_back(standing.village_id);
    }
    return out;
  };
  // Every level: the villages whose lineage holds the region, that month.
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("p1", kMonth, "", 10)),
              ElementsAre("v1", "v2", "v3", "v5"));
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("k1", kMonth, "", 10)),
              ElementsAre("v1", "v2", "v5"));
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("t1", kMonth, "", 10)),
              ElementsAre("v2", "v5"));
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("k2", kNextMonth, "", 10)),
              IsEmpty());
  // In pages, whole standings.
  ASSERT_OK_AND_ASSIGN(auto page,
                       this->store_->ListStandingsUnder("p1", kMonth, "", 2));
  EXPECT_THAT(ids(page), ElementsAre("v1", "v2"));
  EXPECT_EQ(page[0].lineage, Lineage("v1", "t2"));
  EXPECT_EQ(page[0].points, 100);
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("p1", kMonth, "v2", 2)),
              ElementsAre("v3", "v5"));
  EXPECT_THAT(this->store_->StandingTops(kMonth),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("p1")));
  this->Record(
      {Overall("v9", "t9", 1, 5), Overall("v8", "t9", 1, 5, kNextMonth)});
  EXPECT_THAT(this->store_->StandingTops(kMonth),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("p1", "p2")));
  EXPECT_THAT(this->store_->StandingTops(kNextMonth),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("p1", "p2")));
  EXPECT_THAT(this->store_->StandingTops("2021-01"),
              ::fivestar::testing::IsOkAndHolds(IsEmpty()));
  // A village that moved is listed under its new regions only.
  this->Record({Overall("v3", "t2", 0, 10)});
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("k2", kMonth, "", 10)),
              IsEmpty());
  EXPECT_THAT(ids(this->store_->ListStandingsUnder("t2", kMonth, "", 10)),
              ElementsAre("v1", "v3"));
}

TYPED_TEST(SqlScoringStoreTest, RemovedVillageLeavesEveryMonthAndBoard) {
  this->Record({Overall("v1", "d1", 1, 60),
                Overall("v1", "d1", 2, 90, kNextMonth),
                Overall("v2", "d1", 3, 100)});
  ASSERT_OK_AND_ASSIGN(std::vector<Standing> removed,
                       this->store_->RemoveVillage("v1", Cursor(12)));
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].period, kMonth);
  EXPECT_EQ(removed[0].lineage, Lineage("v1", "d1"));
  EXPECT_EQ(removed[1].period, kNextMonth);
  EXPECT_EQ(removed[1].points, 90);
  EXPECT_THAT(this->WholeBoard(Board("d1")), ElementsAre(Row{1, "v2", 3, 100}));
  EXPECT_THAT(this->WholeBoard(Board("p1", STAR_UNSPECIFIED, kNextMonth)),
              IsEmpty());
  EXPECT_THAT(this->store_->RecordedPeriods("v1"),
              ::fivestar::testing::IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(this->store_->VillagesWithStandings("t1"),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("v2")));
  ASSERT_OK_AND_ASSIGN(FeedCursor cursor, this->store_->GetCursor("projects"));
  EXPECT_EQ(cursor.sequence, 12u);
}

// --- Boards ------------------------------------------------------------------

TYPED_TEST(SqlScoringStoreTest, TiedVillagesShareARankListedById) {
  this->RecordTiedTownship();
  EXPECT_THAT(this->WholeBoard(Board("t1")),
              ElementsAre(Row{1, "v-a", 3, 200}, Row{2, "v-b", 2, 150},
                          Row{2, "v-c", 2, 150}, Row{4, "v-d", 2, 100},
                          Row{5, "v-e", 1, 300}));
}

TYPED_TEST(SqlScoringStoreTest, BoardPagesKeepRanksOfTheWholeBoard) {
  this->RecordTiedTownship();
  ASSERT_OK_AND_ASSIGN(BoardSlice slice,
                       this->store_->ReadBoard(Board("t1"), 2, 2));
  EXPECT_EQ(slice.total, 5);
  EXPECT_THAT(Rows(slice.entries),
              ElementsAre(Row{2, "v-c", 2, 150}, Row{4, "v-d", 2, 100}));
  ASSERT_OK_AND_ASSIGN(slice, this->store_->ReadBoard(Board("t1"), 4, 2));
  EXPECT_THAT(Ids(slice.entries), ElementsAre("v-e"));
  ASSERT_OK_AND_ASSIGN(slice, this->store_->ReadBoard(Board("t1"), 5, 2));
  EXPECT_EQ(slice.total, 5);
  EXPECT_THAT(slice.entries, IsEmpty());
  ASSERT_OK_AND_ASSIGN(slice, this->store_->ReadBoard(Board("t2"), 0, 10));
  EXPECT_EQ(slice.total, 0);
  EXPECT_THAT(slice.entries, IsEmpty());
}

TYPED_TEST(SqlScoringStoreTest, RanksOfSomeVillagesOmitThoseNotOnTheBoard) {
  this->RecordTiedTownship();
  this->Record({Overall("v-x", "t2", 5, 500)});
  ASSERT_OK_AND_ASSIGN(
      auto ranks,
      this->store_->RanksOf(Board("d1"), {"v-e", "v-x", "nowhere", "v-c"}));
  EXPECT_THAT(Rows(ranks),
              ElementsAre(Row{1, "v-c", 2, 150}, Row{3, "v-e", 1, 300}));
}

TYPED_TEST(SqlScoringStoreTest, PerStarBoardRanksByThatStarAlone) {
  this->Record({Rec("v1", kMonth, "d1", {90, 10, 0, 40, 0}, 0b00001),
                Rec("v2", kMonth, "d1", {10, 10, 0, 70, 0}, 0b01000),
                Rec("v3", kMonth, "d2", {50, 10, 0, 70, 0}, 0b01011),
                Rec("v4", kMonth, "t2", {0, 0, 0, 99, 0}, 0b01000)});
  EXPECT_THAT(this->WholeBoard(Board("t1", SAFE_LAWFUL)),
              ElementsAre(Row{1, "v2", 1, 70}, Row{1, "v3", 1, 70},
                          Row{3, "v1", 0, 40}));
  EXPECT_THAT(this->WholeBoard(Board("t1", BRANCH_STRONG)),
              ElementsAre(Row{1, "v1", 1, 90}, Row{2, "v3", 1, 50},
                          Row{3, "v2", 0, 10}));
  EXPECT_THAT(
      this->WholeBoard(Board("t1", CIVILIZED_HAPPY)),
      ElementsAre(Row{1, "v1", 0, 0}, Row{1, "v2", 0, 0}, Row{1, "v3", 0, 0}));
  EXPECT_THAT(this->WholeBoard(Board("t1")),
              ElementsAre(Row{1, "v3", 3, 130}, Row{2, "v1", 1, 140},
                          Row{3, "v2", 1, 90}));
  EXPECT_THAT(this->store_->ReadBoard(Board("t1", static_cast<Star>(9)), 0, 10),
              StatusIs(absl::StatusCode::kInvalidArgument, "board.star"));
}

TYPED_TEST(SqlScoringStoreTest, RegionBoardsHoldTheVillagesBelowAtEveryLevel) {
  this->Record({Overall("v1", "d1", 1, 10), Overall("v2", "d1", 2, 20),
                Overall("v3", "d2", 3, 30), Overall("v4", "t2", 4, 40),
                Overall("v5", "t3", 5, 50),
                Overall("v6", "d2", 0, 5, kNextMonth)});
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("d1"), 0, 10)->entries),
              ElementsAre("v2", "v1"));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("d2"), 0, 10)->entries),
              ElementsAre("v3"));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("t1"), 0, 10)->entries),
              ElementsAre("v3", "v2", "v1"));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("t2"), 0, 10)->entries),
              ElementsAre("v4"));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("k1"), 0, 10)->entries),
              ElementsAre("v4", "v3", "v2", "v1"));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("k2"), 0, 10)->entries),
              ElementsAre("v5"));
  EXPECT_THAT(
      this->WholeBoard(Board("p1")),
      ElementsAre(Row{1, "v5", 5, 50}, Row{2, "v4", 4, 40}, Row{3, "v3", 3, 30},
                  Row{4, "v2", 2, 20}, Row{5, "v1", 1, 10}));
  EXPECT_THAT(this->WholeBoard(Board("d2", STAR_UNSPECIFIED, kNextMonth)),
              ElementsAre(Row{1, "v6", 0, 5}));
  // A village is no region: it has no board of its own.
  EXPECT_THAT(this->WholeBoard(Board("v1")), IsEmpty());
}

TYPED_TEST(SqlScoringStoreTest, VillageThatMovedLeavesItsOldRegionsBoards) {
  this->Record({Overall("v1", "d1", 2, 20), Overall("v2", "d1", 1, 10),
                Overall("v3", "t3", 1, 10)});
  ASSERT_OK_AND_ASSIGN(auto outcomes,
                       this->store_->RecordEvaluations(
                           {Overall("v1", "t2", 2, 25)}, std::nullopt));
  ASSERT_TRUE(outcomes[0].previous.has_value());
  EXPECT_EQ(outcomes[0].previous->lineage, Lineage("v1", "d1"));
  EXPECT_THAT(this->WholeBoard(Board("d1")), ElementsAre(Row{1, "v2", 1, 10}));
  EXPECT_THAT(this->WholeBoard(Board("t1")), ElementsAre(Row{1, "v2", 1, 10}));
  EXPECT_THAT(this->WholeBoard(Board("t2")), ElementsAre(Row{1, "v1", 2, 25}));
  EXPECT_THAT(this->WholeBoard(Board("k1")),
              ElementsAre(Row{1, "v1", 2, 25}, Row{2, "v2", 1, 10}));
  EXPECT_THAT(this->store_->VillagesWithStandings("d1"),
              ::fivestar::testing::IsOkAndHolds(ElementsAre("v2")));
  // Across counties too.
  this->Record({Overall("v1", "t3", 2, 25)});
  EXPECT_THAT(this->WholeBoard(Board("k1")), ElementsAre(Row{1, "v2", 1, 10}));
  EXPECT_THAT(Ids(this->store_->ReadBoard(Board("k2"), 0, 10)->entries),
              ElementsAre("v1", "v3"));
  EXPECT_EQ(this->store_->ReadBoard(Board("p1"), 0, 0)->total, 3);
}

TYPED_TEST(SqlScoringStoreTest, NeighbourhoodStopsAtTheEdgesOfTheBoard) {
  this->RecordTiedTownship();
  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood top,
                       this->store_->ReadNeighbourhood(Board("t1"), "v-a", 2));
  EXPECT_EQ(top.total, 5);
  EXPECT_EQ(Rows({top.entry}), (std::vector<Row>{Row{1, "v-a", 3, 200}}));
  EXPECT_THAT(top.above, IsEmpty());
  EXPECT_THAT(Rows(top.below),
              ElementsAre(Row{2, "v-b", 2, 150}, Row{2, "v-c", 2, 150}));

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood bottom,
                       this->store_->ReadNeighbourhood(Board("t1"), "v-e", 3));
  EXPECT_EQ(bottom.entry.rank, 5);
  EXPECT_THAT(Ids(bottom.above), ElementsAre("v-b", "v-c", "v-d"));
  EXPECT_THAT(bottom.below, IsEmpty());

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood middle,
                       this->store_->ReadNeighbourhood(Board("t1"), "v-c", 1));
  EXPECT_EQ(middle.entry.rank, 2);
  EXPECT_THAT(Ids(middle.above), ElementsAre("v-b"));
  EXPECT_THAT(Rows(middle.below), ElementsAre(Row{4, "v-d", 2, 100}));

  ASSERT_OK_AND_ASSIGN(BoardNeighbourhood alone,
                       this->store_->ReadNeighbourhood(Board("d2"), "v-b", 0));
  EXPECT_EQ(alone.total, 2);
  EXPECT_EQ(alone.entry.rank, 2);
  EXPECT_THAT(alone.above, IsEmpty());
  EXPECT_THAT(alone.below, IsEmpty());

  EXPECT_THAT(this->store_->ReadNeighbourhood(Board("d2"), "v-c", 1),
              StatusIs(absl::StatusCode::kNotFound,
                       "village v-c is not on the overall board of region d2 "
                       "for 2022-09"));
  EXPECT_THAT(
      this->store_->ReadNeighbourhood(Board("t1", SAFE_LAWFUL, kNextMonth),
                                      "v-a", 1),
      StatusIs(absl::StatusCode::kNotFound,
               "village v-a is not on the SAFE_LAWFUL board of region t1 for "
               "2022-10"));
}

// --- Snapshots ---------------------------------------------------------------

v1::LeaderboardSnapshot SnapshotOf(const std::string& region) {
  v1::LeaderboardSnapshot snapshot;
  snapshot.set_region_id(region);
  snapshot.set_period(kMonth);
  snapshot.set_creator("operator-t1");
  *snapshot.mutable_create_time() = At(1664700000);
  snapshot.set_comment("September meeting");
  snapshot.set_total_villages(99);  // the store's to set
  return snapshot;
}

TYPED_TEST(SqlScoringStoreTest, FrozenBoardsNeverChangeAfterwards) {
  this->RecordTiedTownship();
  this->Record({Rec("v-f", kMonth, "t2", {0, 0, 0, 70, 0}, 0b01000)});
  const std::vector<Row> live_overall = this->WholeBoard(Board("t1"));
  const std::vector<Row> live_industry =
      this->WholeBoard(Board("t1", INDUSTRY_THRIVING));
  ASSERT_OK_AND_ASSIGN(v1::LeaderboardSnapshot frozen,
                       this->store_->FreezeBoards(SnapshotOf("t1")));
  EXPECT_EQ(frozen.total_villages(), 5);
  EXPECT_EQ(frozen.creator(), "operator-t1");
  EXPECT_EQ(frozen.comment(), "September meeting");
  EXPECT_EQ(frozen.create_time(), At(1664700000));

  // Later evaluations: one village overtakes, one joins, one moves away.
  this->Record({Overall("v-e", "d1", 5, 500), Overall("v-g", "d2", 4, 10),
                Overall("v-a", "t2", 3, 200)});
  EXPECT_NE(this->WholeBoard(Board("t1")), live_overall);
  EXPECT_EQ(this->FrozenBoard(Board("t1")), live_overall);
  EXPECT_EQ(this->FrozenBoard(Board("t1", INDUSTRY_THRIVING)), live_industry);
  EXPECT_THAT(this->FrozenBoard(Board("t1")),
              ElementsAre(Row{1, "v-a", 3, 200}, Row{2, "v-b", 2, 150},
                          Row{2, "v-c", 2, 150}, Row{4, "v-d", 2, 100},
                          Row{5, "v-e", 1, 300}));
  ASSERT_OK_AND_ASSIGN(BoardSlice page,
                       this->store_->ReadFrozenBoard(Board("t1"), 1, 2));
  EXPECT_EQ(page.total, 5);
  EXPECT_THAT(Ids(page.entries), ElementsAre("v-b", "v-c"));

  EXPECT_THAT(this->store_->FreezeBoards(SnapshotOf("t1")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "the boards of region t1 for 2022-09 are already "
                       "frozen"));
  this->Open();
  ASSERT_OK_AND_ASSIGN(v1::LeaderboardSnapshot again,
                       this->store_->GetSnapshot("t1", kMonth));
  EXPECT_EQ(again.total_villages(), 5);
  EXPECT_EQ(again.creator(), "operator-t1");
  EXPECT_EQ(this->FrozenBoard(Board("t1")), live_overall);
}

TYPED_TEST(SqlScoringStoreTest, FrozenPerStarBoardsKeepTheirOwnRanks) {
  this->Record({Rec("v1", kMonth, "d1", {90, 10, 0, 40, 0}, 0b00001),
                Rec("v2", kMonth, "d1", {10, 10, 0, 70, 0}, 0b01000),
                Rec("v3", kMonth, "d2", {50, 10, 0, 70, 0}, 0b01011)});
  ASSERT_OK(this->store_->FreezeBoards(SnapshotOf("t1")));
  this->Record({Rec("v1", kMonth, "d1", {90, 10, 0, 99, 0}, 0b01001)});
  EXPECT_THAT(this->FrozenBoard(Board("t1", SAFE_LAWFUL)),
              ElementsAre(Row{1, "v2", 1, 70}, Row{1, "v3", 1, 70},
                          Row{3, "v1", 0, 40}));
  EXPECT_THAT(this->WholeBoard(Board("t1", SAFE_LAWFUL)),
              ElementsAre(Row{1, "v1", 1, 99}, Row{2, "v2", 1, 70},
                          Row{2, "v3", 1, 70}));
}

TYPED_TEST(SqlScoringStoreTest, BoardsNeverFrozenAreNotFound) {
  this->RecordTiedTownship();
  ASSERT_OK(this->store_->FreezeBoards(SnapshotOf("d1")));
  EXPECT_THAT(this->store_->GetSnapshot("t1", kMonth),
              StatusIs(absl::StatusCode::kNotFound,
                       "the boards of region t1 for 2022-09 were never "
                       "frozen"));
  EXPECT_THAT(this->store_->ReadFrozenBoard(Board("t1"), 0, 10),
              StatusIs(absl::StatusCode::kNotFound, "were never frozen"));
  EXPECT_THAT(this->store_->ReadFrozenBoard(
                  Board("d1", STAR_UNSPECIFIED, kNextMonth), 0, 10),
              StatusIs(absl::StatusCode::kNotFound, "were never frozen"));
  EXPECT_THAT(this->FrozenBoard(Board("d1")),
              ElementsAre(Row{1, "v-c", 2, 150}, Row{2, "v-d", 2, 100},
                          Row{3, "v-e", 1, 300}));
  // An empty region freezes too: its boards are empty.
  ASSERT_OK_AND_ASSIGN(v1::LeaderboardSnapshot empty,
                       this->store_->FreezeBoards(SnapshotOf("t2")));
  EXPECT_EQ(empty.total_villages(), 0);
  EXPECT_THAT(this->FrozenBoard(Board("t2")), IsEmpty());
}

// --- Awards ------------------------------------------------------------------

TYPED_TEST(SqlScoringStoreTest, CreatedAwardHasIdEtagAndCreatingEvent) {
  ASSERT_OK_AND_ASSIGN(
      v1::Award award,
      this->store_->CreateAward(
          NewAward("v1", BRANCH_STRONG), Lineage("v1", "d1"),
          Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED), {}));
  EXPECT_THAT(award.id(), MatchesRegex("aw-[0-9a-f]{20}"));
  EXPECT_EQ(award.etag(), "1-1664600000000000");
  EXPECT_EQ(award.state(), v1::APPLIED);
  EXPECT_EQ(award.create_time(), At(1664600000));
  ASSERT_OK_AND_ASSIGN(StoredAward stored, this->store_->GetAward(award.id()));
  EXPECT_EQ(stored.award.SerializeAsString(), award.SerializeAsString());
  EXPECT_EQ(stored.lineage, Lineage("v1", "d1"));
  ASSERT_OK_AND_ASSIGN(auto events, this->store_->ListAwardEvents({}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence(), 1);
  EXPECT_EQ(events[0].award_id(), award.id());
  EXPECT_EQ(events[0].village_id(), "v1");
  EXPECT_EQ(events[0].star(), BRANCH_STRONG);
  EXPECT_EQ(events[0].to_state(), v1::APPLIED);
  EXPECT_THAT(this->store_->GetAward("aw-none"),
              StatusIs(absl::StatusCode::kNotFound, "award aw-none not found"));
}

TYPED_TEST(SqlScoringStoreTest, OpenApplicationOrHeldStarBlocksAnother) {
  const v1::AwardEvent created =
      Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED);
  ASSERT_OK_AND_ASSIGN(v1::Award first, this->store_->CreateAward(
                                            NewAward("v1", BRANCH_STRONG),
                                            Lineage("v1", "d1"), created, {}));
  EXPECT_THAT(
      this->store_->CreateAward(NewAward("v1", BRANCH_STRONG),
                                Lineage("v1", "d1"), created, {}),
      StatusIs(absl::StatusCode::kAlreadyExists,
               absl::StrCat("village v1 already has an open application for "
                            "star BRANCH_STRONG (award ",
                            first.id(), ", APPLIED)")));
  // Another star, or another village, is free.
  ASSERT_OK(this->store_->CreateAward(NewAward("v1", SAFE_LAWFUL),
                                      Lineage("v1", "d1"), created, {}));
  ASSERT_OK(this->store_->CreateAward(NewAward("v2", BRANCH_STRONG),
                                      Lineage("v2", "d1"), created, {}));
  ASSERT_OK_AND_ASSIGN(
      v1::Award held,
      this->store_->CreateAward(
          NewAward("v3", BRANCH_STRONG, v1::AWARDED), Lineage("v3", "t2"),
          Event(v1::AWARD_STATE_UNSPECIFIED, v1::AWARDED), {}));
  EXPECT_THAT(
      this->store_->CreateAward(NewAward("v3", BRANCH_STRONG),
                                Lineage("v3", "t2"), created, {}),
      StatusIs(absl::StatusCode::kAlreadyExists,
               absl::StrCat("village v3 already holds star BRANCH_STRONG "
                            "(award ",
                            held.id(), ")")));
  // A closed award frees the star for a new application.
  ASSERT_OK(this->store_->TransitionAward(
      Move(first, v1::WITHDRAWN, 1664610000, first.etag())));
  ASSERT_OK(this->store_->CreateAward(NewAward("v1", BRANCH_STRONG),
                                      Lineage("v1", "d1"), created, {}));
  ASSERT_OK_AND_ASSIGN(auto events, this->store_->ListAwardEvents({}));
  EXPECT_EQ(events.size(), 6u);
}

TYPED_TEST(SqlScoringStoreTest, RequestIdReturnsTheFirstAwardOrConflicts) {
  const v1::AwardEvent created =
      Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED);
  ASSERT_OK_AND_ASSIGN(v1::Award first,
                       this->store_->CreateAward(NewAward("v1", BRANCH_STRONG),
                                                 Lineage("v1", "d1"), created,
                                                 {"req-1", "fp-1"}));
  this->Open();
  ASSERT_OK_AND_ASSIGN(v1::Award retry,
                       this->store_->CreateAward(NewAward("v1", BRANCH_STRONG),
                                                 Lineage("v1", "d1"), created,
                                                 {"req-1", "fp-1"}));
  EXPECT_EQ(retry.id(), first.id());
  EXPECT_EQ(retry.etag(), first.etag());
  EXPECT_THAT(
      this->store_->CreateAward(NewAward("v1", SAFE_LAWFUL),
                                Lineage("v1", "d1"), created,
                                {"req-1", "fp-2"}),
      StatusIs(absl::StatusCode::kAlreadyExists,
               absl::StrCat("request_id req-1 was already used for award ",
                            first.id(), " with a different request")));
  ASSERT_OK_AND_ASSIGN(auto awards, this->store_->ListAwards({}));
  EXPECT_EQ(awards.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto events, this->store_->ListAwardEvents({}));
  EXPECT_EQ(events.size(), 1u);
}

TYPED_TEST(SqlScoringStoreTest, TransitionsCheckEtagThenStateAndAppendEvents) {
  ASSERT_OK_AND_ASSIGN(
      v1::Award applied,
      this->store_->CreateAward(
          NewAward("v1", BRANCH_STRONG), Lineage("v1", "d1"),
          Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED), {}));
  ASSERT_OK_AND_ASSIGN(v1::Award reviewed, this->store_->TransitionAward(Move(
                                               applied, v1::TOWNSHIP_REVIEWED,
                                               1664610000, applied.etag())));
  EXPECT_EQ(reviewed.state(), v1::TOWNSHIP_REVIEWED);
  EXPECT_EQ(reviewed.etag(), "2-1664610000000000");
  EXPECT_EQ(reviewed.create_time(), At(1664600000));
  EXPECT_EQ(reviewed.update_time(), At(1664610000));

  // A stale etag loses, whatever the state says.
  EXPECT_THAT(this->store_->TransitionAward(
                  Move(applied, v1::REJECTED, 1664620000, applied.etag())),
              StatusIs(absl::StatusCode::kAborted,
                       absl::StrCat("award ", applied.id(),
                                    " was changed by someone else (etag "
                                    "mismatch)")));
  // Without an etag, the state decides: the other reviewer's APPLIED is
  // gone.
  EXPECT_THAT(this->store_->TransitionAward(
                  Move(applied, v1::REJECTED, 1664620000, "")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("award ", applied.id(),
                                    " is TOWNSHIP_REVIEWED, not APPLIED")));
  // The same update time still gives a new etag.
  ASSERT_OK_AND_ASSIGN(v1::Award approved, this->store_->TransitionAward(Move(
                                               reviewed, v1::COUNTY_APPROVED,
                                               1664610000, reviewed.etag())));
  EXPECT_EQ(approved.etag(), "3-1664610000000000");
  EXPECT_THAT(this->store_->TransitionAward(
                  Move(approved, v1::PUBLIC_NOTICE, 1664630000, "bogus")),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  AwardTransition missing = Move(approved, v1::PUBLIC_NOTICE, 1664630000, "");
  missing.award.set_id("aw-none");
  EXPECT_THAT(this->store_->TransitionAward(missing),
              StatusIs(absl::StatusCode::kNotFound, "award aw-none not found"));

  this->Open();
  ASSERT_OK_AND_ASSIGN(StoredAward stored,
                       this->store_->GetAward(applied.id()));
  EXPECT_EQ(stored.award.state(), v1::COUNTY_APPROVED);
  EXPECT_EQ(stored.award.etag(), approved.etag());
  ASSERT_OK_AND_ASSIGN(auto events, this->store_->ListAwardEvents({}));
  ASSERT_EQ(events.size(), 3u);
  std::vector<std::tuple<int64_t, v1::AwardState, v1::AwardState>> trail;
  for (const v1::AwardEvent& event : events) {
    trail.emplace_back(event.sequence(), event.from_state(), event.to_state());
    EXPECT_EQ(event.award_id(), applied.id());
  }
  EXPECT_THAT(
      trail,
      ElementsAre(
          std::make_tuple(1, v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED),
          std::make_tuple(2, v1::APPLIED, v1::TOWNSHIP_REVIEWED),
          std::make_tuple(3, v1::TOWNSHIP_REVIEWED, v1::COUNTY_APPROVED)));
  EXPECT_EQ(events[1].event_time(), At(1664610000));
}

// Awards of villages v1 (d1), v2 (t2), v3 (t3), some stars each, created in
// an order unlike list order; returns their ids in list order.
std::vector<std::string> CreateSpreadAwards(ScoringStore& store) {
  const v1::AwardEvent created =
      Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED);
  const std::vector<std::tuple<std::string, std::string, Star, v1::AwardState>>
      awards = {{"v2", "t2", SAFE_LAWFUL, v1::APPLIED},
                {"v1", "d1", SAFE_LAWFUL, v1::AWARDED},
                {"v3", "t3", BRANCH_STRONG, v1::APPLIED},
                {"v1", "d1", BRANCH_STRONG, v1::APPLIED},
                {"v2", "t2", BRANCH_STRONG, v1::AWARDED}};
  std::map<std::tuple<std::string, int>, std::string> ids;
  for (const auto& [village, parent, star, state] : awards) {
    auto award = store.CreateAward(NewAward(village, star, state),
                                   Lineage(village, parent), created, {});
    EXPECT_OK(award);
    if (award.ok()) ids[{village, static_cast<int>(star)}] = award->id();
  }
  std::vector<std::string> out;
  for (const auto& [key, id] : ids) out.push_back(id);
  return out;
}

std::vector<std::string> AwardIds(const std::vector<StoredAward>& awards) {
  std::vector<std::string> out;
  for (const StoredAward& award : awards) out.push_back(award.award.id());
  return out;
}

TYPED_TEST(SqlScoringStoreTest, AwardsListByVillageStarAndCreationInPages) {
  const std::vector<std::string> ids = CreateSpreadAwards(*this->store_);
  ASSERT_EQ(ids.size(), 5u);
  // A second, later award of v1's BRANCH_STRONG lists after the first.
  ASSERT_OK_AND_ASSIGN(StoredAward v1_branch, this->store_->GetAward(ids[0]));
  ASSERT_OK(this->store_->TransitionAward(
      Move(v1_branch.award, v1::REJECTED, 1664610000, "")));
  ASSERT_OK_AND_ASSIGN(
      v1::Award again,
      this->store_->CreateAward(
          NewAward("v1", BRANCH_STRONG), Lineage("v1", "d1"),
          Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED), {}));
  std::vector<std::string> order = ids;
  order.insert(order.begin() + 1, again.id());

  ASSERT_OK_AND_ASSIGN(auto all, this->store_->ListAwards({}));
  EXPECT_EQ(AwardIds(all), order);

  AwardQuery query;
  query.limit = 4;
  ASSERT_OK_AND_ASSIGN(auto page, this->store_->ListAwards(query));
  EXPECT_EQ(AwardIds(page),
            std::vector<std::string>(order.begin(), order.begin() + 4));
  query.after = page.back().position;
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListAwards(query));
  EXPECT_EQ(AwardIds(page),
            std::vector<std::string>(order.begin() + 4, order.end()));
  query.after = page.back().position;
  ASSERT_OK_AND_ASSIGN(page, this->store_->ListAwards(query));
  EXPECT_THAT(page, IsEmpty());
  query.after = "not-a-position";
  EXPECT_THAT(this->store_->ListAwards(query),
              StatusIs(absl::StatusCode::kInvalidArgument, "after"));
}

TYPED_TEST(SqlScoringStoreTest, AwardFiltersCombine) {
  const std::vector<std::string> ids = CreateSpreadAwards(*this->store_);
  // ids: v1/BRANCH, v1/SAFE, v2/BRANCH, v2/SAFE, v3/BRANCH.
  AwardQuery query;
  query.village_id = "v2";
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)),
              ElementsAre(ids[2], ids[3]));
  query = {};
  query.ancestor_region_id = "k1";
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)),
              ElementsAre(ids[0], ids[1], ids[2], ids[3]));
  query.star = BRANCH_STRONG;
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)),
              ElementsAre(ids[0], ids[2]));
  query.state = v1::AWARDED;
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)), ElementsAre(ids[2]));
  query = {};
  query.ancestor_region_id = "d1";
  query.state = v1::APPLIED;
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)), ElementsAre(ids[0]));
  query.ancestor_region_id = "t1";  // d1's township, from the lineage
  EXPECT_THAT(AwardIds(*this->store_->ListAwards(query)), ElementsAre(ids[0]));
}

TYPED_TEST(SqlScoringStoreTest, AwardEventsFilterAndPageBySequence) {
  const std::vector<std::string> ids = CreateSpreadAwards(*this->store_);
  ASSERT_OK_AND_ASSIGN(StoredAward v3_branch, this->store_->GetAward(ids[4]));
  ASSERT_OK(this->store_->TransitionAward(
      Move(v3_branch.award, v1::TOWNSHIP_REVIEWED, 1664610000, "")));
  auto sequences = [](const std::vector<v1::AwardEvent>& events) {
    std::vector<int64_t> out;
    for (const v1::AwardEvent& event : events) out.push_back(event.sequence());
    return out;
  };
  ASSERT_OK_AND_ASSIGN(auto all, this->store_->ListAwardEvents({}));
  EXPECT_THAT(sequences(all), ElementsAre(1, 2, 3, 4, 5, 6));
  AwardEventQuery query;
  query.after_sequence = 2;
  query.limit = 2;
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)),
              ElementsAre(3, 4));
  query = {};
  query.award_id = ids[4];
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)),
              ElementsAre(3, 6));
  query = {};
  query.village_id = "v1";
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)),
              ElementsAre(2, 4));
  query = {};
  query.ancestor_region_id = "k2";
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)),
              ElementsAre(3, 6));
  query.ancestor_region_id = "c1";
  query.after_sequence = 4;
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)),
              ElementsAre(5, 6));
  query.award_id = ids[0];
  EXPECT_THAT(sequences(*this->store_->ListAwardEvents(query)), IsEmpty());
}

TYPED_TEST(SqlScoringStoreTest, CountsVillagesAtALevelBelowARegion) {
  const v1::AwardEvent recorded =
      Event(v1::AWARD_STATE_UNSPECIFIED, v1::AWARDED);
  // v1 (d1): 2 stars; v2 (d2): 1 star and an application; v3 (t2): 3 stars
  // of which one withdrawn; v4 (t3): 1 star.
  struct Held {
    std::string village, parent;
    Star star;
    v1::AwardState state;
  };
  const std::vector<Held> held = {
      {"v1", "d1", BRANCH_STRONG, v1::AWARDED},
      {"v1", "d1", SAFE_LAWFUL, v1::AWARDED},
      {"v2", "d2", BRANCH_STRONG, v1::AWARDED},
      {"v2", "d2", SAFE_LAWFUL, v1::COUNTY_APPROVED},
      {"v3", "t2", BRANCH_STRONG, v1::AWARDED},
      {"v3", "t2", SAFE_LAWFUL, v1::AWARDED},
      {"v3", "t2", CIVILIZED_HAPPY, v1::AWARDED},
      {"v4", "t3", BRANCH_STRONG, v1::AWARDED},
      {"v5", "d1", BRANCH_STRONG, v1::APPLIED}};
  for (const Held& h : held) {
    ASSERT_OK(this->store_->CreateAward(NewAward(h.village, h.star, h.state),
                                        Lineage(h.village, h.parent), recorded,
                                        {}));
  }
  ASSERT_OK_AND_ASSIGN(auto v3,
                       this->store_->ListAwards(
                           {"v3", "", CIVILIZED_HAPPY, v1::AWARDED, "", 10}));
  ASSERT_EQ(v3.size(), 1u);
  ASSERT_OK(this->store_->TransitionAward(
      Move(v3[0].award, v1::WITHDRAWN, 1664610000, "")));

  EXPECT_THAT(this->store_->CountVillagesAtLevel("k1", 1, ""),
              ::fivestar::testing::IsOkAndHolds(3));
  EXPECT_THAT(this->store_->CountVillagesAtLevel("k1", 2, ""),
              ::fivestar::testing::IsOkAndHolds(2));
  EXPECT_THAT(this->store_->CountVillagesAtLevel("k1", 3, ""),
              ::fivestar::testing::IsOkAndHolds(0));
  EXPECT_THAT(this->store_->CountVillagesAtLevel("t1", 2, ""),
              ::fivestar::testing::IsOkAndHolds(1));
  // v2's approval would lift it to two stars.
  EXPECT_THAT(this->store_->CountVillagesAtLevel("t1", 2, "v2"),
              ::fivestar::testing::IsOkAndHolds(2));
  EXPECT_THAT(this->store_->CountVillagesAtLevel("k1", 3, "v1"),
              ::fivestar::testing::IsOkAndHolds(1));
  // v5 holds nothing yet: its first star makes it level 1.
  EXPECT_THAT(this->store_->CountVillagesAtLevel("d1", 1, "v5"),
              ::fivestar::testing::IsOkAndHolds(2));
  // A village not below the region is not counted, extra or not.
  EXPECT_THAT(this->store_->CountVillagesAtLevel("k2", 1, "v1"),
              ::fivestar::testing::IsOkAndHolds(1));
  EXPECT_THAT(this->store_->CountVillagesAtLevel("p1", 1, ""),
              ::fivestar::testing::IsOkAndHolds(4));
}

// --- Concurrent writers
// -------------------------------------------------------

// Writers racing through the pool (several in one group commit) still see
// each other's work: versions are distinct, one application wins, one
// transition from an etag wins.
TYPED_TEST(SqlScoringStoreTest, ConcurrentWritersSerializeThroughThePool) {
  constexpr int kThreads = 8;
  std::vector<int> versions(kThreads * 3);
  std::vector<absl::StatusCode> applied(kThreads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 3; ++i) {
          auto rubric = this->store_->CreateRubric(NamedRubric("r"), false);
          versions[t * 3 + i] = rubric.ok() ? rubric->version() : -1;
        }
        applied[t] =
            this->store_
                ->CreateAward(
                    NewAward("v1", BRANCH_STRONG), Lineage("v1", "d1"),
                    Event(v1::AWARD_STATE_UNSPECIFIED, v1::APPLIED), {})
                .status()
                .code();
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  std::sort(versions.begin(), versions.end());
  std::vector<int> expected(kThreads * 3);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(versions, expected);
  EXPECT_EQ(std::count(applied.begin(), applied.end(), absl::StatusCode::kOk),
            1);
  EXPECT_EQ(std::count(applied.begin(), applied.end(),
                       absl::StatusCode::kAlreadyExists),
            kThreads - 1);

  ASSERT_OK_AND_ASSIGN(auto awards, this->store_->ListAwards({}));
  ASSERT_EQ(awards.size(), 1u);
  const v1::Award award = awards[0].award;
  std::vector<absl::StatusCode> moved(kThreads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        moved[t] = this->store_
                       ->TransitionAward(Move(award, v1::TOWNSHIP_REVIEWED,
                                              1664610000 + t, award.etag()))
                       .status()
                       .code();
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  EXPECT_EQ(std::count(moved.begin(), moved.end(), absl::StatusCode::kOk), 1);
  EXPECT_EQ(std::count(moved.begin(), moved.end(), absl::StatusCode::kAborted),
            kThreads - 1);
  ASSERT_OK_AND_ASSIGN(auto events, this->store_->ListAwardEvents({}));
  EXPECT_EQ(events.size(), 2u);
}

// --- Cursors -----------------------------------------------------------------

TYPED_TEST(SqlScoringStoreTest, CursorsStartEmptyAndPersistPerFeed) {
  ASSERT_OK_AND_ASSIGN(FeedCursor none, this->store_->GetCursor("registry"));
  EXPECT_EQ(none.feed_id, "");
  EXPECT_EQ(none.sequence, 0u);
  ASSERT_OK(this->store_->SetCursor({"registry", {"reg-1", 40}, std::nullopt}));
  ASSERT_OK(this->store_->SetCursor({"projects", {"proj-1", 7}, std::nullopt}));
  ASSERT_OK(this->store_->SetCursor({"registry", {"reg-2", 3}, std::nullopt}));
  this->Open();
  ASSERT_OK_AND_ASSIGN(FeedCursor registry,
                       this->store_->GetCursor("registry"));
  EXPECT_EQ(registry.feed_id, "reg-2");
  EXPECT_EQ(registry.sequence, 3u);
  ASSERT_OK_AND_ASSIGN(FeedCursor projects,
                       this->store_->GetCursor("projects"));
  EXPECT_EQ(projects.feed_id, "proj-1");
  EXPECT_EQ(projects.sequence, 7u);
}

// A batch fenced by the cursor it began from is written only while the
// stored cursor is still that one: a second follower that applied the
// range first wins, and the late one's results and cursor are not written.
TYPED_TEST(SqlScoringStoreTest, AFencedBatchIsRefusedOnceTheCursorMoved) {
  ASSERT_OK(
      this->store_->RecordEvaluations({Overall("v1", "d1", 1, 60)}, Cursor(3)));
  // Another follower applied 3..5 first.
  CursorUpdate first = Cursor(5);
  first.expected = FeedCursor{"feed-a", 3};
  ASSERT_OK(
      this->store_->RecordEvaluations({Overall("v1", "d1", 2, 80)}, first));
  // The late one, which also began at 3.
  CursorUpdate late = Cursor(6);
  late.expected = FeedCursor{"feed-a", 3};
  EXPECT_THAT(
      this->store_->RecordEvaluations(
          {Overall("v1", "d1", 5, 500), Overall("v2", "d2", 2, 100)}, late),
      StatusIs(absl::StatusCode::kAborted,
               "feed projects: the stored cursor is at 5 of feed \"feed-a\", "
               "not at 3 of \"feed-a\" where this batch began"));
  EXPECT_THAT(
      this->store_->SetCursor(late),
      StatusIs(absl::StatusCode::kAborted, "another follower applied it"));
  CursorUpdate removal = Cursor(6);
  removal.expected = FeedCursor{"feed-a", 4};
  EXPECT_THAT(
      this->store_->RemoveVillage("v1", removal),
      StatusIs(absl::StatusCode::kAborted, "another follower applied it"));
  this->Open();
  ASSERT_OK_AND_ASSIGN(FeedCursor cursor, this->store_->GetCursor("projects"));
  EXPECT_EQ(cursor.sequence, 5u);
  EXPECT_THAT(this->store_->GetEvaluation("v2", kMonth),
              StatusIs(absl::StatusCode::kNotFound, "v2"));
  EXPECT_THAT(this->WholeBoard(Board("t1")), ElementsAre(Row{1, "v1", 2, 80}));

  // A first batch expects the empty cursor of a feed never stored, and a
  // feed that starts over (another feed id) is told apart.
  CursorUpdate fresh{"registry", {"reg-1", 2}, FeedCursor{}};
  ASSERT_OK(this->store_->SetCursor(fresh));
  CursorUpdate other_feed{"registry", {"reg-2", 9}, FeedCursor{"reg-2", 2}};
  EXPECT_THAT(
      this->store_->SetCursor(other_feed),
      StatusIs(absl::StatusCode::kAborted, "another follower applied it"));
  CursorUpdate next{"registry", {"reg-1", 4}, FeedCursor{"reg-1", 2}};
  EXPECT_OK(this->store_->SetCursor(next));
}

// --- Rebuilding the cached boards --------------------------------------------

// Leaderboards::RebuildBoardsUnder against a real Redis: the boards under
// the named top regions are rebuilt from the store, the others are left
// as they are.
template <typename Engine>
class BoardRebuildTest : public SqlScoringStoreTest<Engine> {
 protected:
  void SetUp() override {
    SqlScoringStoreTest<Engine>::SetUp();
    ASSERT_OK_AND_ASSIGN(redis_, ::fivestar::testing::RedisServer::Start());
    RedisOptions options;
    options.port = redis_->port();
    options.probe_interval = absl::Milliseconds(50);
    options.key_prefix = "rebuild";
    cache_ = std::make_unique<RedisBoardCache>(options);
    cache_->Start();
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!cache_->available() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_TRUE(cache_->available());
    boards_ = std::make_unique<Leaderboards>(this->store_.get(), cache_.get(),
                                             nullptr, nullptr, &this->clock_);
  }
  void TearDown() override { cache_->Stop(); }

  // The ids on a board as Redis holds it.
  std::vector<std::string> Cached(const BoardKey& board) {
    absl::StatusOr<BoardSlice> slice = cache_->ReadBoard(board, 0, 100);
    EXPECT_OK(slice);
    return slice.ok() ? Ids(slice->entries) : std::vector<std::string>();
  }

  std::unique_ptr<::fivestar::testing::RedisServer> redis_;
  std::unique_ptr<RedisBoardCache> cache_;
  std::unique_ptr<Leaderboards> boards_;
};
TYPED_TEST_SUITE(BoardRebuildTest, fivestar::testing::SqlEngines,
                 fivestar::testing::SqlEngineNames);

TYPED_TEST(BoardRebuildTest, OnlyTheBoardsUnderTheNamedTopsAreRebuilt) {
  this->Record({Overall("v1", "t2", 2, 100), Overall("v2", "t3", 1, 60),
                Overall("v8", "t9", 3, 10), Overall("v9", "t9", 1, 90)});
  this->boards_->RebuildBoardsUnder(kMonth, {"p1", "p2"});
  EXPECT_THAT(this->Cached(Board("p1")), ElementsAre("v1", "v2"));
  EXPECT_THAT(this->Cached(Board("p2")), ElementsAre("v8", "v9"));

  // The store changes in both provinces; only p1 is rebuilt.
  this->Record({Overall("v2", "t3", 3, 60), Overall("v9", "t9", 4, 90)});
  this->boards_->RebuildBoardsUnder(kMonth, {"p1"});
  EXPECT_THAT(this->Cached(Board("p1")), ElementsAre("v2", "v1"));
  EXPECT_THAT(this->Cached(Board("k2")), ElementsAre("v2"));
  EXPECT_THAT(this->Cached(Board("p2")), ElementsAre("v8", "v9"));
  EXPECT_THAT(this->Cached(Board("t9")), ElementsAre("v8", "v9"));
  this->boards_->RebuildBoardsUnder(kMonth, {"p2"});
  EXPECT_THAT(this->Cached(Board("p2")), ElementsAre("v9", "v8"));

  // A village that moved across provinces: the rebuild of both tops (its
  // old and new lineage's) takes it off the old boards.
  this->Record({Overall("v8", "t2", 3, 10)});
  this->boards_->RebuildBoardsUnder(kMonth, {"p1", "p2"});
  EXPECT_THAT(this->Cached(Board("p1")), ElementsAre("v2", "v8", "v1"));
  EXPECT_THAT(this->Cached(Board("p2")), ElementsAre("v9"));
  EXPECT_THAT(this->Cached(Board("t9")), ElementsAre("v9"));
  EXPECT_EQ(this->cache_->ReadBoard(Board("p1"), 0, 0)->total, 3);
}

TYPED_TEST(BoardRebuildTest, AResyncRebuildsEveryTopOfEveryMonth) {
  this->Record({Overall("v1", "t2", 2, 100), Overall("v8", "t9", 3, 10),
                Overall("v9", "t9", 1, 90),
                Overall("v2", "t3", 1, 5, kNextMonth)});
  ASSERT_OK(this->boards_->Resync());
  EXPECT_THAT(this->Cached(Board("p1")), ElementsAre("v1"));
  EXPECT_THAT(this->Cached(Board("k9")), ElementsAre("v8", "v9"));
  EXPECT_THAT(this->Cached(Board("p2")), ElementsAre("v8", "v9"));
  EXPECT_THAT(this->Cached(Board("p1", STAR_UNSPECIFIED, kNextMonth)),
              ElementsAre("v2"));
  EXPECT_THAT(this->Cached(Board("p2", STAR_UNSPECIFIED, kNextMonth)),
              IsEmpty());
}

}  // namespace
}  // namespace fivestar::scoring
