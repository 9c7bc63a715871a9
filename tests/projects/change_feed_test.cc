// WatchChanges over gRPC: replay from a cursor, then live follow; resume
// after a disconnect with nothing missed and nothing twice; region filters
// and scopes; bad cursors; heartbeats and the newest sequence; and streams
// ended cleanly on server shutdown.
// Every read is bounded by its call's deadline, so a bug fails the test
// instead of hanging it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/projects/projects_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/watch_stream.h"

namespace fivestar::projects {
namespace {

using ::fivestar::testing::StatusIs;
using Stub = v1::ProjectsService::Stub;
using namespace ::fivestar::projects::testing;

using Watch = ::fivestar::testing::WatchStream<v1::Change>;
using ::fivestar::testing::Range;
using ::fivestar::testing::Sequences;

class ChangeFeedTest : public ::testing::Test {
 protected:
  Watch Open(uint64_t after, const std::string& token = kViewerToken,
             const std::string& region = "", const std::string& feed_id = "") {
    return OpenOn(env_.stub(), after, token, region, feed_id);
  }

  // A follower that asked for heartbeats every `seconds`.
  Watch OpenWithHeartbeats(uint64_t after, int64_t seconds,
                           const std::string& token = kViewerToken,
                           int32_t nanos = 0) {
    v1::WatchChangesRequest request;
    request.set_after_sequence(after);
    request.mutable_heartbeat_interval()->set_seconds(seconds);
    request.mutable_heartbeat_interval()->set_nanos(nanos);
    return OpenRequest(env_.stub(), request, token);
  }

  static Watch OpenOn(Stub& stub, uint64_t after, const std::string& token,
                      const std::string& region = "",
                      const std::string& feed_id = "") {
    v1::WatchChangesRequest request;
    request.set_after_sequence(after);
    request.set_ancestor_region_id(region);
    request.set_feed_id(feed_id);
    return OpenRequest(stub, request, token);
  }

  static Watch OpenRequest(Stub& stub, const v1::WatchChangesRequest& request,
                           const std::string& token) {
    Watch watch;
    watch.context = fivestar::testing::NewContext(token, absl::Seconds(30));
    watch.reader = stub.WatchChanges(watch.context.get(), request);
    return watch;
  }

  // One change: a progress report on `project_id`.
  void Touch(const std::string& project_id) {
    ASSERT_OK(env_.Report(project_id, 1));
  }

  ProjectsTestEnv env_;
};

TEST_F(ChangeFeedTest, ReplaysEveryChangeInOrderWithWhatChanged) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK_AND_ASSIGN(auto report, env_.Report(project.id(), 100));
  v1::SetIndicatorValuesRequest values;
  v1::IndicatorValue* value = values.add_values();
  value->set_village_id(kMaohe);
  value->set_indicator_key("grids");
  value->set_period("2022-09");
  value->set_value(12);
  ASSERT_OK(env_.Call(&Stub::SetIndicatorValues, values, kAdminToken));
  v1::CancelProjectRequest cancel;
  cancel.set_id(project.id());
  cancel.set_reason("plan changed");
  ASSERT_OK(env_.Call(&Stub::CancelProject, cancel, kAdminToken));

  Watch watch = Open(0);
  std::vector<v1::Change> changes = watch.Read(4);
  ASSERT_EQ(Sequences(changes), Range(1, 4));
  EXPECT_EQ(changes[0].kind(), v1::PROJECT_CHANGED);
  EXPECT_EQ(changes[0].entity_id(), project.id());
  EXPECT_EQ(changes[0].project_id(), project.id());
  EXPECT_EQ(changes[0].village_id(), kDangziling);
  EXPECT_EQ(changes[1].kind(), v1::PROGRESS_REPORTED);
  EXPECT_EQ(changes[1].entity_id(), report.report().id());
  EXPECT_EQ(changes[1].project_id(), project.id());
  EXPECT_EQ(changes[2].kind(), v1::INDICATOR_CHANGED);
  EXPECT_EQ(changes[2].village_id(), kMaohe);
  EXPECT_EQ(changes[2].entity_id(), "grids");
  EXPECT_EQ(changes[2].period(), "2022-09");
  EXPECT_EQ(changes[2].project_id(), "");
  EXPECT_EQ(changes[3].kind(), v1::PROJECT_CHANGED);
  for (const v1::Change& change : changes) {
    EXPECT_EQ(change.feed_id(), changes[0].feed_id());
    EXPECT_FALSE(change.feed_id().empty());
    EXPECT_GT(change.change_time().seconds(), 0);
  }
  watch.context->TryCancel();
  EXPECT_THAT(watch.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, ResumeAfterDisconnectMissesNothingAndRepeatsNothing) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  for (int i = 0; i < 5; ++i) Touch(project.id());  // Sequences 1..6.

  Watch first = Open(0);
  std::vector<v1::Change> seen = first.Read(3);
  ASSERT_EQ(Sequences(seen), Range(1, 3));
  const std::string feed_id = seen.back().feed_id();
  first.context->TryCancel();
  EXPECT_THAT(first.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));

  // Changes while disconnected.
  Touch(project.id());  // 7
  Touch(project.id());  // 8

  Watch second = Open(seen.back().sequence(), kViewerToken, "", feed_id);
  std::vector<v1::Change> replayed = second.Read(5);
  EXPECT_EQ(Sequences(replayed), Range(4, 8));
  // Then it follows live: each new change arrives next, once.
  Touch(project.id());  // 9
  EXPECT_EQ(Sequences(second.Read(1)), std::vector<uint64_t>{9});
  Touch(project.id());  // 10
  Touch(project.id());  // 11
  EXPECT_EQ(Sequences(second.Read(2)), Range(10, 11));
  second.context->TryCancel();
  EXPECT_THAT(second.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, LiveFollowerSeesConcurrentWritesGapless) {
  ASSERT_OK_AND_ASSIGN(v1::Project first,
                       env_.CreateProject(RoadProject(kDangziling)));
  ASSERT_OK_AND_ASSIGN(v1::Project second,
                       env_.CreateProject(RoadProject(kMaohe)));
  Watch watch = Open(2);
  watch.reader->WaitForInitialMetadata();
  constexpr int kWriters = 4;
  constexpr int kReportsEach = 10;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string& id = w % 2 == 0 ? first.id() : second.id();
      for (int i = 0; i < kReportsEach; ++i) {
        EXPECT_OK(env_.Report(id, 1));
      }
    });
  }
  std::vector<v1::Change> changes = watch.Read(kWriters * kReportsEach);
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(Sequences(changes), Range(3, 2 + kWriters * kReportsEach));
  watch.context->TryCancel();
  EXPECT_THAT(watch.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, RegionFilterAndScopeSkipOtherVillages) {
  ASSERT_OK_AND_ASSIGN(v1::Project west,
                       env_.CreateProject(RoadProject(kDangziling)));  // 1
  ASSERT_OK_AND_ASSIGN(v1::Project north,
                       env_.CreateProject(RoadProject(kMaohe)));  // 2
  ASSERT_OK_AND_ASSIGN(v1::Project other,
                       env_.CreateProject(RoadProject(kOtherVillage)));  // 3
  Touch(north.id());                                                     // 4
  Touch(west.id());                                                      // 5
  Touch(other.id());                                                     // 6

  Watch filtered = Open(0, kViewerToken, kWest);
  EXPECT_EQ(Sequences(filtered.Read(2)), (std::vector<uint64_t>{1, 5}));
  filtered.context->TryCancel();
  filtered.Finish().IgnoreError();

  // A township viewer sees its own subtree without asking; a filter for a
  // region of it narrows further; resuming works the same way.
  Watch township = Open(0, kHuicheViewerToken);
  EXPECT_EQ(Sequences(township.Read(4)), (std::vector<uint64_t>{1, 2, 4, 5}));
  Touch(other.id());  // 7: not visible.
  Touch(north.id());  // 8
  EXPECT_EQ(Sequences(township.Read(1)), std::vector<uint64_t>{8});
  township.context->TryCancel();
  township.Finish().IgnoreError();

  Watch resumed = Open(4, kHuicheViewerToken, kNorth);
  EXPECT_EQ(Sequences(resumed.Read(1)), std::vector<uint64_t>{8});
  resumed.context->TryCancel();
  resumed.Finish().IgnoreError();

  Watch village = Open(0, kDangzilingViewerToken);
  EXPECT_EQ(Sequences(village.Read(2)), (std::vector<uint64_t>{1, 5}));
  village.context->TryCancel();
  village.Finish().IgnoreError();
}

TEST_F(ChangeFeedTest, RetriesAndUnchangedValuesAddNoEntries) {
  ASSERT_OK_AND_ASSIGN(
      v1::Project project,
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "create-1"));
  ASSERT_OK(
      env_.CreateProject(RoadProject(kDangziling), kAdminToken, "create-1"));
  ASSERT_OK(env_.Report(project.id(), 5, kAdminToken, "report-1"));
  ASSERT_OK(env_.Report(project.id(), 5, kAdminToken, "report-1"));
  v1::SetIndicatorValuesRequest values;
  v1::IndicatorValue* value = values.add_values();
  value->set_village_id(kDangziling);
  value->set_indicator_key("grids");
  value->set_period("2022-09");
  value->set_value(11);
  ASSERT_OK(env_.Call(&Stub::SetIndicatorValues, values, kAdminToken));
  ASSERT_OK(env_.Call(&Stub::SetIndicatorValues, values, kAdminToken));
  Touch(project.id());

  Watch watch = Open(0);
  std::vector<v1::Change> changes = watch.Read(4);
  EXPECT_EQ(Sequences(changes), Range(1, 4));
  EXPECT_EQ(changes[3].kind(), v1::PROGRESS_REPORTED);  // The Touch.
  watch.context->TryCancel();
  watch.Finish().IgnoreError();
}

TEST_F(ChangeFeedTest, RejectsForeignCursors) {
  ASSERT_OK(env_.CreateProject(RoadProject(kDangziling)));
  Watch beyond = Open(2);
  EXPECT_TRUE(beyond.Read(1).empty());
  EXPECT_THAT(beyond.Finish(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       "after_sequence 2 is beyond the newest sequence 1"));
  Watch foreign = Open(0, kViewerToken, "", "0123456789abcdef");
  EXPECT_TRUE(foreign.Read(1).empty());
  EXPECT_THAT(foreign.Finish(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "feed_id 0123456789abcdef is not this server's feed"));
  Watch nowhere = Open(0, kViewerToken, "411323-nowhere");
  EXPECT_TRUE(nowhere.Read(1).empty());
  EXPECT_THAT(nowhere.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ancestor_region_id: region 411323-nowhere does not "
                       "exist"));
  Watch outside = Open(0, kWestViewerToken, kNorth);
  EXPECT_TRUE(outside.Read(1).empty());
  EXPECT_THAT(outside.Finish(),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
  Watch anonymous = Open(0, "");
  EXPECT_TRUE(anonymous.Read(1).empty());
  EXPECT_THAT(anonymous.Finish(),
              StatusIs(absl::StatusCode::kUnauthenticated, ""));
}

TEST_F(ChangeFeedTest, ShutdownEndsOpenStreamsWithUnavailable) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  Watch following = Open(1);  // Caught up: waiting for the next commit.
  following.reader->WaitForInitialMetadata();
  Watch replaying = Open(0);
  EXPECT_EQ(Sequences(replaying.Read(1)), std::vector<uint64_t>{1});

  env_.projects().Stop();  // As main.cc does on SIGTERM.

  EXPECT_TRUE(following.Read(1).empty());
  EXPECT_THAT(following.Finish(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "the server is shutting down; reconnect from your last "
                       "sequence"));
  EXPECT_TRUE(replaying.Read(1).empty());
  EXPECT_THAT(replaying.Finish(),
              StatusIs(absl::StatusCode::kUnavailable, "shutting down"));
}

TEST_F(ChangeFeedTest, FeedSurvivesRestartOfTheServer) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  Touch(project.id());
  Watch before = Open(0);
  std::vector<v1::Change> seen = before.Read(2);
  ASSERT_EQ(seen.size(), 2u);
  before.context->TryCancel();
  before.Finish().IgnoreError();
  env_.projects().Stop();

  // The same database behind a new server: same feed, same sequences.
  ProjectsHostOptions options;
  options.registry_address = env_.registry().address();
  auto restarted = env_.StartProjects(env_.database("projects"), options);
  auto stub = v1::ProjectsService::NewStub(restarted->NewChannel());
  ASSERT_OK(ProjectsTestEnv::CallOn(
      *stub, &Stub::CreateProgressReport,
      [&] {
        v1::CreateProgressReportRequest request;
        request.mutable_report()->set_project_id(project.id());
        request.mutable_report()->set_quantity(1);
        return request;
      }(),
      kAdminToken));
  Watch after = OpenOn(*stub, 2, kViewerToken, "", seen[1].feed_id());
  std::vector<v1::Change> next = after.Read(1);
  ASSERT_EQ(Sequences(next), std::vector<uint64_t>{3});
  EXPECT_EQ(next[0].feed_id(), seen[0].feed_id());
  after.context->TryCancel();
  after.Finish().IgnoreError();
}

// Expects a HEARTBEAT at `sequence` with `newest`, and nothing else in it.
void ExpectHeartbeat(const v1::Change& change, uint64_t sequence,
                     uint64_t newest, const std::string& feed_id) {
  EXPECT_EQ(change.kind(), v1::HEARTBEAT);
  EXPECT_EQ(change.sequence(), sequence);
  EXPECT_EQ(change.newest_sequence(), newest);
  EXPECT_EQ(change.feed_id(), feed_id);
  EXPECT_EQ(change.village_id(), "");
  EXPECT_EQ(change.entity_id(), "");
  EXPECT_EQ(change.project_id(), "");
  EXPECT_EQ(change.period(), "");
  EXPECT_FALSE(change.has_change_time());
}

TEST_F(ChangeFeedTest, EveryChangeCarriesTheNewestSequence) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));
  Touch(project.id());
  Touch(project.id());  // Sequences 1..3.

  Watch watch = Open(0);
  std::vector<v1::Change> replayed = watch.Read(3);
  ASSERT_EQ(Sequences(replayed), Range(1, 3));
  for (const v1::Change& change : replayed) {
    EXPECT_EQ(change.newest_sequence(), 3u);
  }
  Touch(project.id());
  std::vector<v1::Change> live = watch.Read(1);
  ASSERT_EQ(Sequences(live), std::vector<uint64_t>{4});
  EXPECT_EQ(live[0].newest_sequence(), 4u);
  watch.context->TryCancel();
  EXPECT_THAT(watch.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, CaughtUpHeartbeatMarksTheEndOfTheReplay) {
  ASSERT_OK_AND_ASSIGN(v1::Project west,
                       env_.CreateProject(RoadProject(kDangziling)));  // 1
  Touch(west.id());                                                    // 2
  ASSERT_OK_AND_ASSIGN(v1::Project north,
                       env_.CreateProject(RoadProject(kMaohe)));  // 3

  Watch watch = OpenWithHeartbeats(1, 3600);
  std::vector<v1::Change> messages = watch.Read(3);
  ASSERT_EQ(Sequences(messages), (std::vector<uint64_t>{2, 3, 3}));
  EXPECT_EQ(messages[0].kind(), v1::PROGRESS_REPORTED);
  EXPECT_EQ(messages[0].newest_sequence(), 3u);
  EXPECT_EQ(messages[1].kind(), v1::PROJECT_CHANGED);
  const std::string feed_id = messages[0].feed_id();
  ExpectHeartbeat(messages[2], 3, 3, feed_id);
  // Live changes still flow; no second marker follows them.
  Touch(north.id());  // 4
  std::vector<v1::Change> live = watch.Read(1);
  ASSERT_EQ(Sequences(live), std::vector<uint64_t>{4});
  EXPECT_EQ(live[0].kind(), v1::PROGRESS_REPORTED);
  EXPECT_EQ(live[0].newest_sequence(), 4u);
  watch.context->TryCancel();
  EXPECT_THAT(watch.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));

  // A scoped follower's marker is its position in the whole feed, past the
  // last change it may see.
  Watch scoped = OpenWithHeartbeats(0, 3600, kWestViewerToken);
  messages = scoped.Read(3);
  ASSERT_EQ(Sequences(messages), (std::vector<uint64_t>{1, 2, 4}));
  ExpectHeartbeat(messages[2], 4, 4, feed_id);
  scoped.context->TryCancel();
  EXPECT_THAT(scoped.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));

  // An empty feed's follower is caught up at 0.
  auto other = env_.StartProjects(env_.database("empty"), [&] {
    ProjectsHostOptions options;
    options.registry_address = env_.registry().address();
    return options;
  }());
  auto stub = v1::ProjectsService::NewStub(other->NewChannel());
  v1::WatchChangesRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  Watch empty = OpenRequest(*stub, request, kViewerToken);
  messages = empty.Read(1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].kind(), v1::HEARTBEAT);
  EXPECT_EQ(messages[0].sequence(), 0u);
  EXPECT_EQ(messages[0].newest_sequence(), 0u);
  empty.context->TryCancel();
  EXPECT_THAT(empty.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, IdleFollowerGetsAHeartbeatEveryInterval) {
  ASSERT_OK_AND_ASSIGN(v1::Project project,
                       env_.CreateProject(RoadProject(kDangziling)));  // 1
  Watch watch = OpenWithHeartbeats(1, 1);
  std::vector<v1::Change> marker = watch.Read(1);
  ASSERT_EQ(marker.size(), 1u);
  const std::string feed_id = marker[0].feed_id();
  ExpectHeartbeat(marker[0], 1, 1, feed_id);
  const auto start = std::chrono::steady_clock::now();
  std::vector<v1::Change> idle = watch.Read(1);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(idle.size(), 1u);
  ExpectHeartbeat(idle[0], 1, 1, feed_id);
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));

  Touch(project.id());  // 2
  std::vector<v1::Change> next = watch.Read(2);
  ASSERT_EQ(Sequences(next), (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(next[0].kind(), v1::PROGRESS_REPORTED);
  ExpectHeartbeat(next[1], 2, 2, feed_id);
  watch.context->TryCancel();
  EXPECT_THAT(watch.Finish(), StatusIs(absl::StatusCode::kCancelled, ""));
}

TEST_F(ChangeFeedTest, HeartbeatIntervalOutsideOneSecondToOneHourIsRejected) {
  Watch fast = OpenWithHeartbeats(0, 0, kViewerToken, 500'000'000);
  EXPECT_TRUE(fast.Read(1).empty());
  EXPECT_THAT(fast.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "heartbeat_interval: must be 0 (no heartbeats) or "
                       "1s..1h, got 500ms"));
  Watch slow = OpenWithHeartbeats(0, 7200);
  EXPECT_TRUE(slow.Read(1).empty());
  EXPECT_THAT(slow.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "heartbeat_interval: must be 0 (no heartbeats) or "
                       "1s..1h, got 2h"));
  Watch malformed = OpenWithHeartbeats(0, 1, kViewerToken, -1);
  EXPECT_TRUE(malformed.Read(1).empty());
  EXPECT_THAT(malformed.Finish(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "heartbeat_interval: not a valid duration"));
}

}  // namespace
}  // namespace fivestar::projects
