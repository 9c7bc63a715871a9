// Tests of common/flags: FIVESTAR_* environment variables as flag fallbacks.
//
// ParseFlagsWithEnvironment() may run only once per process (Abseil aborts
// on a second SetProgramUsageMessage()), so each parse runs in a child
// process through EXPECT_EXIT; the child reports the flag's value on stderr
// and exits 0, and the parent matches what it reported.
#include "common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"

ABSL_FLAG(int, test_answer, 42, "A flag that exists only for this test.");
ABSL_FLAG(std::string, test_greeting, "hello",
          "A second test flag, never set in the environment.");

namespace fivestar {
namespace {

using ::testing::ExitedWithCode;

// Parses `args` (after the program name) with the environment in force, then
// prints the flags and positional arguments and exits 0. Runs in a child.
[[noreturn]] void ParseAndReport(std::vector<std::string> args) {
  std::vector<char*> argv;
  std::string program = "flags_test";
  argv.push_back(program.data());
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> positional = ParseFlagsWithEnvironment(
      static_cast<int>(argv.size() - 1), argv.data(), "flags_test usage");
  std::fprintf(stderr, "test_answer=%d test_greeting=%s positional=%zu\n",
               absl::GetFlag(FLAGS_test_answer),
               absl::GetFlag(FLAGS_test_greeting).c_str(), positional.size());
  std::exit(0);
}

class FlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Children inherit the environment; start every test without it.
    unsetenv("FIVESTAR_TEST_ANSWER");
    unsetenv("FIVESTAR_TEST_GREETING");
  }
  void TearDown() override { SetUp(); }
};

TEST(EnvironmentVariableForFlagTest, PrefixesAndUppercases) {
  EXPECT_EQ(EnvironmentVariableForFlag("metrics_port"),
            "FIVESTAR_METRICS_PORT");
  EXPECT_EQ(EnvironmentVariableForFlag("port"), "FIVESTAR_PORT");
}

TEST_F(FlagsTest, WithoutEnvironmentOrCommandLineTheDefaultHolds) {
  EXPECT_EXIT(ParseAndReport({}), ExitedWithCode(0),
              "test_answer=42 test_greeting=hello positional=1");
}

TEST_F(FlagsTest, EnvironmentSetsFlagMissingFromCommandLine) {
  setenv("FIVESTAR_TEST_ANSWER", "13", /*overwrite=*/1);
  EXPECT_EXIT(ParseAndReport({"--test_greeting=hi"}), ExitedWithCode(0),
              "test_answer=13 test_greeting=hi positional=1");
}

TEST_F(FlagsTest, CommandLineWinsOverEnvironment) {
  setenv("FIVESTAR_TEST_ANSWER", "13", /*overwrite=*/1);
  EXPECT_EXIT(ParseAndReport({"--test_answer=7"}), ExitedWithCode(0),
              "test_answer=7 test_greeting=hello");
}

TEST_F(FlagsTest, PositionalArgumentsAreReturnedAfterTheProgramName) {
  EXPECT_EXIT(ParseAndReport({"one", "--test_answer=1", "two"}),
              ExitedWithCode(0), "test_answer=1 .* positional=3");
}

TEST_F(FlagsTest, LowercaseVariableIsNotRead) {
  setenv("fivestar_test_answer", "13", /*overwrite=*/1);
  EXPECT_EXIT(ParseAndReport({}), ExitedWithCode(0), "test_answer=42");
  unsetenv("fivestar_test_answer");
}

TEST_F(FlagsTest, BadEnvironmentValueExitsTwoNamingTheVariable) {
  setenv("FIVESTAR_TEST_ANSWER", "forty-two", /*overwrite=*/1);
  EXPECT_EXIT(ParseAndReport({"--test_answer=7"}), ExitedWithCode(2),
              "FIVESTAR_TEST_ANSWER=forty-two: ");
}

}  // namespace
}  // namespace fivestar
