// fivestar-bench: the benchmark's load tool and its reference server.
//
//   fivestar-bench --figure=get_village --target=127.0.0.1:50051
//       --discover_under=410000 [--connections=4 --in_flight=16
//       --warmup=1s --duration=5s --interval=0s]
//     puts one figure under load and prints one JSON line on stdout.
//   fivestar-bench serve-ping [--port=... --tokens_file=...]
//     serves the Ping reference through the services' ServerHost.
//   fivestar-bench wait-serving --target=127.0.0.1:50051 [--since_ns=N]
//     polls the target's health every 5 ms until SERVING and prints the
//     time since --since_ns (start-up time).
//
// scripts/bench.sh runs every figure beside Ping and writes BENCHMARKS.md.
#include <errno.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "bench_ping.grpc.pb.h"
#include "common/executor.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/server.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/bench/figures.h"
#include "tools/bench/load_run.h"
#include "tools/bench/ping_service.h"

ABSL_FLAG(std::string, figure, "ping",
          "The RPC to put under load: ping, health (the server's overall "
          "grpc.health.v1 Check), get_village, get_project, "
          "list_villages (page_size 100 under a region), get_summary (of a "
          "region), create_progress_report, get_leaderboard (top 10), "
          "get_village_rank.");
ABSL_FLAG(std::string, target, "",
          "host:port of the server that answers --figure (plaintext).");
ABSL_FLAG(int, connections, 4,
          "Separate channels (TCP connections) to --target, 1-256.");
ABSL_FLAG(int, in_flight, 16,
          "Calls kept in flight on each connection, 1-1024.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "Load before measuring starts (not counted), e.g. 1s.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "The measured window, e.g. 5s.");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(),
          "Pacing: each of the calls in flight starts at least this long "
          "after the previous one it replaced started (e.g. 5ms for a "
          "latency probe that takes a small share of the machine). 0s: the "
          "next call starts as soon as one ends.");
ABSL_FLAG(std::string, ids_file, "",
          "Target ids, one per line (villages, projects or regions as the "
          "figure needs), used round-robin.");
ABSL_FLAG(std::string, discover_under, "",
          "Without --ids_file: find the targets with a list call below this "
          "region (get_village, get_project, create_progress_report).");
ABSL_FLAG(std::string, period, "",
          "Month YYYY-MM for get_summary, get_leaderboard, get_village_rank.");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent with every call (or FIVESTAR_TOKEN).");
ABSL_FLAG(bool, until_signal, false,
          "End the measured window at SIGINT or SIGTERM (at the latest after "
          "--duration): to measure while something else runs, e.g. an "
          "import.");
ABSL_FLAG(int64_t, since_ns, 0,
          "wait-serving: the instant (nanoseconds since the Unix epoch, as "
          "`date +%s%N` prints) to measure the start-up from; 0 means when "
          "wait-serving starts.");
ABSL_FLAG(absl::Duration, wait_timeout, absl::Seconds(60),
          "wait-serving: give up after this long.");
ABSL_FLAG(std::string, label, "",
          "Free text copied into the JSON line (e.g. the repetition).");

namespace {

int ServePing() {
  using namespace fivestar;
  using namespace fivestar::bench;
  absl::StatusOr<CommonServerOptions> common =
      CommonServerOptionsFromFlags("bench-ping");
  if (!common.ok()) {
    spdlog::critical("msg=bad_configuration error={}",
                     LogValue(common.status().message()));
    return 2;
  }
  const ServerConfig& config = common->server;
  auto executor =
      std::make_unique<Executor>(config.handler_threads, "bench-ping-rpc");
  PingServiceImpl service(
      RpcRuntime{common->authenticator.get(), executor.get()});
  absl::StatusOr<std::unique_ptr<ServerHost>> host = ServerHost::Start(
      config, {{&service, v1::PingService::service_full_name()}});
  if (!host.ok()) return StartFailed(host.status());
  (*host)->SetServing(true);
  spdlog::info("msg=serving port={}", (*host)->port());
  return ServeUntilSignal(
      [&] {
        (*host)->Shutdown();
        executor.reset();
      },
      common->tokens_watcher.get());
}

absl::StatusOr<std::vector<std::string>> ReadIds(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--ids_file: cannot read \"", path, "\""));
  }
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view id = absl::StripAsciiWhitespace(line);
    if (!id.empty()) ids.emplace_back(id);
  }
  return ids;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

int Fail(const absl::Status& status) {
  std::cerr << "fivestar-bench: " << status.message() << "\n";
  return 2;
}

int64_t UnixNanos() { return absl::ToUnixNanos(absl::Now()); }

// Waits up to `timeout` for SIGINT or SIGTERM (blocked in every thread by
// BlockTerminationSignals); true when one arrived.
bool WaitForTerminationSignalFor(absl::Duration timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    const timespec wait = absl::ToTimespec(left);
    if (sigtimedwait(&set, nullptr, &wait) >= 0) return true;
    if (errno != EINTR && errno != EAGAIN) return false;
  }
}

// wait-serving: polls --target's overall health every 5 ms until SERVING;
// prints {"serving_after_ms":...} measured from --since_ns.
int WaitServing() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    return Fail(absl::InvalidArgumentError("--target: required (host:port)"));
  }
  int64_t since = absl::GetFlag(FLAGS_since_ns);
  if (since < 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--since_ns: must not be negative, got ", since)));
  }
  if (since == 0) since = UnixNanos();
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_wait_timeout);
  std::string last = "no answer yet";
  while (absl::Now() < give_up) {
    // A channel of its own each time, with a subchannel pool of its own: a
    // refused connection must not hold the next probe back by gRPC's
    // reconnect backoff (1 s and growing), or the figure would be the
    // backoff's rather than the server's.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(200));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      const double ms = (UnixNanos() - since) / 1e6;
      std::cout << absl::StrFormat(
                       "{\"target\":%s,\"label\":%s,\"serving_after_ms\":%.1f}",
                       JsonString(target),
                       JsonString(absl::GetFlag(FLAGS_label)), ms)
                << std::endl;
      return 0;
    }
    last = status.ok()
               ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                     response.status())
               : status.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Fail(absl::DeadlineExceededError(
      absl::StrCat(target, " did not turn SERVING within --wait_timeout (",
                   absl::FormatDuration(absl::GetFlag(FLAGS_wait_timeout)),
                   "); last answer: ", last)));
}

int RunFigure() {
  using namespace fivestar::bench;
  FigureOptions figure;
  figure.figure = absl::GetFlag(FLAGS_figure);
  figure.token = absl::GetFlag(FLAGS_token);
  figure.period = absl::GetFlag(FLAGS_period);
  LoadOptions load;
  load.connections = absl::GetFlag(FLAGS_connections);
  load.in_flight = absl::GetFlag(FLAGS_in_flight);
  load.warmup = absl::GetFlag(FLAGS_warmup);
  load.duration = absl::GetFlag(FLAGS_duration);
  load.interval = absl::GetFlag(FLAGS_interval);
  if (absl::GetFlag(FLAGS_until_signal)) {
    load.wait_for_stop = WaitForTerminationSignalFor;
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    return Fail(absl::InvalidArgumentError("--target: required (host:port)"));
  }
  if (load.connections < 1 || load.connections > 256) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--connections: must be 1..256, got ", load.connections)));
  }
  if (load.in_flight < 1 || load.in_flight > 1024) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--in_flight: must be 1..1024, got ", load.in_flight)));
  }
  if (load.duration <= absl::ZeroDuration() ||
      load.warmup < absl::ZeroDuration()) {
    return Fail(absl::InvalidArgumentError(
        "--duration, --warmup: duration must be positive, warmup not "
        "negative"));
  }
  if (load.interval < absl::ZeroDuration() ||
      load.interval > absl::Seconds(60)) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--interval: must be 0s..60s, got ",
                     absl::FormatDuration(load.interval))));
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(target, load.connections);
  const std::string ids_file = absl::GetFlag(FLAGS_ids_file);
  const std::string under = absl::GetFlag(FLAGS_discover_under);
  if (!ids_file.empty()) {
    absl::StatusOr<std::vector<std::string>> ids = ReadIds(ids_file);
    if (!ids.ok()) return Fail(ids.status());
    figure.ids = *std::move(ids);
  } else if (!under.empty()) {
    absl::StatusOr<std::vector<std::string>> ids =
        DiscoverIds(figure.figure, channels[0], figure.token, under);
    if (!ids.ok()) return Fail(ids.status());
    figure.ids = *std::move(ids);
  }
  absl::StatusOr<std::unique_ptr<CallKind>> kind =
      MakeCallKind(figure, channels);
  if (!kind.ok()) return Fail(kind.status());

  const LoadResult result = RunLoad(load, **kind);

  std::vector<std::string> errors;
  int64_t error_count = 0;
  for (const auto& [code, count] : result.errors) {
    errors.push_back(absl::StrCat(JsonString(code), ":", count));
    error_count += count;
  }
  const bool valid = error_count == 0 && result.calls > 0;
  std::cout << absl::StrFormat(
                   "{\"figure\":%s,\"label\":%s,\"target\":%s,"
                   "\"connections\":%d,\"in_flight\":%d,\"targets\":%d,"
                   "\"interval_ms\":%.3f,"
                   "\"warmup_s\":%.3f,\"seconds\":%.3f,\"calls\":%d,"
                   "\"calls_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                   "\"max_us\":%.1f,"
                   "\"errors\":{%s},\"warmup_errors\":%d,\"first_error\":%s,"
                   "\"valid\":%s}",
                   JsonString(figure.figure),
                   JsonString(absl::GetFlag(FLAGS_label)), JsonString(target),
                   load.connections, load.in_flight,
                   static_cast<int>(figure.ids.size()),
                   absl::ToDoubleMilliseconds(load.interval),
                   absl::ToDoubleSeconds(load.warmup), result.seconds,
                   result.calls, result.calls_per_second,
                   absl::ToDoubleMicroseconds(result.p50),
                   absl::ToDoubleMicroseconds(result.p99),
                   absl::ToDoubleMicroseconds(result.max),
                   absl::StrJoin(errors, ","), result.warmup_errors,
                   JsonString(result.first_error), valid ? "true" : "false")
            << std::endl;
  std::cerr << absl::StrFormat(
      "%s: %.0f calls/s, p50 %.0f us, p99 %.0f us, %d errors%s\n",
      figure.figure, result.calls_per_second,
      absl::ToDoubleMicroseconds(result.p50),
      absl::ToDoubleMicroseconds(result.p99), error_count,
      result.first_error.empty() ? "" : " (" + result.first_error + ")");
  return valid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  fivestar::BlockTerminationSignals();
  fivestar::SetDefaultPorts(50059, 9099);
  std::vector<char*> positional = fivestar::ParseFlagsWithEnvironment(
      argc, argv,
      "fivestar-bench: one benchmark figure under load (one JSON line on "
      "stdout), `fivestar-bench serve-ping` to serve the Ping reference, or "
      "`fivestar-bench wait-serving` to time a server's start-up.\n"
      "Every flag may also be set as FIVESTAR_<FLAG_NAME>.");
  if (positional.size() == 2 && std::string(positional[1]) == "serve-ping") {
    return ServePing();
  }
  if (positional.size() == 2 && std::string(positional[1]) == "wait-serving") {
    return WaitServing();
  }
  if (positional.size() > 1) {
    std::cerr << "fivestar-bench: unknown command \"" << positional[1]
              << "\" (serve-ping or wait-serving; without one, runs "
                 "--figure)\n";
    return 2;
  }
  return RunFigure();
}
