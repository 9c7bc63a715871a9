#include "services/scoring/grpc_inputs_source.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/status.h"

namespace fivestar::scoring {
namespace {

namespace projects_v1 = ::fivestar::projects::v1;
namespace registry_v1 = ::fivestar::registry::v1;

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

// Items of a paged list read ahead one page at a time, taken in order up to
// a village id (the lists scoring merges are all in village-id order).
template <typename Item>
class PagedReader {
 public:
  // Fetches the page after `token` into `items` and returns the next token.
  using Fetch = std::function<absl::StatusOr<std::string>(
      const std::string& token, std::vector<Item>& items)>;
  using IdOf = std::function<const std::string&(const Item&)>;

  PagedReader(Fetch fetch, IdOf id_of)
      : fetch_(std::move(fetch)), id_of_(std::move(id_of)) {}

  // Calls `take` with every item whose village id is <= `last_id`.
  absl::Status TakeThrough(const std::string& last_id,
                           const std::function<void(const Item&)>& take) {
    while (true) {
      while (!buffer_.empty() && id_of_(buffer_.front()) <= last_id) {
        take(buffer_.front());
        buffer_.pop_front();
      }
      if (!buffer_.empty() || done_) return absl::OkStatus();
      std::vector<Item> items;
      ASSIGN_OR_RETURN(std::string next, fetch_(token_, items));
      token_ = std::move(next);
      done_ = token_.empty();
      for (Item& item : items) buffer_.push_back(std::move(item));
    }
  }

 private:
  Fetch fetch_;
  IdOf id_of_;
  std::deque<Item> buffer_;
  std::string token_;
  bool done_ = false;
};

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

template <typename Stub, typename Request, typename Response>
absl::Status GrpcInputsSource::Call(
    Stub* stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    const Request& request, Response* response, bool registry,
    absl::string_view what) {
  const char* peer = registry ? kRegistry : kProjects;
  const PeerOptions& options = registry ? options_.registry : options_.projects;
  PeerCallLimit& limit = registry ? registry_limit_ : projects_limit_;
  ASSIGN_OR_RETURN(PeerCallLimit::Slot slot, limit.Acquire(peer, what));
  (registry ? registry_calls_ : projects_calls_).fetch_add(1);
  grpc::ClientContext context;
  PreparePeerCall(context, options.bearer_token, options.deadline);
  grpc::Status status = (stub->*method)(&context, request, response);
  if (!status.ok()) return PeerCallError(status, peer, what);
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
      Call(registry_.get(), &registry_v1::RegistryService::Stub::GetRegion,
           request, &region, true, absl::StrCat("look up region ", region_id));
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
  absl::Status status = Call(
      registry_.get(), &registry_v1::RegistryService::Stub::GetVillage, request,
      &village, true, absl::StrCat("look up village ", village_id));
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
  RETURN_IF_ERROR(Call(registry_.get(),
                       &registry_v1::RegistryService::Stub::GetAncestors,
                       request, &response, true,
                       absl::StrCat("look up the ancestors of ", region_id)));
  std::vector<std::string> path = {region_id};
  for (const registry_v1::Region& region : response.ancestors()) {
    path.push_back(region.id());
  }
  return path;
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
        Call(projects_.get(), &projects_v1::ProjectsService::Stub::GetSummary,
             request, &summary, false,
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
      RETURN_IF_ERROR(
          Call(projects_.get(),
               &projects_v1::ProjectsService::Stub::ListIndicatorValues,
               request, &response, false, what));
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

  // One summaries reader per distinct `weeks`, one values reader; all in
  // village-id order like the villages themselves.
  std::vector<int> weeks_needed = SummaryWeeks(needs);
  std::vector<std::unique_ptr<PagedReader<projects_v1::Summary>>> summaries;
  for (int weeks : weeks_needed) {
    auto fetch = [this, region_id, period, weeks, page_size](
                     const std::string& token,
                     std::vector<projects_v1::Summary>& items)
        -> absl::StatusOr<std::string> {
      projects_v1::ListVillageSummariesRequest request;
      request.set_region_id(region_id);
      request.set_period(period);
      request.set_weeks(weeks);
      request.set_page_size(page_size);
      request.set_page_token(token);
      projects_v1::ListVillageSummariesResponse response;
      RETURN_IF_ERROR(
          Call(projects_.get(),
               &projects_v1::ProjectsService::Stub::ListVillageSummaries,
               request, &response, false,
               absl::StrCat("summarise the villages of ", region_id)));
      for (projects_v1::Summary& summary : *response.mutable_summaries()) {
        items.push_back(std::move(summary));
      }
      return response.next_page_token();
    };
    summaries.push_back(std::make_unique<PagedReader<projects_v1::Summary>>(
        fetch, [](const projects_v1::Summary& summary) -> const std::string& {
          return summary.village_id();
        }));
  }
  PagedReader<projects_v1::IndicatorValue> values(
      [this, region_id, period, &needs](
          const std::string& token,
          std::vector<projects_v1::IndicatorValue>& items)
          -> absl::StatusOr<std::string> {
        if (needs.indicator_keys.empty()) return std::string();
        projects_v1::ListIndicatorValuesRequest request =
            ValuesRequest(period, needs);
        request.set_ancestor_region_id(region_id);
        request.set_page_token(token);
        projects_v1::ListIndicatorValuesResponse response;
        RETURN_IF_ERROR(
            Call(projects_.get(),
                 &projects_v1::ProjectsService::Stub::ListIndicatorValues,
                 request, &response, false,
                 absl::StrCat("read the indicator values of ", region_id)));
        for (projects_v1::IndicatorValue& value : *response.mutable_values()) {
          items.push_back(std::move(value));
        }
        return response.next_page_token();
      },
      [](const projects_v1::IndicatorValue& value) -> const std::string& {
        return value.village_id();
      });

  // Region paths met so far in this walk (a township has a handful).
  absl::flat_hash_map<std::string, std::vector<std::string>> paths;
  registry_v1::ListVillagesRequest request;
  request.set_ancestor_id(region_id);
  request.set_page_size(page_size);
  const std::string what = absl::StrCat("list the villages of ", region_id);
  do {
    registry_v1::ListVillagesResponse response;
    RETURN_IF_ERROR(Call(registry_.get(),
                         &registry_v1::RegistryService::Stub::ListVillages,
                         request, &response, true, what));
    request.set_page_token(response.next_page_token());
    if (response.villages().empty()) continue;

    InputsPage page;
    absl::flat_hash_map<std::string, size_t> index;
    for (const registry_v1::Village& village : response.villages()) {
      auto path = paths.find(village.region_id());
      if (path == paths.end()) {
        ASSIGN_OR_RETURN(std::vector<std::string> fetched,
                         RegionPath(village.region_id()));
        path = paths.emplace(village.region_id(), std::move(fetched)).first;
      }
      VillageInputs inputs;
      inputs.period = period;
      inputs.village = village;
      inputs.lineage = {village.id()};
      inputs.lineage.insert(inputs.lineage.end(), path->second.begin(),
                            path->second.end());
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
    RETURN_IF_ERROR(
        values.TakeThrough(last_id, [&](const projects_v1::IndicatorValue& v) {
          auto it = index.find(v.village_id());
          if (it != index.end())
            ApplyValue(v, needs, page.villages[it->second]);
        }));
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
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<projects_v1::IndicatorDefinition>>
GrpcInputsSource::ListIndicatorDefinitions() {
  std::vector<projects_v1::IndicatorDefinition> definitions;
  projects_v1::ListIndicatorDefinitionsRequest request;
  request.set_page_size(1000);
  do {
    projects_v1::ListIndicatorDefinitionsResponse response;
    RETURN_IF_ERROR(
        Call(projects_.get(),
             &projects_v1::ProjectsService::Stub::ListIndicatorDefinitions,
             request, &response, false, "read the indicator catalogue"));
    for (const auto& definition : response.definitions()) {
      definitions.push_back(definition);
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return definitions;
}

}  // namespace fivestar::scoring
