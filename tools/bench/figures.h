// The figures fivestar-bench can measure: one RPC each, with how its
// requests are filled from a list of target ids and how those ids can be
// discovered with a list call.
#ifndef FIVESTAR_TOOLS_BENCH_FIGURES_H_
#define FIVESTAR_TOOLS_BENCH_FIGURES_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/load_run.h"

namespace fivestar::bench {

// What every call of a figure carries.
struct FigureOptions {
  // Figure name, one of FigureNames().
  std::string figure;
  // Bearer token sent with every call; empty sends none.
  std::string token;
  // Target ids, used round-robin (the figure's kind of id: village,
  // project or region); empty only for "ping" and "health".
  std::vector<std::string> ids;
  // "YYYY-MM", for get_summary, get_leaderboard and get_village_rank.
  std::string period;
};

// Every figure name: ping, health (grpc.health.v1 Check of the server, no
// authentication), get_village, get_project, list_villages,
// get_summary, create_progress_report, get_leaderboard, get_village_rank.
const std::vector<std::string>& FigureNames();

// The kind of id a figure's targets are ("village", "project", "region"),
// or "" for ping and health.
std::string TargetKind(const std::string& figure);

// The call kind of `options.figure` over `channels` (one per connection).
// INVALID_ARGUMENT naming the flag for an unknown figure, missing ids or a
// missing period.
absl::StatusOr<std::unique_ptr<CallKind>> MakeCallKind(
    const FigureOptions& options,
    std::vector<std::shared_ptr<grpc::Channel>> channels);

// The figure's target ids found with a list call on `channel` (the service
// the figure calls) below region `under`: villages (ListVillages) for
// get_village, projects not cancelled (ListProjects) for get_project and
// create_progress_report. INVALID_ARGUMENT for other figures (their ids come
// from a file); the call's status when a list call fails.
absl::StatusOr<std::vector<std::string>> DiscoverIds(
    const std::string& figure, const std::shared_ptr<grpc::Channel>& channel,
    const std::string& token, const std::string& under);

}  // namespace fivestar::bench

#endif  // FIVESTAR_TOOLS_BENCH_FIGURES_H_
