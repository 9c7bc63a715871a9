#include "services/projects/indicator_catalogue.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/field_rules.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/update_mask.h"
#include "common/validation.h"

namespace fivestar::projects {
namespace {

// The widest range a definition may declare.
constexpr double kLimit = 1e15;

const std::vector<std::string>& DefinitionMutableFields() {
  static const auto* fields = new std::vector<std::string>{
      "name_zh",   "name_en",  "unit",       "min_value",
      "max_value", "integral", "description"};
  return *fields;
}

IndicatorDefinition Entry(const char* key, const char* name_zh,
                          const char* name_en, const char* unit,
                          v1::IndicatorKind kind, double min_value,
                          double max_value, bool integral,
                          const char* description) {
  IndicatorDefinition definition;
  definition.set_key(key);
  definition.set_name_zh(name_zh);
  definition.set_name_en(name_en);
  definition.set_unit(unit);
  definition.set_kind(kind);
  definition.set_min_value(min_value);
  definition.set_max_value(max_value);
  definition.set_integral(integral);
  definition.set_description(description);
  return definition;
}

}  // namespace

const std::vector<IndicatorDefinition>& IndicatorCatalogue::Defaults() {
  using v1::FLOW;
  using v1::STOCK;
  static const auto* defaults = new std::vector<IndicatorDefinition>{
      Entry("accidents", "安全事故", "Safety accidents", "cases", FLOW, 0,
            10'000, true,
            "Safety accidents in the village during the month (三零: zero "
            "accidents)."),
      Entry("civic_activities", "文明实践活动", "Civic activities",
            "activities", FLOW, 0, 10'000, true,
            "New-era civilization practice activities held during the "
            "month."),
      Entry("civilized_families", "文明家庭", "Civilized families", "families",
            STOCK, 0, 100'000, true,
            "Families holding the civilized-family title at the end of the "
            "month."),
      Entry("collective_income_yuan_ytd", "村集体经济收入（年累计）",
            "Collective income, year to date", "yuan", STOCK, -1e10, 1e10,
            false,
            "Income of the village collective economy from January 1 to the "
            "end of the month."),
      Entry("criminal_cases", "刑事案件", "Criminal cases", "cases", FLOW, 0,
            10'000, true,
            "Criminal cases in the village during the month (三零: zero "
            "criminal cases)."),
      Entry("disputes_mediated", "化解矛盾纠纷", "Disputes mediated",
            "disputes", FLOW, 0, 100'000, true,
            "Disputes resolved by mediation during the month."),
      Entry("disputes_received", "受理矛盾纠纷", "Disputes received",
            "disputes", FLOW, 0, 100'000, true,
            "Disputes brought to the village during the month."),
      Entry("grids", "网格数", "Grids", "grids", STOCK, 0, 10'000, true,
            "Grid-management cells covering the village at the end of the "
            "month."),
      Entry("hd_cameras_installed", "高清摄像头", "HD cameras installed",
            "cameras", STOCK, 0, 100'000, true,
            "High-definition cameras in service at the end of the month."),
      Entry("inspection_score", "观摩评比得分", "Inspection score", "points",
            STOCK, 0, 100, false,
            "Score of the monthly inspection-and-comparison (一月一观摩评比), "
            "0-100."),
      Entry("moral_models", "道德模范", "Moral models", "people", STOCK, 0,
            100'000, true,
            "Recognized moral models living in the village at the end of "
            "the month."),
      Entry("new_skilled_workers", "新增技能人才", "New skilled workers",
            "people", FLOW, 0, 1'000'000, true,
            "Villagers newly certified in a skill during the month."),
      Entry("people_trained", "培训人次", "People trained", "people", FLOW, 0,
            1'000'000, true,
            "Person-times of vocational or skills training during the "
            "month."),
      Entry(
          "petitions", "信访案件", "Petitions", "cases", FLOW, 0, 10'000, true,
          "Petitions (信访) raised beyond the village during the month (三零: "
          "zero petitions)."),
      Entry("risks_removed", "排除风险隐患", "Risks removed", "risks", FLOW, 0,
            100'000, true,
            "Safety risks and hazards removed during the month."),
      Entry("service_income_yuan", "村级服务收入", "Village service income",
            "yuan", FLOW, -1e9, 1e9, false,
            "Income of village-run services during the month, e.g. a "
            "logistics-information service."),
      Entry("star_civilized_households", "星级文明户",
            "Star civilized households", "households", STOCK, 0, 100'000, true,
            "Households holding a star civilized-household title at the end "
            "of the month."),
  };
  return *defaults;
}

absl::StatusOr<int> IndicatorCatalogue::SeedDefaults() {
  return store_->InsertIndicatorDefinitionsIfAbsent(Defaults());
}

absl::Status IndicatorCatalogue::ValidateKey(absl::string_view field,
                                             absl::string_view key) {
  if (key.empty()) return FieldError(field, "required");
  if (key.size() > 64) {
    return FieldError(
        field, absl::StrCat("must be at most 64 characters, got ", key.size()));
  }
  if (!absl::ascii_islower(key.front())) {
    return FieldError(
        field, absl::StrCat("must start with a letter a-z, got \"", key, "\""));
  }
  for (char c : key) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return FieldError(
          field, absl::StrCat("must use only [a-z0-9_], got \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status IndicatorCatalogue::ValidateDefinitionFields(
    const IndicatorDefinition& definition, absl::string_view field) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateKey(f + ".key", definition.key()));
  RETURN_IF_ERROR(ValidateText(f + ".name_zh", definition.name_zh(), 1, 100));
  RETURN_IF_ERROR(ValidateText(f + ".name_en", definition.name_en(), 0, 100));
  RETURN_IF_ERROR(ValidateText(f + ".unit", definition.unit(), 1, 32));
  if (definition.kind() == v1::INDICATOR_KIND_UNSPECIFIED) {
    return FieldError(f + ".kind", "required: STOCK or FLOW");
  }
  if (!v1::IndicatorKind_IsValid(definition.kind())) {
    return FieldError(f + ".kind",
                      absl::StrCat("unknown value ", definition.kind()));
  }
  RETURN_IF_ERROR(ValidateNumber(f + ".min_value", definition.min_value(),
                                 -kLimit, kLimit));
  RETURN_IF_ERROR(ValidateNumber(f + ".max_value", definition.max_value(),
                                 -kLimit, kLimit));
  if (definition.min_value() > definition.max_value()) {
    return FieldError(
        f + ".max_value",
        absl::StrCat("must be >= min_value ",
                     FormatNumber(definition.min_value()), ", got ",
                     FormatNumber(definition.max_value())));
  }
  return ValidateText(f + ".description", definition.description(), 0, 2000);
}

absl::Status IndicatorCatalogue::ValidateValue(
    const IndicatorDefinition& definition, double value,
    absl::string_view field) {
  if (!std::isfinite(value))
    return FieldError(field, "must be a finite number");
  if (value < definition.min_value() || value > definition.max_value()) {
    return FieldError(
        field, absl::StrCat("must be ", FormatNumber(definition.min_value()),
                            "..", FormatNumber(definition.max_value()), " for ",
                            definition.key(), ", got ", FormatNumber(value)));
  }
  if (definition.integral() && value != std::round(value)) {
    return FieldError(
        field, absl::StrCat("must be a whole number for ", definition.key(),
                            ", got ", FormatNumber(value)));
  }
  return absl::OkStatus();
}

absl::StatusOr<IndicatorDefinition> IndicatorCatalogue::CreateDefinition(
    const Principal& principal, const IndicatorDefinition& definition) {
  RETURN_IF_ERROR(
      Authorize(principal, Role::kAdmin, {}, "change the indicator catalogue"));
  RETURN_IF_ERROR(ValidateDefinitionFields(definition, "definition"));
  return store_->CreateIndicatorDefinition(definition);
}

absl::StatusOr<IndicatorDefinition> IndicatorCatalogue::GetDefinition(
    const Principal& principal, const std::string& key) {
  RETURN_IF_ERROR(
      AuthorizeRole(principal, Role::kViewer, "read the indicator catalogue"));
  RETURN_IF_ERROR(ValidateKey("key", key));
  return store_->GetIndicatorDefinition(key);
}

absl::StatusOr<IndicatorDefinition> IndicatorCatalogue::UpdateDefinition(
    const Principal& principal, const IndicatorDefinition& definition,
    const google::protobuf::FieldMask& update_mask) {
  RETURN_IF_ERROR(
      Authorize(principal, Role::kAdmin, {}, "change the indicator catalogue"));
  RETURN_IF_ERROR(ValidateKey("definition.key", definition.key()));
  ASSIGN_OR_RETURN(IndicatorDefinition current,
                   store_->GetIndicatorDefinition(definition.key()));
  RETURN_IF_ERROR(CheckEtag("indicator", definition.key(), definition.etag(),
                            current.etag()));
  IndicatorDefinition updated = current;
  RETURN_IF_ERROR(ApplyUpdateMask(update_mask, DefinitionMutableFields(),
                                  definition, &updated));
  RETURN_IF_ERROR(ValidateDefinitionFields(updated, "definition"));
  return store_->UpdateIndicatorDefinition(updated, current.etag());
}

absl::StatusOr<v1::ListIndicatorDefinitionsResponse>
IndicatorCatalogue::ListDefinitions(
    const Principal& principal,
    const v1::ListIndicatorDefinitionsRequest& request) {
  RETURN_IF_ERROR(
      AuthorizeRole(principal, Role::kViewer, "read the indicator catalogue"));
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after,
                   pager.Resume(request.page_token(), "indicator_definitions"));
  ASSIGN_OR_RETURN(
      std::vector<IndicatorDefinition> definitions,
      store_->ListIndicatorDefinitions(after, pager.fetch_limit()));
  v1::ListIndicatorDefinitionsResponse response;
  response.set_next_page_token(pager.Trim(
      definitions,
      [](const IndicatorDefinition& definition) { return definition.key(); }));
  for (IndicatorDefinition& definition : definitions) {
    *response.add_definitions() = std::move(definition);
  }
  return response;
}

}  // namespace fivestar::projects
