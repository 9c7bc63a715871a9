// The load tests' oracle finds each kind of inconsistency it promises to,
// and accepts a consistent history recorded out of order.
#include "tests/testing/acknowledged_writes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

namespace fivestar::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(AcknowledgedWritesTest, AHistoryRecordedOutOfOrderEndsAtItsLastWrite) {
  AcknowledgedWrites writes;
  writes.Updated("a", "e2", {"e3", "three"});
  writes.Created("a", {"e1", "one"});
  writes.Refused("a", "e1", absl::StatusCode::kAborted);
  writes.Updated("a", "e1", {"e2", "two"});
  writes.Created("b", {"f1", "b"});
  writes.Deleted("b", "f1");
  writes.Refused("b", "f1", absl::StatusCode::kNotFound);
  EXPECT_THAT(writes.Check({{"a", {"e3", "three"}}}), IsEmpty());
  EXPECT_EQ(writes.Acknowledged(), 5);
  EXPECT_EQ(writes.Refusals(absl::StatusCode::kAborted), 1);
  EXPECT_EQ(writes.LastSeen("a"), "e2");  // the last one recorded
  EXPECT_EQ(writes.LastSeen("b"), std::nullopt);
  EXPECT_THAT(writes.Keys(), ElementsAre("a", "b"));
}

TEST(AcknowledgedWritesTest, FindsLostForkedAndWronglyRefusedWrites) {
  AcknowledgedWrites writes;
  writes.Created("a", {"e1", "one"});
  writes.Updated("a", "e1", {"e2", "two"});
  writes.Updated("a", "e1", {"e3", "three"});  // both on e1: a lost update
  writes.Updated("a", "e9", {"e10", "ten"});   // on no version of the history
  writes.Created("b", {"f1", "b"});
  writes.Refused("b", "f1", absl::StatusCode::kAborted);   // f1 is current
  writes.Refused("b", "f1", absl::StatusCode::kNotFound);  // never deleted
  writes.Created("c", {"g1", "c"});
  writes.Deleted("c", "g1");
  writes.Unexpected("GetThing x", absl::InternalError("boom"));
  const std::vector<std::string> errors = writes.Check({{"a", {"e2", "two"}},
                                                        {"b", {"f1", "b"}},
                                                        {"c", {"g1", "c"}},
                                                        {"d", {"h1", "d"}}});
  EXPECT_THAT(
      errors,
      ElementsAre(HasSubstr("GetThing x: INTERNAL: boom"),
                  HasSubstr("a: two acknowledged writes on etag e1"),
                  HasSubstr("a: acknowledged update on etag e1 is not in"),
                  HasSubstr("a: acknowledged update on etag e9 is not in"),
                  HasSubstr("a: is etag e2 two; expected etag e3 three"),
                  HasSubstr("b: refused as stale on etag f1"),
                  HasSubstr("b: answered NOT_FOUND but never deleted"),
                  HasSubstr("c: exists although its delete was acknowledged"),
                  HasSubstr("d: exists but no client created it")));
}

TEST(AcknowledgedWritesTest, FindsMissingAndChangedResources) {
  AcknowledgedWrites writes;
  writes.Created("a", {"e1", "one"});
  writes.Created("b", {"f1", "b"});
  writes.Updated("b", "f1", {"f2", "b2"});
  EXPECT_THAT(writes.Check({{"b", {"f2", "b1"}}}),
              ElementsAre(HasSubstr("a: missing; expected etag e1 one"),
                          HasSubstr("b: is etag f2 b1; expected etag f2 b2")));
}

TEST(AcknowledgedWritesTest, RunClientsRunsEveryOperationOnce) {
  std::atomic<int> runs[3][4] = {};
  EXPECT_EQ(RunClients(3, 4, [&](int c, int i) { runs[c][i].fetch_add(1); }),
            0);
  for (auto& client : runs) {
    for (auto& op : client) EXPECT_EQ(op.load(), 1);
  }
  EXPECT_EQ(RunClients(
                2, 5, [](int, int) {}, absl::ZeroDuration()),
            10);
}

}  // namespace
}  // namespace fivestar::testing
