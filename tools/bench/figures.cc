#include "tools/bench/figures.h"

#include <chrono>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench_ping.grpc.pb.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace fivestar::bench {
namespace {

namespace registry_v1 = ::fivestar::registry::v1;
namespace projects_v1 = ::fivestar::projects::v1;
namespace scoring_v1 = ::fivestar::scoring::v1;
namespace health_v1 = ::grpc::health::v1;

constexpr std::chrono::seconds kCallDeadline(10);

using Done = std::function<void(grpc::Status)>;

// One RPC of service `Service` with request `Request`: fills each request
// from its target id and starts it with the stub's callback API.
template <typename Service, typename Request, typename Response>
class UnaryKind final : public CallKind {
 public:
  using Stub = typename Service::Stub;
  using Fill = std::function<void(const std::string& id, Request*)>;
  using Invoke = std::function<void(Stub*, grpc::ClientContext*, const Request*,
                                    Response*, Done)>;

  UnaryKind(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
            const FigureOptions& options, Fill fill, Invoke invoke)
      : ids_(options.ids),
        authorization_(options.token.empty()
                           ? ""
                           : absl::StrCat("Bearer ", options.token)),
        fill_(std::move(fill)),
        invoke_(std::move(invoke)) {
    for (const auto& channel : channels) {
      stubs_.push_back(Service::NewStub(channel));
    }
  }

  void Start(int connection, uint64_t n, Done done) override {
    auto call = std::make_shared<Call>();
    if (!authorization_.empty()) {
      call->context.AddMetadata("authorization", authorization_);
    }
    call->context.set_deadline(std::chrono::system_clock::now() +
                               kCallDeadline);
    fill_(ids_.empty() ? std::string() : ids_[n % ids_.size()], &call->request);
    Call* raw = call.get();
    // The callback owns the call: gRPC destroys it after the callback ran.
    invoke_(
        stubs_[connection].get(), &raw->context, &raw->request, &raw->response,
        [call = std::move(call), done = std::move(done)](grpc::Status status) {
          done(std::move(status));
        });
  }

 private:
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
  };

  const std::vector<std::string> ids_;
  const std::string authorization_;
  const Fill fill_;
  const Invoke invoke_;
  std::vector<std::unique_ptr<Stub>> stubs_;
};

template <typename Service, typename Request, typename Response>
std::unique_ptr<CallKind> Make(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    const FigureOptions& options,
    typename UnaryKind<Service, Request, Response>::Fill fill,
    typename UnaryKind<Service, Request, Response>::Invoke invoke) {
  return std::make_unique<UnaryKind<Service, Request, Response>>(
      channels, options, std::move(fill), std::move(invoke));
}

bool NeedsPeriod(const std::string& figure) {
  return figure == "get_summary" || figure == "get_leaderboard" ||
         figure == "get_village_rank";
}

void Authorize(grpc::ClientContext* context, const std::string& token) {
  if (!token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

const std::vector<std::string>& FigureNames() {
  static const auto* const kNames =
      new std::vector<std::string>{"ping",
                                   "health",
                                   "get_village",
                                   "get_project",
                                   "list_villages",
                                   "get_summary",
                                   "create_progress_report",
                                   "get_leaderboard",
                                   "get_village_rank"};
  return *kNames;
}

std::string TargetKind(const std::string& figure) {
  if (figure == "get_village" || figure == "get_village_rank") {
    return "village";
  }
  if (figure == "get_project" || figure == "create_progress_report") {
    return "project";
  }
  if (figure == "list_villages" || figure == "get_summary" ||
      figure == "get_leaderboard") {
    return "region";
  }
  return "";
}

absl::StatusOr<std::unique_ptr<CallKind>> MakeCallKind(
    const FigureOptions& options,
    std::vector<std::shared_ptr<grpc::Channel>> channels) {
  const std::string& f = options.figure;
  const bool no_targets = f == "ping" || f == "health";
  if (!no_targets && TargetKind(f).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--figure: must be one of ",
                     absl::StrJoin(FigureNames(), ", "), ", got \"", f, "\""));
  }
  if (!no_targets && options.ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ids_file or --discover_under: ", f, " needs ",
                     TargetKind(f), " ids, got none"));
  }
  if (NeedsPeriod(f) && options.period.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--period: required for ", f, " (YYYY-MM)"));
  }
  const std::string period = options.period;
  if (f == "ping") {
    return Make<v1::PingService, v1::PingRequest, v1::PingResponse>(
        channels, options, [](const std::string&, v1::PingRequest*) {},
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->Ping(context, request, response, std::move(done));
        });
  }
  if (f == "health") {
    // The server's overall health (service ""): what a load balancer asks.
    return Make<health_v1::Health, health_v1::HealthCheckRequest,
                health_v1::HealthCheckResponse>(
        channels, options,
        [](const std::string&, health_v1::HealthCheckRequest*) {},
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->Check(context, request, response, std::move(done));
        });
  }
  if (f == "get_village") {
    return Make<registry_v1::RegistryService, registry_v1::GetVillageRequest,
                registry_v1::Village>(
        channels, options,
        [](const std::string& id, registry_v1::GetVillageRequest* request) {
          request->set_id(id);
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->GetVillage(context, request, response,
                                    std::move(done));
        });
  }
  if (f == "list_villages") {
    return Make<registry_v1::RegistryService, registry_v1::ListVillagesRequest,
                registry_v1::ListVillagesResponse>(
        channels, options,
        [](const std::string& id, registry_v1::ListVillagesRequest* request) {
          request->set_ancestor_id(id);
          request->set_page_size(100);
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->ListVillages(context, request, response,
                                      std::move(done));
        });
  }
  if (f == "get_project") {
    return Make<projects_v1::ProjectsService, projects_v1::GetProjectRequest,
                projects_v1::Project>(
        channels, options,
        [](const std::string& id, projects_v1::GetProjectRequest* request) {
          request->set_id(id);
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->GetProject(context, request, response,
                                    std::move(done));
        });
  }
  if (f == "get_summary") {
    return Make<projects_v1::ProjectsService, projects_v1::GetSummaryRequest,
                projects_v1::Summary>(
        channels, options,
        [period](const std::string& id,
                 projects_v1::GetSummaryRequest* request) {
          request->set_region_id(id);
          request->set_period(period);
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->GetSummary(context, request, response,
                                    std::move(done));
        });
  }
  if (f == "create_progress_report") {
    return Make<projects_v1::ProjectsService,
                projects_v1::CreateProgressReportRequest,
                projects_v1::CreateProgressReportResponse>(
        channels, options,
        [](const std::string& id,
           projects_v1::CreateProgressReportRequest* request) {
          // A note without quantity: the project's totals stay as they were.
          request->mutable_report()->set_project_id(id);
          request->mutable_report()->set_note("fivestar-bench progress note");
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->CreateProgressReport(context, request, response,
                                              std::move(done));
        });
  }
  if (f == "get_leaderboard") {
    return Make<scoring_v1::ScoringService, scoring_v1::GetLeaderboardRequest,
                scoring_v1::GetLeaderboardResponse>(
        channels, options,
        [period](const std::string& id,
                 scoring_v1::GetLeaderboardRequest* request) {
          request->set_region_id(id);
          request->set_period(period);
          request->set_page_size(10);
        },
        [](auto* stub, auto* context, auto* request, auto* response,
           Done done) {
          stub->async()->GetLeaderboard(context, request, response,
                                        std::move(done));
        });
  }
  // get_village_rank
  return Make<scoring_v1::ScoringService, scoring_v1::GetVillageRankRequest,
              scoring_v1::GetVillageRankResponse>(
      channels, options,
      [period](const std::string& id,
               scoring_v1::GetVillageRankRequest* request) {
        request->set_village_id(id);
        request->set_period(period);
      },
      [](auto* stub, auto* context, auto* request, auto* response, Done done) {
        stub->async()->GetVillageRank(context, request, response,
                                      std::move(done));
      });
}

absl::StatusOr<std::vector<std::string>> DiscoverIds(
    const std::string& figure, const std::shared_ptr<grpc::Channel>& channel,
    const std::string& token, const std::string& under) {
  std::vector<std::string> ids;
  std::string page_token;
  if (figure == "get_village") {
    auto stub = registry_v1::RegistryService::NewStub(channel);
    do {
      registry_v1::ListVillagesRequest request;
      request.set_ancestor_id(under);
      request.set_page_size(1000);
      request.set_page_token(page_token);
      registry_v1::ListVillagesResponse response;
      grpc::ClientContext context;
      Authorize(&context, token);
      grpc::Status status = stub->ListVillages(&context, request, &response);
      if (!status.ok()) return FromGrpc(status, "ListVillages");
      for (const auto& village : response.villages()) {
        ids.push_back(village.id());
      }
      page_token = response.next_page_token();
    } while (!page_token.empty());
    return ids;
  }
  if (TargetKind(figure) == "project") {
    auto stub = projects_v1::ProjectsService::NewStub(channel);
    do {
      projects_v1::ListProjectsRequest request;
      request.set_ancestor_region_id(under);
      request.set_page_size(1000);
      request.set_page_token(page_token);
      projects_v1::ListProjectsResponse response;
      grpc::ClientContext context;
      Authorize(&context, token);
      grpc::Status status = stub->ListProjects(&context, request, &response);
      if (!status.ok()) return FromGrpc(status, "ListProjects");
      for (const auto& project : response.projects()) {
        if (project.status() != projects_v1::CANCELLED) {
          ids.push_back(project.id());
        }
      }
      page_token = response.next_page_token();
    } while (!page_token.empty());
    return ids;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--discover_under: ", figure,
      " cannot discover its ids (only get_village, get_project and "
      "create_progress_report can); give --ids_file"));
}

}  // namespace fivestar::bench
