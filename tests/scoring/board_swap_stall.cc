// A measurement, not a test (not run by ctest; issue 10, goal "the longest
// Redis stall while a board is swapped <= 1 ms"): builds province-size
// boards through RedisBoardCache::ReplaceBoards on a private redis-server
// (the path of a region evaluation's rebuild and of a re-sync), swaps them
// over the live ones `--rounds` times, and prints the longest command Redis
// ran meanwhile (SLOWLOG, microseconds) and what its latency monitor
// recorded at a 1 ms threshold (LATENCY LATEST). It also checks the boards
// it built are exactly the standings it sent.
//
//   build/tests/scoring/board_swap_stall [--villages=46000] [--rounds=3]
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/scoring/redis_board_cache.h"
#include "tests/testing/redis_server.h"

ABSL_FLAG(int, villages, 46000, "Villages on the province board.");
ABSL_FLAG(int, rounds, 3, "Rebuilds swapped over the live boards.");

namespace fivestar::scoring {
namespace {

// One command on its own connection; the reply (caller frees).
redisReply* Command(int port, const std::vector<std::string>& args) {
  redisContext* context = redisConnect("127.0.0.1", port);
  if (context == nullptr || context->err != 0) {
    std::fprintf(stderr, "cannot connect to redis on %d\n", port);
    std::exit(1);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  redisFree(context);
  return reply;
}

void Run(int villages, int rounds) {
  auto redis = fivestar::testing::RedisServer::Start();
  if (!redis.ok()) {
    std::fprintf(stderr, "%s\n", redis.status().ToString().c_str());
    std::exit(1);
  }
  const int port = (*redis)->port();
  RedisOptions options;
  options.port = port;
  options.command_timeout = absl::Seconds(5);
  RedisBoardCache cache(options);
  cache.Start();
  while (!cache.available()) absl::SleepFor(absl::Milliseconds(10));

  // The province's shape: 17 cities, 157 counties, 2,400 townships.
  auto standings_of = [villages](int round) {
    std::vector<Standing> standings;
    standings.reserve(villages);
    for (int v = 0; v < villages; ++v) {
      const int township = v % 2400;
      const int county = township % 157;
      const int city = county % 17;
      Standing s;
      s.village_id = absl::StrCat("410000-v", v);
      s.period = "2026-03";
      s.lineage = {s.village_id, absl::StrCat("t", township),
                   absl::StrCat("c", county), absl::StrCat("city", city),
                   "410000"};
      s.stars = (v + round) % 6;
      s.points = (v * 7919 + round) % 1000;
      for (int star = 0; star < 5; ++star) {
        s.per_star[star] = {(v + star + round) % 2 == 0,
                            (v * (star + 3) + round) % 200};
      }
      standings.push_back(std::move(s));
    }
    return standings;
  };

  for (const auto& setting : std::vector<std::vector<std::string>>{
           {"CONFIG", "SET", "latency-monitor-threshold", "1"},
           {"CONFIG", "SET", "slowlog-log-slower-than", "100"},
           {"CONFIG", "SET", "slowlog-max-len", "100000"}}) {
    freeReplyObject(Command(port, setting));
  }
  // The first build has nothing to swap over; the measured ones do.
  if (absl::Status s = cache.ReplaceBoards("2026-03", standings_of(0));
      !s.ok()) {
    std::fprintf(stderr, "first build: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  freeReplyObject(Command(port, {"SLOWLOG", "RESET"}));
  freeReplyObject(Command(port, {"LATENCY", "RESET"}));
  absl::Duration longest_round;
  for (int round = 1; round <= rounds; ++round) {
    std::vector<Standing> standings = standings_of(round);
    const absl::Time start = absl::Now();
    if (absl::Status s = cache.ReplaceBoards("2026-03", standings); !s.ok()) {
      std::fprintf(stderr, "round %d: %s\n", round, s.ToString().c_str());
      std::exit(1);
    }
    longest_round = std::max(longest_round, absl::Now() - start);
  }

  // Exactly what was sent: the province board holds every village.
  absl::StatusOr<BoardSlice> top = cache.ReadBoard({"410000", "2026-03"}, 0, 1);
  if (!top.ok() || top->total != villages) {
    std::fprintf(stderr, "province board: %s\n",
                 top.ok() ? absl::StrCat("total ", top->total).c_str()
                          : top.status().ToString().c_str());
    std::exit(1);
  }

  // The commands logged (> 100 us), slowest first.
  std::vector<std::pair<long long, std::string>> logged;
  redisReply* slowlog = Command(port, {"SLOWLOG", "GET", "100000"});
  for (size_t i = 0; slowlog != nullptr && i < slowlog->elements; ++i) {
    const redisReply* entry = slowlog->element[i];
    const redisReply* args = entry->element[3];
    std::string name;
    for (size_t a = 0; a < args->elements && a < 2; ++a) {
      absl::StrAppend(&name, a > 0 ? " " : "",
                      std::string(args->element[a]->str, args->element[a]->len)
                          .substr(0, 60));
    }
    logged.emplace_back(entry->element[2]->integer, name);
  }
  freeReplyObject(slowlog);
  std::sort(logged.rbegin(), logged.rend());
  size_t over_1ms = 0;
  for (const auto& entry : logged) over_1ms += entry.first > 1000 ? 1 : 0;
  std::printf(
      "villages %d, rounds %d, longest ReplaceBoards %s\n"
      "commands over 100 us: %zu, over 1 ms: %zu; the slowest:\n",
      villages, rounds, absl::FormatDuration(longest_round).c_str(),
      logged.size(), over_1ms);
  for (size_t i = 0; i < logged.size() && i < 8; ++i) {
    std::printf("  %lld us  %s\n", logged[i].first, logged[i].second.c_str());
  }
  if (!logged.empty()) {
    std::printf("  median of those logged: %lld us\n",
                logged[logged.size() / 2].first);
  }
  redisReply* latest = Command(port, {"LATENCY", "LATEST"});
  std::printf("latency monitor (threshold 1 ms) events: %zu\n",
              latest != nullptr ? latest->elements : 0);
  for (size_t i = 0; latest != nullptr && i < latest->elements; ++i) {
    const redisReply* event = latest->element[i];
    std::printf("  %s: latest %lld ms, max %lld ms\n", event->element[0]->str,
                event->element[2]->integer, event->element[3]->integer);
  }
  freeReplyObject(latest);
  cache.Stop();
}

}  // namespace
}  // namespace fivestar::scoring

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  fivestar::scoring::Run(absl::GetFlag(FLAGS_villages),
                         absl::GetFlag(FLAGS_rounds));
  return 0;
}
