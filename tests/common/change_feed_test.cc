// The service-independent parts of a change feed: lineage paths, the
// notifier that wakes followers, cursor checks and heartbeat intervals.
// The streams themselves are tested through the services
// (tests/registry/registry_feed_test.cc, tests/projects/change_feed_test.cc).
#include "common/change_feed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/metrics.h"
#include "tests/testing/status_matchers.h"

namespace fivestar {
namespace {

using ::fivestar::testing::IsOkAndHolds;
using ::fivestar::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LineagePathTest, RunsFromTheRootAndBack) {
  const std::vector<std::string> lineage = {"v", "district", "root"};
  EXPECT_EQ(LineagePath(lineage), "/root/district/v/");
  EXPECT_THAT(LineageOfPath("/root/district/v/"),
              ElementsAre("v", "district", "root"));
  EXPECT_THAT(LineageOfPath(""), IsEmpty());
  EXPECT_THAT(LineageOfPath("/"), IsEmpty());
  EXPECT_EQ(PathComponent("district"), "/district/");
}

TEST(CheckFeedCursorTest, AcceptsCursorsOfThisFeedUpToTheNewest) {
  EXPECT_OK(CheckFeedCursor("abc", "", 0, 0));
  EXPECT_OK(CheckFeedCursor("abc", "abc", 5, 5));
  EXPECT_THAT(CheckFeedCursor("abc", "abd", 0, 5),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "feed_id abd is not this server's feed (abc)"));
  EXPECT_THAT(CheckFeedCursor("abc", "abc", 6, 5),
              StatusIs(absl::StatusCode::kOutOfRange,
                       "after_sequence 6 is beyond the newest sequence 5"));
}

google::protobuf::Duration Interval(int64_t seconds, int32_t nanos) {
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  duration.set_nanos(nanos);
  return duration;
}

TEST(ParseHeartbeatIntervalTest, ZeroIsNoneAndOneSecondToOneHourIsAccepted) {
  EXPECT_THAT(ParseHeartbeatInterval(Interval(0, 0), "f"),
              IsOkAndHolds(absl::ZeroDuration()));
  EXPECT_THAT(ParseHeartbeatInterval(Interval(1, 0), "f"),
              IsOkAndHolds(absl::Seconds(1)));
  EXPECT_THAT(ParseHeartbeatInterval(Interval(0, 999'999'999), "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "f: must be 0 (no heartbeats) or 1s..1h, got "
                       "999.999999ms"));
  EXPECT_THAT(ParseHeartbeatInterval(Interval(3600, 0), "f"),
              IsOkAndHolds(absl::Hours(1)));
  EXPECT_THAT(
      ParseHeartbeatInterval(Interval(3600, 1), "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, "got 1h0.000000001s"));
  EXPECT_THAT(ParseHeartbeatInterval(Interval(-1, 0), "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, "got -1s"));
  EXPECT_THAT(ParseHeartbeatInterval(Interval(1, -1), "f"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "f: not a valid duration (seconds 1, nanos -1)"));
  EXPECT_THAT(
      ParseHeartbeatInterval(Interval(1, 1'000'000'000), "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, "f: not a valid duration"));
}

// Counts what the notifier tells it.
class CountingWatcher : public ChangeWatcher {
 public:
  void OnNewChanges() override { ++woken; }
  void OnFeedClosed() override { ++closed; }
  int woken = 0;
  int closed = 0;
};

TEST(FeedNotifierTest, WakesAWaitingWatcherOncePerWait) {
  FeedNotifier notifier("test", 3);
  auto watcher = std::make_shared<CountingWatcher>();
  EXPECT_FALSE(notifier.WaitBeyond(2, watcher));  // 3 is already there.
  EXPECT_TRUE(notifier.WaitBeyond(3, watcher));
  notifier.Published(4);
  EXPECT_EQ(watcher->woken, 1);
  EXPECT_EQ(notifier.newest(), 4u);
  notifier.Published(5);  // It did not wait again.
  EXPECT_EQ(watcher->woken, 1);
  notifier.Published(4);  // Late news never moves the newest back.
  EXPECT_EQ(notifier.newest(), 5u);
}

TEST(FeedNotifierTest, CloseEndsTrackedWatchersOnceAndRefusesNewOnes) {
  FeedNotifier notifier("test", 0);
  auto tracked = std::make_shared<CountingWatcher>();
  auto gone = std::make_shared<CountingWatcher>();
  ASSERT_TRUE(notifier.Track(tracked));
  ASSERT_TRUE(notifier.Track(gone));
  ASSERT_TRUE(notifier.WaitBeyond(0, tracked));
  gone.reset();  // A stream that ended: skipped, not called.
  notifier.Close();
  notifier.Close();
  EXPECT_EQ(tracked->closed, 1);
  EXPECT_TRUE(notifier.closed());
  EXPECT_FALSE(notifier.Track(tracked));
  EXPECT_FALSE(notifier.WaitBeyond(0, tracked));
  notifier.Published(1);  // Waiters were dropped on close.
  EXPECT_EQ(tracked->woken, 0);
}

// The value of fivestar_feed_newest_sequence{feed=<feed>}, or -1.
double Gauge(const FeedNotifier& notifier, const std::string& feed) {
  return fivestar::testing::MetricValue(
      notifier.metrics(), "fivestar_feed_newest_sequence", "feed", feed);
}

TEST(FeedNotifierTest, GaugeFollowsTheNewestSequence) {
  FeedNotifier notifier("registry", 30);
  EXPECT_EQ(Gauge(notifier, "registry"), 30);
  notifier.Published(31);
  EXPECT_EQ(Gauge(notifier, "registry"), 31);
}

}  // namespace
}  // namespace fivestar
