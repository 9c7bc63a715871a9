#include "services/scoring/grpc_inputs_source.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/status.h"

namespace fivestar::scoring {
namespace {

namespace projects_v1 = ::fivestar::projects::v1;
namespace registry_v1 = ::fivestar::registry::v1;
// The stubs' callback APIs (a class that shares its name with the stub's
// async() accessor, hence the elaborated names).
using RegistryAsync = class registry_v1::RegistryService::Stub::async;
using ProjectsAsync = class projects_v1::ProjectsService::Stub::async;

constexpr char kRegistry[] = "the village registry";
constexpr char kProjects[] = "project tracking";
// Indicator values per ListIndicatorValues page: the peer's maximum.
constexpr int kValuePage = 1000;

// The weeks to read summaries for: each a criterion needs, or the default
// (12) when none does (the summary still gives the task counts).
std::vector<int> SummaryWeeks(const InputNeeds& needs) {
  std::vector<int> weeks(needs.compliance_weeks.begin(),
                         needs.compliance_weeks.end());
  if (weeks.empty()) weeks.push_back(12);
  std::sort(weeks.begin(), weeks.end());
  return weeks;
}

// The first month of the indicator window ending with `period`.
std::string WindowStart(const std::string& period, int months) {
  absl::StatusOr<absl::CivilMonth> end = ParseMonth("period", period);
  if (!end.ok()) return period;
  return FormatMonth(*end - (std::max(months, 1) - 1));
}

void ApplySummary(const projects_v1::Summary& summary, int weeks,
                  VillageInputs& inputs) {
  inputs.all_tasks = {summary.tasks_total(), summary.tasks_delivered(),
                      summary.tasks_cancelled()};
  for (const projects_v1::StarCompletion& star : summary.completion_by_star()) {
    const int index = StarIndex(star.star());
    if (index < 0 || index >= 5) continue;
    inputs.tasks_by_star[index] = {star.total(), star.delivered(),
                                   star.cancelled()};
  }
  inputs.compliance[weeks] = {
      summary.weeks(), summary.weekly_reporting_compliance() * summary.weeks()};
}

void ApplyValue(const projects_v1::IndicatorValue& value,
                const InputNeeds& needs, VillageInputs& inputs) {
  if (!needs.indicator_keys.contains(value.indicator_key())) return;
  inputs.indicators[value.indicator_key()][value.period()] = value.value();
}

// The values request of a window: only the one key when a single indicator
// is needed, else every key (filtered on arrival).
projects_v1::ListIndicatorValuesRequest ValuesRequest(const std::string& period,
                                                      const InputNeeds& needs) {
  projects_v1::ListIndicatorValuesRequest request;
  request.set_page_size(kValuePage);
  request.set_start_period(WindowStart(period, needs.indicator_months));
  request.set_end_period(period);
  if (needs.indicator_keys.size() == 1) {
    request.set_indicator_key(*needs.indicator_keys.begin());
  }
  return request;
}

// A paged list read one page ahead: the next page is asked for as soon as a
// page arrives, so the peer works on it while this one is used.
template <typename Request, typename Response>
class PageReader {
 public:
  using Call = PendingPeerCall<Request, Response>;
  // Starts `call` for the page after `token` (empty: the first page).
  using Start =
      std::function<absl::Status(const std::string& token, Call& call)>;
  // Waits for `call`: its failure as this service reports it.
  using Finish = std::function<absl::Status(Call& call)>;

  PageReader(Start start, Finish finish)
      : start_(std::move(start)), finish_(std::move(finish)) {}

  // Asks for the first page now (Next does when it was not).
  absl::Status Begin() {
    if (ahead_ != nullptr || done_) return absl::OkStatus();
    return Ask();
  }

  // The next page; nullopt after the last.
  absl::StatusOr<std::optional<Response>> Next() {
    if (done_) return std::nullopt;
    RETURN_IF_ERROR(Begin());
    std::unique_ptr<Call> call = std::move(ahead_);
    RETURN_IF_ERROR(finish_(*call));
    Response page = std::move(call->response());
    token_ = page.next_page_token();
    done_ = token_.empty();
    if (!done_) RETURN_IF_ERROR(Ask());
    return page;
  }

 private:
  absl::Status Ask() {
    auto call = std::make_unique<Call>();
    RETURN_IF_ERROR(start_(token_, *call));
    ahead_ = std::move(call);
    return absl::OkStatus();
  }

  Start start_;
  Finish finish_;
  std::unique_ptr<Call> ahead_;
  std::string token_;
  bool done_ = false;
};

// The items of a paged list in village-id order (the lists scoring merges
// all are), taken in order up to a village id.
template <typename Request, typename Response, typename Item>
class MergedList {
 public:
  using Reader = PageReader<Request, Response>;
  // The items of a page (moved out of it as they are buffered).
  using ItemsOf =
      std::function<google::protobuf::RepeatedPtrField<Item>*(Response&)>;

  MergedList(Reader pages, ItemsOf items_of)
      : pages_(std::move(pages)), items_of_(std::move(items_of)) {}

  absl::Status Begin() { return pages_.Begin(); }

  // Calls `take` with every item whose village id is <= `last_id`.
  absl::Status TakeThrough(const std::string& last_id,
                           const std::function<void(const Item&)>& take) {
    while (true) {
      while (!buffer_.empty() && buffer_.front().village_id() <= last_id) {
        take(buffer_.front());
        buffer_.pop_front();
      }
      if (!buffer_.empty()) return absl::OkStatus();
      ASSIGN_OR_RETURN(std::optional<Response> page, pages_.Next());
      if (!page.has_value()) return absl::OkStatus();
      for (Item& item : *items_of_(*page)) buffer_.push_back(std::move(item));
    }
  }

 private:
  Reader pages_;
  ItemsOf items_of_;
  std::deque<Item> buffer_;
};

// [region, parent, ..., root] from a region's GetAncestors answer.
std::vector<std::string> PathOf(
    const std::string& region_id,
    const registry_v1::GetAncestorsResponse& response) {
  std::vector<std::string> path = {region_id};
  for (const registry_v1::Region& region : response.ancestors()) {
    path.push_back(region.id());
  }
  return path;
}

// Ancestor lookups in flight at once while a region is read (of the
// registry bulkhead's places, the rest stay free for other work).
constexpr size_t kAncestorLookupsAtOnce = 4;

}  // namespace

GrpcInputsSource::GrpcInputsSource(
    std::shared_ptr<grpc::ChannelInterface> registry_channel,
    std::shared_ptr<grpc::ChannelInterface> projects_channel,
    GrpcInputsOptions options, const Clock* clock)
    : registry_(registry_v1::RegistryService::NewStub(registry_channel)),
      projects_(projects_v1::ProjectsService::NewStub(projects_channel)),
      options_(std::move(options)),
      clock_(clock),
      registry_limit_(options_.registry.max_in_flight),
      projects_limit_(options_.projects.max_in_flight) {}

template <typename Async, typename Request, typename Response>
absl::Status GrpcInputsSource::Start(
    Async* async,
    void (Async::*method)(grpc::ClientContext*, const Request*, Response*,
                          std::function<void(grpc::Status)>),
    Request request, bool registry, absl::string_view what,
    PendingPeerCall<Request, Response>& call) {
  const char* peer = registry ? kRegistry : kProjects;
  const PeerOptions& options = registry ? options_.registry : options_.projects;
  PeerCallLimit& limit = registry ? registry_limit_ : projects_limit_;
  ASSIGN_OR_RETURN(PeerCallLimit::Slot slot, limit.Acquire(peer, what));
  (registry ? registry_calls_ : projects_calls_).fetch_add(1);
  PreparePeerCall(call.context(), options.bearer_token, options.deadline);
  call.Start(async, method, std::move(request), std::move(slot));
  return absl::OkStatus();
}

template <typename Request, typename Response>
absl::Status GrpcInputsSource::Finish(PendingPeerCall<Request, Response>& call,
                                      bool registry, absl::string_view what) {
  const grpc::Status& status = call.Wait();
  if (!status.ok()) {
    return PeerCallError(status, registry ? kRegistry : kProjects, what);
  }
  return absl::OkStatus();
}

template <typename Async, typename Request, typename Response>
absl::Status GrpcInputsSource::Call(
    Async* async,
    void (Async::*method)(grpc::ClientContext*, const Request*, Response*,
                          std::function<void(grpc::Status)>),
    const Request& request, Response* response, bool registry,
    absl::string_view what) {
  PendingPeerCall<Request, Response> call;
  RETURN_IF_ERROR(Start(async, method, request, registry, what, call));
  RETURN_IF_ERROR(Finish(call, registry, what));
  *response = std::move(call.response());
  return absl::OkStatus();
}

absl::StatusOr<registry_v1::Region> GrpcInputsSource::GetRegion(
    const std::string& region_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = regions_.find(region_id);
    if (it != regions_.end() && it->second.expires > clock_->Now()) {
      return it->second.region;
    }
  }
  registry_v1::GetRegionRequest request;
  request.set_id(region_id);
  registry_v1::Region region;
  absl::Status status =
      Call(registry_->async(), &RegistryAsync::GetRegion, request, &region,
           true, absl::StrCat("look up region ", region_id));
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(
        absl::StrCat("region ", region_id, " does not exist in the registry"));
  }
  RETURN_IF_ERROR(status);
  absl::MutexLock lock(&mu_);
  if (regions_.size() > 100'000) regions_.clear();
  regions_[region_id] = {region, clock_->Now() + options_.region_cache_ttl};
  return region;
}

absl::StatusOr<registry_v1::Village> GrpcInputsSource::GetVillage(
    const std::string& village_id) {
  registry_v1::GetVillageRequest request;
  request.set_id(village_id);
  registry_v1::Village village;
  absl::Status status =
      Call(registry_->async(), &RegistryAsync::GetVillage, request, &village,
           true, absl::StrCat("look up village ", village_id));
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("village ", village_id,
                                            " does not exist in the registry"));
  }
  RETURN_IF_ERROR(status);
  return village;
}

absl::StatusOr<std::vector<std::string>> GrpcInputsSource::RegionPath(
    const std::string& region_id) {
  registry_v1::GetAncestorsRequest request;
  request.set_region_id(region_id);
  registry_v1::GetAncestorsResponse response;
  RETURN_IF_ERROR(Call(registry_->async(), &RegistryAsync::GetAncestors,
                       request, &response, true,
                       absl::StrCat("look up the ancestors of ", region_id)));
  return PathOf(region_id, response);
}

absl::Status GrpcInputsSource::ResolvePaths(
    const registry_v1::ListVillagesResponse& page,
    absl::flat_hash_map<std::string, std::vector<std::string>>& paths) {
  using Lookup = PendingPeerCall<registry_v1::GetAncestorsRequest,
                                 registry_v1::GetAncestorsResponse>;
  std::vector<std::string> missing;
  for (const registry_v1::Village& village : page.villages()) {
    if (!paths.contains(village.region_id()) &&
        std::find(missing.begin(), missing.end(), village.region_id()) ==
            missing.end()) {
      missing.push_back(village.region_id());
    }
  }
  // A window of lookups in flight; each finished one makes room for the
  // next. Those still in flight on an error are cancelled by their
  // destructors.
  std::deque<std::pair<std::string, std::unique_ptr<Lookup>>> in_flight;
  auto finish_oldest = [&]() -> absl::Status {
    auto& [region_id, lookup] = in_flight.front();
    RETURN_IF_ERROR(Finish(
        *lookup, true, absl::StrCat("look up the ancestors of ", region_id)));
    paths.emplace(region_id, PathOf(region_id, lookup->response()));
    in_flight.pop_front();
    return absl::OkStatus();
  };
  for (const std::string& region_id : missing) {
    if (in_flight.size() >= kAncestorLookupsAtOnce) {
      RETURN_IF_ERROR(finish_oldest());
    }
    registry_v1::GetAncestorsRequest request;
    request.set_region_id(region_id);
    auto lookup = std::make_unique<Lookup>();
    RETURN_IF_ERROR(Start(
        registry_->async(), &RegistryAsync::GetAncestors, std::move(request),
        true, absl::StrCat("look up the ancestors of ", region_id), *lookup));
    in_flight.emplace_back(region_id, std::move(lookup));
  }
  while (!in_flight.empty()) RETURN_IF_ERROR(finish_oldest());
  return absl::OkStatus();
}

absl::StatusOr<VillageInputs> GrpcInputsSource::ReadVillage(
    const std::string& village_id, const std::string& period,
    const InputNeeds& needs) {
  VillageInputs inputs;
  inputs.period = period;
  ASSIGN_OR_RETURN(inputs.village, GetVillage(village_id));
  ASSIGN_OR_RETURN(std::vector<std::string> path,
                   RegionPath(inputs.village.region_id()));
  inputs.lineage = {village_id};
  inputs.lineage.insert(inputs.lineage.end(), path.begin(), path.end());

  for (int weeks : SummaryWeeks(needs)) {
    projects_v1::GetSummaryRequest request;
    request.set_village_id(village_id);
    request.set_period(period);
    request.set_weeks(weeks);
    projects_v1::Summary summary;
    RETURN_IF_ERROR(
        Call(projects_->async(), &ProjectsAsync::GetSummary, request, &summary,
             false,
             absl::StrCat("summarise village ", village_id, " for ", period)));
    ApplySummary(summary, weeks, inputs);
  }

  if (!needs.indicator_keys.empty()) {
    projects_v1::ListIndicatorValuesRequest request =
        ValuesRequest(period, needs);
    request.set_village_id(village_id);
    const std::string what =
        absl::StrCat("read the indicator values of village ", village_id);
    do {
      projects_v1::ListIndicatorValuesResponse response;
      RETURN_IF_ERROR(Call(projects_->async(),
                           &ProjectsAsync::ListIndicatorValues, request,
                           &response, false, what));
      for (const projects_v1::IndicatorValue& value : response.values()) {
        ApplyValue(value, needs, inputs);
      }
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
  }
  return inputs;
}

absl::Status GrpcInputsSource::ReadRegion(
    const std::string& region_id, const std::string& period,
    const InputNeeds& needs,
    const std::function<absl::Status(InputsPage)>& on_page) {
  RETURN_IF_ERROR(GetRegion(region_id).status());
  const int page_size = std::clamp(options_.page_size, 1, 1000);

  // Three kinds of list, each in village-id order and each read one page
  // ahead (PageReader), all asked for at once: the villages, one summaries
  // list per distinct `weeks`, and the indicator values. While a page is
  // evaluated and recorded, the peers already work on the next ones.
  const std::string list_what =
      absl::StrCat("list the villages of ", region_id);
  const std::string summaries_what =
      absl::StrCat("summarise the villages of ", region_id);
  const std::string values_what =
      absl::StrCat("read the indicator values of ", region_id);
  PageReader<registry_v1::ListVillagesRequest,
             registry_v1::ListVillagesResponse>
      villages(
          [&](const std::string& token, auto& call) {
            registry_v1::ListVillagesRequest request;
            request.set_ancestor_id(region_id);
            request.set_page_size(page_size);
            request.set_page_token(token);
            return Start(registry_->async(), &RegistryAsync::ListVillages,
                         std::move(request), true, list_what, call);
          },
          [&](auto& call) { return Finish(call, true, list_what); });
  RETURN_IF_ERROR(villages.Begin());

  using Summaries = MergedList<projects_v1::ListVillageSummariesRequest,
                               projects_v1::ListVillageSummariesResponse,
                               projects_v1::Summary>;
  std::vector<int> weeks_needed = SummaryWeeks(needs);
  std::vector<std::unique_ptr<Summaries>> summaries;
  for (int weeks : weeks_needed) {
    summaries.push_back(std::make_unique<Summaries>(
        Summaries::Reader(
            [&, weeks](const std::string& token, auto& call) {
              projects_v1::ListVillageSummariesRequest request;
              request.set_region_id(region_id);
              request.set_period(period);
              request.set_weeks(weeks);
              request.set_page_size(page_size);
              request.set_page_token(token);
              return Start(projects_->async(),
                           &ProjectsAsync::ListVillageSummaries,
                           std::move(request), false, summaries_what, call);
            },
            [&](auto& call) { return Finish(call, false, summaries_what); }),
        [](projects_v1::ListVillageSummariesResponse& page) {
          return page.mutable_summaries();
        }));
    RETURN_IF_ERROR(summaries.back()->Begin());
  }
  using Values = MergedList<projects_v1::ListIndicatorValuesRequest,
                            projects_v1::ListIndicatorValuesResponse,
                            projects_v1::IndicatorValue>;
  std::optional<Values> values;
  if (!needs.indicator_keys.empty()) {
    values.emplace(
        Values::Reader(
            [&](const std::string& token, auto& call) {
              projects_v1::ListIndicatorValuesRequest request =
                  ValuesRequest(period, needs);
              request.set_ancestor_region_id(region_id);
              request.set_page_token(token);
              return Start(projects_->async(),
                           &ProjectsAsync::ListIndicatorValues,
                           std::move(request), false, values_what, call);
            },
            [&](auto& call) { return Finish(call, false, values_what); }),
        [](projects_v1::ListIndicatorValuesResponse& page) {
          return page.mutable_values();
        });
    RETURN_IF_ERROR(values->Begin());
  }

  // Region paths met so far in this walk (a township has a handful).
  absl::flat_hash_map<std::string, std::vector<std::string>> paths;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<registry_v1::ListVillagesResponse> listed,
                     villages.Next());
    if (!listed.has_value()) break;
    const registry_v1::ListVillagesResponse& response = *listed;
    if (response.villages().empty()) continue;
    RETURN_IF_ERROR(ResolvePaths(response, paths));

    InputsPage page;
    absl::flat_hash_map<std::string, size_t> index;
    for (const registry_v1::Village& village : response.villages()) {
      const std::vector<std::string>& path = paths.at(village.region_id());
      VillageInputs inputs;
      inputs.period = period;
      inputs.village = village;
      inputs.lineage = {village.id()};
      inputs.lineage.insert(inputs.lineage.end(), path.begin(), path.end());
      index[village.id()] = page.villages.size();
      page.villages.push_back(std::move(inputs));
    }
    const std::string& last_id = response.villages().rbegin()->id();
    std::vector<absl::flat_hash_map<std::string, bool>> summarised(
        weeks_needed.size());
    for (size_t i = 0; i < weeks_needed.size(); ++i) {
      const int weeks = weeks_needed[i];
      RETURN_IF_ERROR(summaries[i]->TakeThrough(
          last_id, [&](const projects_v1::Summary& summary) {
            auto it = index.find(summary.village_id());
            if (it == index.end()) return;
            ApplySummary(summary, weeks, page.villages[it->second]);
            summarised[i][summary.village_id()] = true;
          }));
    }
    if (values.has_value()) {
      RETURN_IF_ERROR(values->TakeThrough(
          last_id, [&](const projects_v1::IndicatorValue& v) {
            auto it = index.find(v.village_id());
            if (it != index.end()) {
              ApplyValue(v, needs, page.villages[it->second]);
            }
          }));
    }
    // A village project tracking did not summarise (it appeared in the
    // registry between the two reads) is reported, not guessed at.
    std::vector<VillageInputs> complete;
    for (VillageInputs& inputs : page.villages) {
      bool all = true;
      for (const auto& done : summarised) {
        all = all && done.contains(inputs.village.id());
      }
      if (all) {
        complete.push_back(std::move(inputs));
      } else {
        page.failures.emplace_back(
            inputs.village.id(),
            absl::UnavailableError(absl::StrCat(
                "project tracking has no summary of village ",
                inputs.village.id(), " yet; evaluate it again later")));
      }
    }
    page.villages = std::move(complete);
    RETURN_IF_ERROR(on_page(std::move(page)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<projects_v1::IndicatorDefinition>>
GrpcInputsSource::ListIndicatorDefinitions() {
  std::vector<projects_v1::IndicatorDefinition> definitions;
  projects_v1::ListIndicatorDefinitionsRequest request;
  request.set_page_size(1000);
  do {
    projects_v1::ListIndicatorDefinitionsResponse response;
    RETURN_IF_ERROR(Call(projects_->async(),
                         &ProjectsAsync::ListIndicatorDefinitions, request,
                         &response, false, "read the indicator catalogue"));
    for (const auto& definition : response.definitions()) {
      definitions.push_back(definition);
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return definitions;
}

}  // namespace fivestar::scoring
