#include "common/heap.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace fivestar {
namespace {

// This process's resident memory, from /proc/self/statm.
long ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// A burst of work on a thread of its own (its own malloc arena, as a
// service's handler threads have) that leaves one survivor every 64 KiB:
// what the burst freed lies in holes below the survivors, which free()
// never gives back by itself.
TEST(ReleaseFreeHeapTest, GivesBackTheHolesABurstLeftBetweenSurvivors) {
  constexpr int kBlocks = 32 * 1024;
  constexpr size_t kBlockBytes = 2000;  // Below the mmap threshold.
  constexpr int kKeepEvery = 32;        // One survivor per ~64 KiB.
  std::vector<std::unique_ptr<char[]>> survivors;
  long before_release = 0;
  long after_release = 0;
  std::thread worker([&] {
    std::vector<std::unique_ptr<char[]>> blocks;
    blocks.reserve(kBlocks);
    for (int i = 0; i < kBlocks; ++i) {
      blocks.emplace_back(new char[kBlockBytes]);
      std::memset(blocks.back().get(), i & 0xff, kBlockBytes);
    }
    for (int i = 0; i < kBlocks; ++i) {
      if (i % kKeepEvery == 0) survivors.push_back(std::move(blocks[i]));
    }
    blocks.clear();
    blocks.shrink_to_fit();
    before_release = ResidentBytes();
    ReleaseFreeHeap();
    after_release = ResidentBytes();
  });
  worker.join();
  // About 62 MiB lie in the holes; at least half of it must go.
  EXPECT_GT(before_release - after_release, 32L << 20)
      << "resident " << before_release << " bytes before, " << after_release
      << " after";
  // The survivors are untouched.
  for (int i = 0; i < static_cast<int>(survivors.size()); ++i) {
    ASSERT_EQ(survivors[i][kBlockBytes - 1],
              static_cast<char>((i * kKeepEvery) & 0xff));
  }
}

}  // namespace
}  // namespace fivestar
