// ChangeLog on both engines: the same test against SqlitePool (a real file)
// and PostgresPool (a real PostgreSQL 15).
#include "common/change_log.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/sql_engines.h"
#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;

// What both engines run: the same SQL.
constexpr char kSchema[] =
    "CREATE TABLE feed_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO feed_meta(key, value) VALUES ('feed_id', 'feed-1');"
    "CREATE TABLE changes (sequence BIGINT PRIMARY KEY, "
    "entity_id TEXT NOT NULL);";

template <typename Engine>
class ChangeLogTest : public ::testing::Test {
 protected:
  using Pool = typename Engine::Pool;
  using Database = typename Pool::Database;

  // Appends a change for `entity` in a write of its own through `log`;
  // `fail` makes the write fail after appending.
  static absl::StatusOr<uint64_t> Append(ChangeLog<Pool>& log,
                                         const std::string& entity,
                                         bool fail = false) {
    return log.Write([&](Database& db) -> absl::StatusOr<uint64_t> {
      ASSIGN_OR_RETURN(
          auto insert,
          db.Prepare(absl::StrCat("INSERT INTO changes(sequence, entity_id) "
                                  "VALUES(",
                                  ChangeLog<Pool>::kNextSequenceSql, ", ?)")));
      RETURN_IF_ERROR(insert.Bind(1, entity).Run());
      ASSIGN_OR_RETURN(uint64_t sequence, ChangeLog<Pool>::NewestSequence(db));
      log.Appended(sequence);
      if (fail) return absl::AbortedError("the write failed after appending");
      return sequence;
    });
  }

  Engine engine_;
};

TYPED_TEST_SUITE(ChangeLogTest, testing::SqlEngines, testing::SqlEngineNames);

TYPED_TEST(ChangeLogTest, AppendsGaplessAndAnnouncesOnlyCommitted) {
  using Pool = typename TypeParam::Pool;
  const SchemaMigration migrations[] = {{1, "feed", kSchema}};
  absl::StatusOr<std::unique_ptr<Pool>> pool = this->engine_.Open(migrations);
  ASSERT_OK(pool.status());
  absl::StatusOr<std::unique_ptr<ChangeLog<Pool>>> log =
      ChangeLog<Pool>::Open(pool->get());
  ASSERT_OK(log.status());
  EXPECT_EQ((*log)->feed_id(), "feed-1");
  std::vector<uint64_t> announced;
  std::vector<std::pair<bool, uint64_t>> batches;
  (*log)->SetCommitObserver(
      [&announced](uint64_t newest) { announced.push_back(newest); });
  (*log)->SetBatchHook([&batches](bool committed, uint64_t newest) {
    batches.emplace_back(committed, newest);
  });

  EXPECT_THAT(this->Append(**log, "a"), IsOkAndHolds(1));
  EXPECT_THAT(this->Append(**log, "b", /*fail=*/true),
              StatusIs(absl::StatusCode::kAborted, "after appending"));
  // The failed write's number is taken by the next.
  EXPECT_THAT(this->Append(**log, "c"), IsOkAndHolds(2));
  EXPECT_THAT((*pool)->Read([](typename Pool::Database& db) {
    return ChangeLog<Pool>::NewestSequence(db);
  }),
              IsOkAndHolds(2));
  EXPECT_EQ(announced, (std::vector<uint64_t>{1, 2}));
  ASSERT_FALSE(batches.empty());
  EXPECT_EQ(batches.front(), std::make_pair(true, uint64_t{1}));
  EXPECT_EQ(batches.back(), std::make_pair(true, uint64_t{2}));
}

TYPED_TEST(ChangeLogTest, ADatabaseWithoutAFeedIdIsRefused) {
  using Pool = typename TypeParam::Pool;
  const SchemaMigration migrations[] = {{1, "feed", kSchema}};
  absl::StatusOr<std::unique_ptr<Pool>> pool = this->engine_.Open(migrations);
  ASSERT_OK(pool.status());
  ASSERT_OK((*pool)->Write([](typename Pool::Database& db) {
    return db.Execute("DELETE FROM feed_meta");
  }));
  EXPECT_THAT(ChangeLog<Pool>::Open(pool->get()).status(),
              StatusIs(absl::StatusCode::kDataLoss, "no feed_id"));
}

}  // namespace
}  // namespace fivestar
