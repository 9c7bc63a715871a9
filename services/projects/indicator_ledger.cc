#include "services/projects/indicator_ledger.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "common/concurrent_writes.h"
#include "common/field_rules.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/projects/indicator_catalogue.h"

namespace fivestar::projects {
namespace {

// The request as it counts for "is this a retry": the values without their
// output-only fields.
std::string RequestFingerprint(const v1::SetIndicatorValuesRequest& request) {
  v1::SetIndicatorValuesRequest essentials;
  for (const IndicatorValue& value : request.values()) {
    IndicatorValue* copy = essentials.add_values();
    copy->set_village_id(value.village_id());
    copy->set_indicator_key(value.indicator_key());
    copy->set_period(value.period());
    copy->set_value(value.value());
    copy->set_note(value.note());
  }
  return Fingerprint(essentials);
}

}  // namespace

absl::StatusOr<v1::SetIndicatorValuesResponse> IndicatorLedger::SetValues(
    const Principal& principal, const v1::SetIndicatorValuesRequest& request) {
  RETURN_IF_ERROR(
      AuthorizeRole(principal, Role::kReporter, "set indicator values"));
  if (request.values().empty()) {
    return FieldError("values", absl::StrCat("required: 1..",
                                             kMaxValuesPerRequest, " values"));
  }
  if (request.values_size() > kMaxValuesPerRequest) {
    return FieldError("values",
                      absl::StrCat("at most ", kMaxValuesPerRequest,
                                   " values, got ", request.values_size()));
  }
  if (!request.request_id().empty()) {
    RETURN_IF_ERROR(ValidateRequestId("request_id", request.request_id()));
  }
  const absl::CivilMonth this_month = MonthInChina(clock_->Now());
  absl::flat_hash_map<std::string, IndicatorDefinition> definitions;
  absl::flat_hash_map<std::tuple<std::string, std::string, std::string>, int>
      seen;
  for (int i = 0; i < request.values_size(); ++i) {
    const IndicatorValue& value = request.values(i);
    const std::string f = absl::StrCat("values[", i, "]");
    RETURN_IF_ERROR(ValidateId(f + ".village_id", value.village_id()));
    RETURN_IF_ERROR(IndicatorCatalogue::ValidateKey(f + ".indicator_key",
                                                    value.indicator_key()));
    auto definition = definitions.find(value.indicator_key());
    if (definition == definitions.end()) {
      absl::StatusOr<IndicatorDefinition> stored =
          store_->GetIndicatorDefinition(value.indicator_key());
      if (absl::IsNotFound(stored.status())) {
        return FieldError(f + ".indicator_key",
                          absl::StrCat("indicator ", value.indicator_key(),
                                       " is not in the catalogue"));
      }
      RETURN_IF_ERROR(stored.status());
      definition =
          definitions.emplace(value.indicator_key(), *std::move(stored)).first;
    }
    if (value.period().empty()) return FieldError(f + ".period", "required");
    ASSIGN_OR_RETURN(absl::CivilMonth month,
                     ParseMonth(f + ".period", value.period()));
    if (month > this_month) {
      return FieldError(
          f + ".period",
          absl::StrCat("must not be after the current month ",
                       FormatMonth(this_month), ", got ", value.period()));
    }
    RETURN_IF_ERROR(IndicatorCatalogue::ValidateValue(
        definition->second, value.value(), f + ".value"));
    RETURN_IF_ERROR(ValidateText(f + ".note", value.note(), 0, 500));
    auto [it, inserted] =
        seen.try_emplace(std::make_tuple(value.village_id(),
                                         value.indicator_key(), value.period()),
                         i);
    if (!inserted) {
      return FieldError(f, absl::StrCat("repeats the village, indicator and "
                                        "period of values[",
                                        it->second, "]"));
    }
  }
  // Villages repeat across values: check each one once, all of them in one
  // lookup (a batch names about 60 villages; one registry call each was
  // most of a cold batch's time).
  std::vector<std::string> villages;
  std::vector<std::string> fields;
  absl::flat_hash_map<std::string, std::string> path_of_village;
  for (int i = 0; i < request.values_size(); ++i) {
    const std::string& village_id = request.values(i).village_id();
    if (path_of_village.try_emplace(village_id).second) {
      villages.push_back(village_id);
      fields.push_back(absl::StrCat("values[", i, "].village_id"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> lineages,
                   jurisdiction_->AuthorizeVillages(
                       principal, Role::kReporter, villages, fields,
                       "set indicator values of village"));
  for (size_t v = 0; v < villages.size(); ++v) {
    path_of_village[villages[v]] = LineagePath(lineages[v]);
  }
  std::vector<IndicatorWrite> writes;
  writes.reserve(request.values_size());
  for (const IndicatorValue& value : request.values()) {
    IndicatorWrite& write = writes.emplace_back();
    write.value.set_village_id(value.village_id());
    write.value.set_indicator_key(value.indicator_key());
    write.value.set_period(value.period());
    write.value.set_value(value.value());
    write.value.set_note(value.note());
    write.value.set_reporter(principal.name);
    write.village_path = path_of_village[value.village_id()];
  }
  if (request.validate_only()) {
    return store_->SetIndicatorValues(writes, RequestKey{}, /*dry_run=*/true);
  }
  const RequestKey key{request.request_id(), RequestFingerprint(request)};
  return CreateOncePerRequestId<v1::SetIndicatorValuesResponse>(
      key.request_id, key.fingerprint,
      [&] { return store_->FindValueRequest(key.request_id); },
      [&](const v1::SetIndicatorValuesResponse& earlier) -> absl::Status {
        // Values of villages outside the caller's scope set under the same
        // request id: the same refusal as any target outside the scope.
        if (!principal.is_global()) {
          absl::flat_hash_set<std::string> checked;
          for (const IndicatorValue& value : earlier.values()) {
            if (!checked.insert(value.village_id()).second) continue;
            RETURN_IF_ERROR(
                jurisdiction_
                    ->AuthorizeVillage(
                        principal, Role::kReporter, value.village_id(), "",
                        absl::StrCat("use request_id ", key.request_id))
                    .status());
          }
        }
        return absl::AlreadyExistsError(
            absl::StrCat("request_id ", key.request_id,
                         " was already used for different values"));
      },
      [&] {
        return store_->SetIndicatorValues(writes, key, /*dry_run=*/false);
      });
}

absl::StatusOr<v1::ListIndicatorValuesResponse> IndicatorLedger::ListValues(
    const Principal& principal, const v1::ListIndicatorValuesRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  if (!request.village_id().empty() && !request.ancestor_region_id().empty()) {
    return FieldError("ancestor_region_id",
                      "at most one of village_id and ancestor_region_id may "
                      "be set");
  }
  if (!request.indicator_key().empty()) {
    RETURN_IF_ERROR(IndicatorCatalogue::ValidateKey("indicator_key",
                                                    request.indicator_key()));
  }
  std::optional<absl::CivilMonth> start;
  if (!request.start_period().empty()) {
    ASSIGN_OR_RETURN(start, ParseMonth("start_period", request.start_period()));
  }
  if (!request.end_period().empty()) {
    ASSIGN_OR_RETURN(absl::CivilMonth end,
                     ParseMonth("end_period", request.end_period()));
    if (start.has_value() && end < *start) {
      return FieldError(
          "end_period",
          absl::StrCat("must not be before start_period ",
                       request.start_period(), ", got ", request.end_period()));
    }
  }
  VillageFilter filter;
  filter.village_id = request.village_id();
  filter.region_id = request.ancestor_region_id();
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> villages,
                   jurisdiction_->VisibleVillages(principal, filter,
                                                  "list indicator values"));
  ASSIGN_OR_RETURN(std::string after,
                   pager.Resume(request.page_token(),
                                absl::StrCat("values|", request.village_id(),
                                             "|", request.ancestor_region_id(),
                                             "|", request.indicator_key(), "|",
                                             request.start_period(), "|",
                                             request.end_period())));
  v1::ListIndicatorValuesResponse response;
  if (villages.has_value() && villages->empty()) return response;
  IndicatorValueQuery query;
  query.village_ids = std::move(villages);
  query.indicator_key = request.indicator_key();
  query.start_period = request.start_period();
  query.end_period = request.end_period();
  if (!after.empty()) {
    std::vector<std::string> position = absl::StrSplit(after, '/');
    if (position.size() != 3) {
      return FieldError("page_token", "is not a token this server issued");
    }
    query.after_village_id = position[0];
    query.after_key = position[1];
    query.after_period = position[2];
  }
  query.limit = pager.fetch_limit();
  ASSIGN_OR_RETURN(std::vector<IndicatorValue> values,
                   store_->ListIndicatorValues(query));
  response.set_next_page_token(
      pager.Trim(values, [](const IndicatorValue& value) {
        return absl::StrCat(value.village_id(), "/", value.indicator_key(), "/",
                            value.period());
      }));
  for (IndicatorValue& value : values) {
    *response.add_values() = std::move(value);
  }
  return response;
}

}  // namespace fivestar::projects
