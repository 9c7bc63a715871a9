// tools/cli/ordered_batches.h with batches whose calls the test ends
// itself: the window's size holds, a batch sharing a key with one in
// flight waits for it, batches end oldest first, and after a failure
// nothing more starts and the first failure is the one reported.
#include "tools/cli/ordered_batches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace fivestar::cli {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;

struct FakeBatch {
  std::string name;
  absl::Status outcome;
};

// Records "start X" and "finish X" in order.
class OrderedBatchesTest : public ::testing::Test {
 protected:
  OrderedBatches<FakeBatch> Window(size_t max_in_flight) {
    return OrderedBatches<FakeBatch>(
        max_in_flight,
        [this](FakeBatch& batch) { events_.push_back("start " + batch.name); },
        [this](FakeBatch& batch) {
          events_.push_back("finish " + batch.name);
          return batch.outcome;
        });
  }
  static std::unique_ptr<FakeBatch> Batch(const std::string& name,
                                          absl::Status outcome = {}) {
    return std::make_unique<FakeBatch>(FakeBatch{name, std::move(outcome)});
  }

  std::vector<std::string> events_;
};

TEST_F(OrderedBatchesTest, ABatchSharingAKeyWaitsForTheOneInFlight) {
  OrderedBatches<FakeBatch> window = Window(3);
  ASSERT_OK(window.Send(Batch("a"), {"k1", "k2"}));
  ASSERT_OK(window.Send(Batch("b"), {"k3"}));
  // c sets k2, which a (in flight) sets too: a ends first.
  ASSERT_OK(window.Send(Batch("c"), {"k4", "k2"}));
  ASSERT_OK(window.FinishAll());
  EXPECT_THAT(events_, ElementsAre("start a", "start b", "finish a", "start c",
                                   "finish b", "finish c"));
}

TEST_F(OrderedBatchesTest, ABatchSharingAKeyWithALaterOneWaitsForBoth) {
  OrderedBatches<FakeBatch> window = Window(3);
  ASSERT_OK(window.Send(Batch("a"), {"k1"}));
  ASSERT_OK(window.Send(Batch("b"), {"k2"}));
  // c sets k2 (b's): batches end oldest first, so a and then b.
  ASSERT_OK(window.Send(Batch("c"), {"k2"}));
  ASSERT_OK(window.FinishAll());
  EXPECT_THAT(events_, ElementsAre("start a", "start b", "finish a", "finish b",
                                   "start c", "finish c"));
}

TEST_F(OrderedBatchesTest, AtMostTheWindowIsInFlight) {
  OrderedBatches<FakeBatch> window = Window(2);
  for (const char* name : {"a", "b", "c", "d"}) {
    ASSERT_OK(window.Send(Batch(name), {name}));
  }
  ASSERT_OK(window.FinishAll());
  EXPECT_THAT(events_,
              ElementsAre("start a", "start b", "finish a", "start c",
                          "finish b", "start d", "finish c", "finish d"));
}

TEST_F(OrderedBatchesTest, AfterAFailureNothingStartsAndTheFirstIsReported) {
  OrderedBatches<FakeBatch> window = Window(2);
  ASSERT_OK(
      window.Send(Batch("a", absl::InvalidArgumentError("a failed")), {"k1"}));
  ASSERT_OK(window.Send(Batch("b", absl::InvalidArgumentError("b failed too")),
                        {"k2"}));
  EXPECT_THAT(window.Send(Batch("c"), {"k3"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "a failed"));
  EXPECT_THAT(window.FinishAll(),
              StatusIs(absl::StatusCode::kInvalidArgument, "a failed"));
  EXPECT_THAT(events_,
              ElementsAre("start a", "start b", "finish a", "finish b"));
}

TEST_F(OrderedBatchesTest, DestroyedWithBatchesInFlightWaitsForThem) {
  {
    OrderedBatches<FakeBatch> window = Window(2);
    ASSERT_OK(window.Send(Batch("a"), {"k1"}));
    ASSERT_OK(window.Send(Batch("b"), {"k2"}));
  }
  EXPECT_THAT(events_,
              ElementsAre("start a", "start b", "finish a", "finish b"));
}

}  // namespace
}  // namespace fivestar::cli
