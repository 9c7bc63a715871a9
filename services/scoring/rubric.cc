#include "services/scoring/rubric.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/field_rules.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::Star;
using ::fivestar::common::v1::Star_IsValid;
using ::fivestar::common::v1::STAR_UNSPECIFIED;

constexpr int kMaxCriteria = 50;
constexpr int kMaxQuotas = 20;
constexpr int kMaxIncentiveRules = 50;

// Rubric-chosen ids (criteria, incentive rules): [a-z][a-z0-9_]{0,63}.
absl::Status ValidateRuleId(const std::string& field, const std::string& id) {
  if (id.empty()) return FieldError(field, "required");
  bool ok = id.size() <= 64 && absl::ascii_islower(id.front());
  for (char c : id) {
    ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_');
  }
  if (!ok) {
    return FieldError(
        field, absl::StrCat("must be 1..64 characters from [a-z0-9_] starting "
                            "with a letter, got \"",
                            id, "\""));
  }
  return absl::OkStatus();
}

// A required enum field: set and a value this build knows.
absl::Status ValidateEnum(const std::string& field, int value,
                          bool (*is_valid)(int), absl::string_view what) {
  if (value == 0) return FieldError(field, absl::StrCat("required: ", what));
  if (!is_valid(value)) {
    return FieldError(field, absl::StrCat("unknown value ", value));
  }
  return absl::OkStatus();
}

absl::Status ValidateIndicatorInput(const v1::IndicatorInput& input,
                                    const std::string& f,
                                    const IndicatorCatalogue* catalogue) {
  RETURN_IF_ERROR(ValidateRuleId(f + ".key", input.key()));
  if (catalogue != nullptr && !catalogue->contains(input.key())) {
    return FieldError(f + ".key",
                      absl::StrCat("unknown indicator \"", input.key(),
                                   "\" (not in project tracking's catalogue)"));
  }
  RETURN_IF_ERROR(ValidateEnum(f + ".aggregation", input.aggregation(),
                               v1::Aggregation_IsValid,
                               "LATEST or SUM_LAST_N_MONTHS"));
  return ValidateRange(f + ".months", input.months(), 0, 120);
}

absl::Status ValidateCriterion(const v1::Criterion& criterion,
                               const std::string& f,
                               const IndicatorCatalogue* catalogue) {
  RETURN_IF_ERROR(ValidateRuleId(f + ".id", criterion.id()));
  RETURN_IF_ERROR(
      ValidateText(f + ".description", criterion.description(), 1, 200));
  RETURN_IF_ERROR(
      ValidateText(f + ".description_en", criterion.description_en(), 0, 200));
  switch (criterion.input_case()) {
    case v1::Criterion::kIndicator:
      RETURN_IF_ERROR(ValidateIndicatorInput(criterion.indicator(),
                                             f + ".indicator", catalogue));
      break;
    case v1::Criterion::kTaskCompletion:
      // STAR_UNSPECIFIED is valid here: all the village's tasks.
      if (!Star_IsValid(criterion.task_completion().star())) {
        return FieldError(
            f + ".task_completion.star",
            absl::StrCat("unknown value ", criterion.task_completion().star()));
      }
      break;
    case v1::Criterion::kReportingCompliance:
      RETURN_IF_ERROR(ValidateRange(f + ".reporting_compliance.weeks",
                                    criterion.reporting_compliance().weeks(), 0,
                                    104));
      break;
    case v1::Criterion::kRegistryField:
      RETURN_IF_ERROR(
          ValidateEnum(f + ".registry_field", criterion.registry_field(),
                       v1::RegistryField_IsValid,
                       "COMMITTEE_MEMBERS or SIGNATURE_INDUSTRIES"));
      break;
    case v1::Criterion::kRatio:
      if (!criterion.ratio().has_numerator()) {
        return FieldError(f + ".ratio.numerator", "required");
      }
      if (!criterion.ratio().has_denominator()) {
        return FieldError(f + ".ratio.denominator", "required");
      }
      RETURN_IF_ERROR(ValidateIndicatorInput(
          criterion.ratio().numerator(), f + ".ratio.numerator", catalogue));
      RETURN_IF_ERROR(ValidateIndicatorInput(criterion.ratio().denominator(),
                                             f + ".ratio.denominator",
                                             catalogue));
      break;
    case v1::Criterion::INPUT_NOT_SET:
      return FieldError(f + ".input",
                        "required: one of indicator, task_completion, "
                        "reporting_compliance, registry_field, ratio");
  }
  RETURN_IF_ERROR(ValidateEnum(f + ".comparator", criterion.comparator(),
                               v1::Comparator_IsValid, "GE, GT, LE, LT or EQ"));
  if (!std::isfinite(criterion.threshold())) {
    return FieldError(f + ".threshold",
                      absl::StrCat("must be finite, got ",
                                   FormatNumber(criterion.threshold())));
  }
  return ValidateRange(f + ".points", criterion.points(), 0, 1000);
}

absl::Status ValidateGlobalRules(const v1::GlobalRules& rules,
                                 const std::string& f) {
  if (!Star_IsValid(rules.prerequisite_star())) {
    return FieldError(
        f + ".prerequisite_star",
        absl::StrCat("unknown value ", rules.prerequisite_star()));
  }
  RETURN_IF_ERROR(ValidateRange(f + ".max_level", rules.max_level(), 0, 5));
  if (rules.quotas_size() > kMaxQuotas) {
    return FieldError(f + ".quotas",
                      absl::StrCat("must hold at most ", kMaxQuotas,
                                   " quotas, got ", rules.quotas_size()));
  }
  for (int i = 0; i < rules.quotas_size(); ++i) {
    const v1::LevelQuota& quota = rules.quotas(i);
    const std::string q = absl::StrCat(f, ".quotas[", i, "]");
    RETURN_IF_ERROR(ValidateEnum(q + ".region_level", quota.region_level(),
                                 v1::AuthorityLevel_IsValid,
                                 "TOWNSHIP, COUNTY, CITY or PROVINCE"));
    RETURN_IF_ERROR(ValidateRange(q + ".min_level", quota.min_level(), 1, 5));
    if (!std::isfinite(quota.max_share()) || quota.max_share() <= 0 ||
        quota.max_share() > 1) {
      return FieldError(q + ".max_share",
                        absl::StrCat("must be in (0, 1], got ",
                                     FormatNumber(quota.max_share())));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIncentiveRule(const v1::IncentiveRule& rule,
                                   const std::string& f) {
  RETURN_IF_ERROR(ValidateRuleId(f + ".id", rule.id()));
  RETURN_IF_ERROR(ValidateText(f + ".description", rule.description(), 0, 200));
  switch (rule.rule_case()) {
    case v1::IncentiveRule::kLevel: {
      const v1::LevelIncentive& level = rule.level();
      RETURN_IF_ERROR(
          ValidateRange(f + ".level.min_level", level.min_level(), 1, 5));
      RETURN_IF_ERROR(ValidateRange(f + ".level.work_funds_yuan",
                                    level.work_funds_yuan(), 0, 100'000'000));
      return ValidateNumber(f + ".level.base_pay_uplift_percent",
                            level.base_pay_uplift_percent(), 0, 100);
    }
    case v1::IncentiveRule::kStarRecognition: {
      const v1::StarRecognitionIncentive& star = rule.star_recognition();
      RETURN_IF_ERROR(ValidateEnum(f + ".star_recognition.star", star.star(),
                                   Star_IsValid, "one of the five stars"));
      RETURN_IF_ERROR(ValidateEnum(
          f + ".star_recognition.min_authority", star.min_authority(),
          v1::AuthorityLevel_IsValid, "TOWNSHIP, COUNTY, CITY or PROVINCE"));
      return ValidateRange(
          f + ".star_recognition.monthly_bonus_yuan_per_member",
          star.monthly_bonus_yuan_per_member(), 0, 100'000);
    }
    case v1::IncentiveRule::RULE_NOT_SET:
      break;
  }
  return FieldError(f + ".rule", "required: one of level, star_recognition");
}

// Collects protobuf's first syntax error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (!error_.empty()) return;
    // protobuf counts lines and columns from 0.
    error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

absl::Status ValidateRubric(const v1::Rubric& rubric,
                            const IndicatorCatalogue* catalogue,
                            absl::string_view field) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateText(f + ".name", rubric.name(), 1, 100));
  RETURN_IF_ERROR(
      ValidateText(f + ".description", rubric.description(), 0, 2000));
  if (rubric.stars_size() != 5) {
    return FieldError(f + ".stars",
                      absl::StrCat("must hold exactly 5 star rules (one per "
                                   "star), got ",
                                   rubric.stars_size()));
  }
  // Star → index of the rule that names it; criterion id → its path.
  absl::flat_hash_map<int, int> star_rule;
  absl::flat_hash_map<std::string, std::string> criterion_paths;
  for (int i = 0; i < rubric.stars_size(); ++i) {
    const v1::StarRule& rule = rubric.stars(i);
    const std::string s = absl::StrCat(f, ".stars[", i, "]");
    RETURN_IF_ERROR(ValidateEnum(s + ".star", rule.star(), Star_IsValid,
                                 "one of the five stars"));
    if (auto [it, inserted] = star_rule.emplace(rule.star(), i); !inserted) {
      return FieldError(
          s + ".star",
          absl::StrCat("duplicate star ",
                       fivestar::common::v1::Star_Name(rule.star()),
                       " (also stars[", it->second, "])"));
    }
    if (rule.criteria_size() < 1 || rule.criteria_size() > kMaxCriteria) {
      return FieldError(s + ".criteria",
                        absl::StrCat("must hold 1..", kMaxCriteria,
                                     " criteria, got ", rule.criteria_size()));
    }
    int64_t points = 0;
    for (int j = 0; j < rule.criteria_size(); ++j) {
      const v1::Criterion& criterion = rule.criteria(j);
      const std::string c = absl::StrCat(s, ".criteria[", j, "]");
      RETURN_IF_ERROR(ValidateCriterion(criterion, c, catalogue));
      if (auto [it, inserted] = criterion_paths.emplace(criterion.id(), c);
          !inserted) {
        return FieldError(
            c + ".id", absl::StrCat("duplicate criterion id \"", criterion.id(),
                                    "\" (also ", it->second, ")"));
      }
      points += criterion.points();
    }
    RETURN_IF_ERROR(
        ValidateRange(s + ".pass_mark", rule.pass_mark(), 0, points));
  }
  RETURN_IF_ERROR(
      ValidateGlobalRules(rubric.global_rules(), f + ".global_rules"));
  if (rubric.incentive_rules_size() > kMaxIncentiveRules) {
    return FieldError(
        f + ".incentive_rules",
        absl::StrCat("must hold at most ", kMaxIncentiveRules, " rules, got ",
                     rubric.incentive_rules_size()));
  }
  absl::flat_hash_map<std::string, int> rule_ids;
  for (int i = 0; i < rubric.incentive_rules_size(); ++i) {
    const v1::IncentiveRule& rule = rubric.incentive_rules(i);
    const std::string r = absl::StrCat(f, ".incentive_rules[", i, "]");
    RETURN_IF_ERROR(ValidateIncentiveRule(rule, r));
    if (auto [it, inserted] = rule_ids.emplace(rule.id(), i); !inserted) {
      return FieldError(
          r + ".id",
          absl::StrCat("duplicate incentive rule id \"", rule.id(),
                       "\" (also incentive_rules[", it->second, "])"));
    }
  }
  return ValidateRange(f + ".public_notice_days", rubric.public_notice_days(),
                       0, 60);
}

v1::Rubric NormalizeRubric(v1::Rubric rubric) {
  rubric.clear_version();
  rubric.clear_active();
  rubric.clear_creator();
  rubric.clear_create_time();
  std::stable_sort(rubric.mutable_stars()->begin(),
                   rubric.mutable_stars()->end(),
                   [](const v1::StarRule& a, const v1::StarRule& b) {
                     return a.star() < b.star();
                   });
  return rubric;
}

absl::StatusOr<v1::Rubric> ParseRubricText(absl::string_view text,
                                           absl::string_view source) {
  FirstErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  v1::Rubric rubric;
  if (!parser.ParseFromString(std::string(text), &rubric)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":",
                     errors.error().empty() ? std::string("1:1: cannot parse")
                                            : errors.error()));
  }
  return rubric;
}

namespace {

// The text of the file at `path`.
absl::StatusOr<std::string> ReadRubricFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("rubric file ", path, ": does not exist"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "rubric file ", path, ": cannot be read (", std::strerror(error), ")"));
  }
  std::string text;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
  }
  // A directory opens but fails on the first read (EISDIR).
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rubric file ", path, ": cannot be read (", std::strerror(error), ")"));
  }
  return text;
}

// Where the field at `path` (e.g. "stars[1].criteria[2].indicator.key",
// below a Rubric) or its nearest enclosing field present is in the text
// that filled `tree`; line -1 when not even the first is there.
google::protobuf::TextFormat::ParseLocation LocateField(
    const google::protobuf::TextFormat::ParseInfoTree* tree,
    absl::string_view path) {
  google::protobuf::TextFormat::ParseLocation found;
  const google::protobuf::Descriptor* message = v1::Rubric::descriptor();
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    int index = -1;
    if (size_t bracket = part.find('['); bracket != absl::string_view::npos) {
      absl::string_view number = part.substr(bracket + 1);
      number = number.substr(0, number.find(']'));
      if (!absl::SimpleAtoi(number, &index)) break;
      part = part.substr(0, bracket);
    }
    const google::protobuf::FieldDescriptor* field =
        message == nullptr ? nullptr
                           : message->FindFieldByName(std::string(part));
    if (field == nullptr || tree == nullptr) break;
    if (field->is_repeated() && index < 0) index = 0;
    if (!field->is_repeated()) index = -1;
    const auto location = tree->GetLocation(field, index);
    if (location.line < 0) break;
    found = location;
    message = field->message_type();
    tree = message == nullptr ? nullptr : tree->GetTreeForNested(field, index);
  }
  return found;
}

}  // namespace

absl::StatusOr<v1::Rubric> LoadRubricFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadRubricFile(path));
  return ParseRubricText(text, path);
}

absl::Status PlaceRubricError(const absl::Status& status,
                              absl::string_view text,
                              absl::string_view source) {
  constexpr absl::string_view kPrefix = "rubric.";
  absl::string_view message = status.message();
  if (status.code() != absl::StatusCode::kInvalidArgument ||
      !absl::StartsWith(message, kPrefix)) {
    return status;
  }
  const absl::string_view path =
      message.substr(kPrefix.size(), message.find(": ") - kPrefix.size());
  google::protobuf::TextFormat::ParseInfoTree tree;
  google::protobuf::TextFormat::Parser parser;
  parser.WriteLocationsTo(&tree);
  FirstErrorCollector quiet;
  parser.RecordErrorsTo(&quiet);
  v1::Rubric rubric;
  if (!parser.ParseFromString(std::string(text), &rubric)) return status;
  const auto location = LocateField(&tree, path);
  if (location.line < 0) return status;
  return absl::InvalidArgumentError(absl::StrCat(
      source, ":", location.line + 1, ":", location.column + 1, ": ", message));
}

absl::Status PlaceRubricFileError(const absl::Status& status,
                                  const std::string& path) {
  if (status.ok()) return status;
  absl::StatusOr<std::string> text = ReadRubricFile(path);
  if (!text.ok()) return status;
  return PlaceRubricError(status, *text, path);
}

int WindowMonths(const v1::IndicatorInput& input) {
  return input.months() == 0 ? 12 : input.months();
}

int ComplianceWeeks(const v1::ReportingComplianceInput& input) {
  return input.weeks() == 0 ? 12 : input.weeks();
}

InputNeeds NeedsOf(const v1::Rubric& rubric) {
  InputNeeds needs;
  auto add = [&needs](const v1::IndicatorInput& input) {
    needs.indicator_keys.insert(input.key());
    needs.indicator_months =
        std::max(needs.indicator_months, WindowMonths(input));
  };
  for (const v1::StarRule& rule : rubric.stars()) {
    for (const v1::Criterion& criterion : rule.criteria()) {
      switch (criterion.input_case()) {
        case v1::Criterion::kIndicator:
          add(criterion.indicator());
          break;
        case v1::Criterion::kRatio:
          add(criterion.ratio().numerator());
          add(criterion.ratio().denominator());
          break;
        case v1::Criterion::kReportingCompliance:
          needs.compliance_weeks.insert(
              ComplianceWeeks(criterion.reporting_compliance()));
          break;
        default:
          break;
      }
    }
  }
  return needs;
}

}  // namespace fivestar::scoring
