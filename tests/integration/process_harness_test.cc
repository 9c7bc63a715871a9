// The process harness itself (tests/testing/service_process.h): a real
// registry binary started, stopped by SIGTERM (exit 0), restarted on the
// same port, and killed by SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/integration/process_faults_env.h"
#include "tests/testing/status_matchers.h"

namespace fivestar::faults {
namespace {

using ::fivestar::testing::DescribeWaitStatus;
using ::fivestar::testing::IsServing;
using ::fivestar::testing::ServiceProcess;

TEST(ProcessHarnessTest, StartTermRestartKill) {
  Sandbox sandbox;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServiceProcess> registry,
                       ServiceProcess::Start(RegistryOptions(
                           sandbox, "registry", {"--shutdown_grace=2s"})));
  const int port = registry->port();
  EXPECT_TRUE(IsServing(registry->address(), absl::Seconds(5)));

  registry->process().Signal(SIGTERM);
  ASSERT_OK_AND_ASSIGN(int status, registry->process().Wait(absl::Seconds(30)));
  EXPECT_EQ(DescribeWaitStatus(status), "exit 0") << registry->process().Log();
  EXPECT_FALSE(IsServing(registry->address(), absl::Milliseconds(500)));

  ASSERT_OK(registry->Restart());
  EXPECT_EQ(registry->port(), port);
  EXPECT_TRUE(IsServing(registry->address(), absl::Seconds(5)));

  registry->process().Signal(SIGKILL);
  ASSERT_OK_AND_ASSIGN(status, registry->process().Wait(absl::Seconds(30)));
  EXPECT_EQ(DescribeWaitStatus(status), "killed by signal 9");
  EXPECT_FALSE(registry->process().running());
}

}  // namespace
}  // namespace fivestar::faults
