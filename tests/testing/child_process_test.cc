#include "tests/testing/child_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar::testing {
namespace {

TEST(ChildProcessTest, AChildWithAParentDeathSignalEndsWithItsThread) {
  TempDir dir;
  const std::string started = dir.File("started");
  std::unique_ptr<ChildProcess> child;
  std::thread starter([&child, &started] {
    ChildProcessOptions options;
    // The file appears once the child runs its program, after it asked
    // for the signal; the thread ends only then.
    options.argv = {"sh", "-c", "touch " + started + " && exec sleep 60"};
    options.parent_death_signal = SIGTERM;
    absl::StatusOr<std::unique_ptr<ChildProcess>> spawned =
        ChildProcess::Spawn(options);
    ASSERT_OK(spawned.status());
    child = *std::move(spawned);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!std::filesystem::exists(started) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  starter.join();
  ASSERT_NE(child, nullptr);
  absl::StatusOr<int> status = child->Wait(absl::Seconds(10));
  ASSERT_OK(status.status());
  EXPECT_EQ(DescribeWaitStatus(*status), "killed by signal 15");
}

TEST(ChildProcessTest, AChildWithoutOneOutlivesItsThread) {
  std::unique_ptr<ChildProcess> child;
  std::thread starter([&child] {
    ChildProcessOptions options;
    options.argv = {"sleep", "60"};
    absl::StatusOr<std::unique_ptr<ChildProcess>> spawned =
        ChildProcess::Spawn(options);
    ASSERT_OK(spawned.status());
    child = *std::move(spawned);
  });
  starter.join();
  ASSERT_NE(child, nullptr);
  EXPECT_THAT(child->Wait(absl::Milliseconds(300)).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ""));
  child->Kill();
}

}  // namespace
}  // namespace fivestar::testing
