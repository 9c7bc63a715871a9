// The projects store on its own, on both engines (SQLite and a real
// PostgreSQL): the change feed is written with each
// change and only then (failed and dry-run writes leave no sequence behind),
// the commit observer hears of commits only, and data and feed identity
// survive reopening the database; indicator values of a long list of villages
// page correctly across the statements they are read in.
#include "services/projects/sql_projects_store.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "tests/testing/sql_engines.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;

constexpr char kPath[] =
    "/410000/411300/411323/411323-huiche/"
    "411323-huiche-west/411323-huiche-west-01/";

Project NewProject() {
  Project project;
  project.set_village_id("411323-huiche-west-01");
  project.set_title("road");
  project.set_star(fivestar::common::v1::BRANCH_STRONG);
  project.set_target_quantity(10);
  project.set_unit("m");
  project.set_start_date("2022-03-01");
  project.set_due_date("2022-12-31");
  project.set_status(v1::PLANNED);
  return project;
}

template <typename Engine>
class SqlProjectsStoreTest : public ::testing::Test {
 protected:
  using Store = SqlProjectsStore<typename Engine::Pool>;

  void SetUp() override {
    ASSERT_OK(Reopen());
    store_->SetCommitObserver(
        [this](uint64_t newest) { observed_.push_back(newest); });
  }

  // Closes the store (if open) and opens it again on the same database.
  absl::Status Reopen() {
    store_.reset();
    ASSIGN_OR_RETURN(std::string database, engine_.Database());
    ASSIGN_OR_RETURN(store_, Store::Open(database, &clock_));
    return absl::OkStatus();
  }

  // KeepFiguresAsync, waiting for its write.
  absl::Status Keep(const std::string& window, uint64_t seen,
                    std::vector<KeptFigures> figures) {
    absl::Notification written;
    absl::Status out;
    store_->KeepFiguresAsync(window, seen, std::move(figures),
                             [&](absl::Status status) {
                               out = std::move(status);
                               written.Notify();
                             });
    written.WaitForNotification();
    return out;
  }

  // The kept figures of `villages` for `window`, as "village=figures".
  std::vector<std::string> Kept(const std::string& window,
                                const std::vector<std::string>& villages) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<KeptFigures>> kept =
        store_->ReadKeptFigures(window, villages);
    EXPECT_OK(kept);
    if (!kept.ok()) return out;
    for (const KeptFigures& village : *kept) {
      out.push_back(absl::StrCat(village.village_id, "=", village.figures));
    }
    return out;
  }

  std::vector<uint64_t> AllSequences() {
    std::vector<uint64_t> out;
    auto batch = store_->ReadChanges(0, {}, 1000);
    EXPECT_OK(batch);
    if (batch.ok()) {
      for (const Change& change : batch->changes) {
        out.push_back(change.sequence());
      }
    }
    return out;
  }

  Engine engine_;
  FakeClock clock_{absl::FromUnixSeconds(1665194400)};
  std::unique_ptr<Store> store_;
  std::vector<uint64_t> observed_;
};
TYPED_TEST_SUITE(SqlProjectsStoreTest, fivestar::testing::SqlEngines,
                 fivestar::testing::SqlEngineNames);

TEST(LineagePathTest, RunsFromTheRootToTheVillage) {
  EXPECT_EQ(LineagePath({"v", "district", "township", "root"}),
            "/root/township/district/v/");
  EXPECT_EQ(PathComponent("district"), "/district/");
}

TYPED_TEST(SqlProjectsStoreTest, FailedWritesLeaveNoSequenceBehind) {
  ASSERT_OK_AND_ASSIGN(
      Project project,
      this->store_->CreateProject(NewProject(), {"key-1", "f1"}, kPath));
  EXPECT_THAT(this->store_->CreateProject(NewProject(), {"key-1", "f2"}, kPath),
              StatusIs(absl::StatusCode::kAlreadyExists, "key-1"));
  Project changed = project;
  changed.set_title("other road");
  EXPECT_THAT(this->store_->UpdateProject(changed, "1-0", kPath),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  ProgressReport report;
  report.set_project_id(project.id());
  report.set_quantity(5);
  *report.mutable_report_time() = project.create_time();
  Project after_report = project;
  after_report.set_delivered_quantity(5);
  after_report.set_report_count(1);
  after_report.set_status(v1::IN_PROGRESS);
  ASSERT_OK(this->store_->AppendReport(report, {"r-1", "fr"}, after_report,
                                       project.etag(), kPath));
  EXPECT_THAT(this->store_->AppendReport(report, {"r-2", "fr"}, after_report,
                                         project.etag(), kPath),
              StatusIs(absl::StatusCode::kAborted, "etag mismatch"));
  EXPECT_THAT(this->store_->DeleteProject(project.id(), "", kPath),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "cancel the project instead"));
  IndicatorDefinition grids;
  grids.set_key("grids");
  grids.set_kind(v1::STOCK);
  grids.set_max_value(100);
  ASSERT_OK(this->store_->InsertIndicatorDefinitionsIfAbsent({grids}));
  IndicatorWrite write;
  write.value.set_village_id("411323-huiche-west-01");
  write.value.set_indicator_key("grids");
  write.value.set_period("2022-09");
  write.value.set_value(11);
  write.village_path = kPath;
  ASSERT_OK_AND_ASSIGN(auto dry,
                       this->store_->SetIndicatorValues({write}, {}, true));
  EXPECT_EQ(dry.created(), 1);
  ASSERT_OK(this->store_->SetIndicatorValues({write}, {"v-1", "fv"}, false));

  EXPECT_EQ(this->AllSequences(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(this->observed_, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_OK_AND_ASSIGN(uint64_t newest, this->store_->NewestSequence());
  EXPECT_EQ(newest, 3u);
}

TYPED_TEST(SqlProjectsStoreTest, ReadChangesFiltersByPathAndReportsProgress) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(this->store_->CreateProject(NewProject(), {}, kPath));
  }
  Project elsewhere = NewProject();
  elsewhere.set_village_id("411323-other-01");
  ASSERT_OK(this->store_->CreateProject(elsewhere, {},
                                        "/410000/411300/411323/411323-other/"
                                        "411323-other-01/"));
  ASSERT_OK_AND_ASSIGN(
      auto west, this->store_->ReadChanges(0, {"/411323-huiche-west/"}, 2));
  ASSERT_EQ(west.changes.size(), 2u);
  EXPECT_EQ(west.scanned_through, 2u);  // A full page: resume after it.
  ASSERT_OK_AND_ASSIGN(
      auto rest, this->store_->ReadChanges(2, {"/411323-huiche-west/"}, 2));
  ASSERT_EQ(rest.changes.size(), 1u);
  EXPECT_EQ(rest.changes[0].sequence(), 3u);
  EXPECT_EQ(rest.scanned_through, 4u);  // Sequence 4 examined, skipped.
  ASSERT_OK_AND_ASSIGN(
      auto both,
      this->store_->ReadChanges(0, {"/411323/", "/411323-other-01/"}, 10));
  ASSERT_EQ(both.changes.size(), 1u);
  EXPECT_EQ(both.changes[0].village_id(), "411323-other-01");
}

TYPED_TEST(SqlProjectsStoreTest, ReopeningKeepsDataAndFeedIdentity) {
  ASSERT_OK_AND_ASSIGN(
      Project project,
      this->store_->CreateProject(NewProject(), {"key-1", "f1"}, kPath));
  ASSERT_OK_AND_ASSIGN(std::string feed_id, this->store_->FeedId());
  EXPECT_EQ(feed_id.size(), 32u);
  ASSERT_OK(this->Reopen());
  ASSERT_OK_AND_ASSIGN(std::string reopened_id, this->store_->FeedId());
  EXPECT_EQ(reopened_id, feed_id);
  ASSERT_OK_AND_ASSIGN(Project reread, this->store_->GetProject(project.id()));
  EXPECT_EQ(reread.SerializeAsString(), project.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(auto found, this->store_->FindProjectByRequest("key-1"));
  EXPECT_EQ(found.first.id(), project.id());
  EXPECT_EQ(found.second, "f1");
  ASSERT_OK_AND_ASSIGN(uint64_t newest, this->store_->NewestSequence());
  EXPECT_EQ(newest, 1u);

  // Another database has another feed.
  ASSERT_OK_AND_ASSIGN(std::string elsewhere, this->engine_.NewDatabase());
  ASSERT_OK_AND_ASSIGN(auto other,
                       TestFixture::Store::Open(elsewhere, &this->clock_));
  ASSERT_OK_AND_ASSIGN(std::string other_id, other->FeedId());
  EXPECT_NE(other_id, feed_id);
}

TYPED_TEST(SqlProjectsStoreTest, ValuesOfManyVillagesPageAcrossStatements) {
  IndicatorDefinition grids;
  grids.set_key("grids");
  grids.set_name_zh("网格数");
  grids.set_unit("grids");
  grids.set_kind(v1::STOCK);
  grids.set_max_value(10'000);
  ASSERT_OK(this->store_->CreateIndicatorDefinition(grids));
  // 1,200 villages (more than two statements' worth); every third one has
  // values for three months.
  std::vector<std::string> villages;
  std::vector<IndicatorWrite> writes;
  std::vector<std::string> expected;  // "village/period" in listing order.
  for (int i = 0; i < 1200; ++i) {
    villages.push_back(absl::StrFormat("v%04d", i));
    if (i % 3 != 0) continue;
    for (const char* period : {"2022-07", "2022-08", "2022-09"}) {
      IndicatorWrite& write = writes.emplace_back();
      write.value.set_village_id(villages.back());
      write.value.set_indicator_key("grids");
      write.value.set_period(period);
      write.value.set_value(i);
      write.village_path = absl::StrCat("/root/", villages.back(), "/");
      if (std::string(period) != "2022-07") {
        expected.push_back(absl::StrCat(villages.back(), "/", period));
      }
    }
  }
  // A value of a village outside the list never shows.
  IndicatorWrite& outside = writes.emplace_back();
  outside.value.set_village_id("v0001x");
  outside.value.set_indicator_key("grids");
  outside.value.set_period("2022-08");
  outside.village_path = "/root/v0001x/";
  ASSERT_OK(this->store_->SetIndicatorValues(writes, {}, /*dry_run=*/false));

  IndicatorValueQuery query;
  query.village_ids = villages;
  query.start_period = "2022-08";
  for (int limit : {7, 334, 1000}) {
    SCOPED_TRACE(absl::StrCat("limit ", limit));
    query.after_village_id.clear();
    query.after_key.clear();
    query.after_period.clear();
    query.limit = limit;
    std::vector<std::string> listed;
    for (int page = 0; page < 200; ++page) {
      ASSERT_OK_AND_ASSIGN(std::vector<IndicatorValue> values,
                           this->store_->ListIndicatorValues(query));
      ASSERT_LE(static_cast<int>(values.size()), limit);
      for (const IndicatorValue& value : values) {
        listed.push_back(absl::StrCat(value.village_id(), "/", value.period()));
      }
      if (static_cast<int>(values.size()) < limit) break;
      query.after_village_id = values.back().village_id();
      query.after_key = values.back().indicator_key();
      query.after_period = values.back().period();
    }
    EXPECT_EQ(listed, expected);
  }
  query.after_village_id.clear();
  query.after_key.clear();
  query.after_period.clear();
  query.limit = -1;
  ASSERT_OK_AND_ASSIGN(std::vector<IndicatorValue> all,
                       this->store_->ListIndicatorValues(query));
  EXPECT_EQ(all.size(), expected.size());

  std::swap(query.village_ids->front(), query.village_ids->back());
  EXPECT_THAT(this->store_->ListIndicatorValues(query),
              StatusIs(absl::StatusCode::kInternal, "ascending order"));
}

// Villages of the kept-figures tests: one with kPath's lineage, two others.
constexpr char kWest01[] = "411323-huiche-west-01";
constexpr char kOtherB[] = "v-b";
constexpr char kOtherC[] = "v-c";

TYPED_TEST(SqlProjectsStoreTest, KeptFiguresGoWithAnyWriteToTheirVillage) {
  auto& store = this->store_;
  const std::vector<std::string> all = {kWest01, kOtherB, kOtherC};
  ASSERT_OK_AND_ASSIGN(uint64_t seen, store->NewestSequence());
  ASSERT_OK(this->Keep("w1", seen, {{kWest01, "a1"}, {kOtherB, "b1"}}));
  ASSERT_OK(this->Keep("w2", seen, {{kWest01, "a2"}}));
  EXPECT_EQ(this->Kept("w1", all),
            (std::vector<std::string>{"411323-huiche-west-01=a1", "v-b=b1"}));
  EXPECT_EQ(this->Kept("w2", all),
            (std::vector<std::string>{"411323-huiche-west-01=a2"}));
  EXPECT_EQ(this->Kept("w3", all), std::vector<std::string>{});
  // Kept again: replaced.
  ASSERT_OK(this->Keep("w1", seen, {{kOtherB, "b1'"}}));
  EXPECT_EQ(this->Kept("w1", {kOtherB}), std::vector<std::string>{"v-b=b1'"});

  // A project of the village: its figures go, in every window.
  ASSERT_OK(store->CreateProject(NewProject(), {"key-1", "f1"}, kPath));
  EXPECT_EQ(this->Kept("w1", all), std::vector<std::string>{"v-b=b1'"});
  EXPECT_EQ(this->Kept("w2", all), std::vector<std::string>{});

  // A write refused leaves them (its transaction rolled back).
  ASSERT_OK_AND_ASSIGN(seen, store->NewestSequence());
  ASSERT_OK(this->Keep("w1", seen, {{kWest01, "a3"}}));
  EXPECT_THAT(store->CreateProject(NewProject(), {"key-1", "f2"}, kPath),
              StatusIs(absl::StatusCode::kAlreadyExists, "key-1"));
  EXPECT_EQ(this->Kept("w1", all),
            (std::vector<std::string>{"411323-huiche-west-01=a3", "v-b=b1'"}));

  // An indicator value of the other village: its figures go.
  IndicatorDefinition grids;
  grids.set_key("grids");
  grids.set_kind(v1::STOCK);
  grids.set_max_value(100);
  ASSERT_OK(store->InsertIndicatorDefinitionsIfAbsent({grids}));
  IndicatorWrite write;
  write.value.set_village_id(kOtherB);
  write.value.set_indicator_key("grids");
  write.value.set_period("2022-09");
  write.value.set_value(3);
  write.village_path = "/root/v-b/";
  ASSERT_OK(store->SetIndicatorValues({write}, {}, /*dry_run=*/false));
  EXPECT_EQ(this->Kept("w1", all),
            std::vector<std::string>{"411323-huiche-west-01=a3"});

  EXPECT_THAT(store->ReadKeptFigures("w1", {kOtherB, kWest01}),
              StatusIs(absl::StatusCode::kInternal, "ascending order"));
}

TYPED_TEST(SqlProjectsStoreTest,
           FiguresOfAVillageWrittenSinceTheirReadAreNotKept) {
  auto& store = this->store_;
  ASSERT_OK_AND_ASSIGN(const uint64_t seen, store->NewestSequence());
  // The rows were read at `seen`; then a write to one village commits
  // before the figures are kept.
  ASSERT_OK(store->CreateProject(NewProject(), {"key-1", "f1"}, kPath));
  ASSERT_OK(this->Keep("w", seen, {{kWest01, "stale"}, {kOtherB, "b"}}));
  EXPECT_EQ(this->Kept("w", {kWest01, kOtherB, kOtherC}),
            std::vector<std::string>{"v-b=b"});
  // Read after that write, they are kept.
  ASSERT_OK_AND_ASSIGN(const uint64_t now_seen, store->NewestSequence());
  ASSERT_OK(this->Keep("w", now_seen, {{kWest01, "fresh"}}));
  EXPECT_EQ(this->Kept("w", {kWest01}),
            std::vector<std::string>{"411323-huiche-west-01=fresh"});
}

TYPED_TEST(SqlProjectsStoreTest, KeptFiguresExpireUnlessKeptAgain) {
  const std::vector<std::string> all = {kWest01, kOtherB, kOtherC};
  ASSERT_OK(this->Keep("w", 0, {{kWest01, "a"}, {kOtherB, "b"}}));
  this->clock_.Advance(kKeptFiguresLifetime - absl::Hours(1));
  ASSERT_OK(this->Keep("w", 0, {{kOtherB, "b2"}}));
  this->clock_.Advance(absl::Hours(2));
  // The village kept once is past its lifetime; the one kept again is not.
  // The next write to the kept figures removes the expired.
  EXPECT_EQ(this->Kept("w", all),
            (std::vector<std::string>{"411323-huiche-west-01=a", "v-b=b2"}));
  ASSERT_OK(this->Keep("other", 0, {{kOtherC, "c"}}));
  EXPECT_EQ(this->Kept("w", all), std::vector<std::string>{"v-b=b2"});
  EXPECT_EQ(this->Kept("other", all), std::vector<std::string>{"v-c=c"});
}

}  // namespace
}  // namespace fivestar::projects
