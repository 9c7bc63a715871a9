#include "services/scoring/evaluator.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/calendar.h"
#include "common/check.h"
#include "common/field_rules.h"
#include "common/status.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::STAR_UNSPECIFIED;
using IndicatorValues =
    absl::flat_hash_map<std::string, absl::btree_map<std::string, double>>;

constexpr int kMaxOverrides = 1000;

// What a criterion measured before comparing.
struct Measure {
  double actual = 0;
  bool value_missing = false;
  bool vacuous = false;
  double numerator = 0;
  double denominator = 0;
  bool overridden = false;
};

// One aggregated indicator input.
struct Aggregate {
  double value = 0;
  bool missing = false;
  bool overridden = false;
};

class CriterionMeasurer {
 public:
  CriterionMeasurer(const VillageInputs& inputs, const IndicatorValues& values,
                    const Overrides* overrides)
      : inputs_(inputs), values_(values), overrides_(overrides) {
    absl::StatusOr<absl::CivilMonth> month =
        ParseMonth("period", inputs.period);
    FIVESTAR_CHECK(month.ok(), "VillageInputs.period is a YYYY-MM month");
    period_ = *month;
  }

  Measure Of(const v1::Criterion& criterion) const {
    Measure m;
    switch (criterion.input_case()) {
      case v1::Criterion::kIndicator: {
        const Aggregate a = AggregateOf(criterion.indicator());
        m.actual = a.missing ? 0 : a.value;
        m.value_missing = a.missing;
        m.overridden = a.overridden;
        break;
      }
      case v1::Criterion::kTaskCompletion: {
        const Star star = criterion.task_completion().star();
        const TaskCounts& counts = star == STAR_UNSPECIFIED
                                       ? inputs_.all_tasks
                                       : inputs_.tasks_by_star[StarIndex(star)];
        Rate(static_cast<double>(counts.delivered),
             static_cast<double>(counts.total - counts.cancelled), &m);
        break;
      }
      case v1::Criterion::kReportingCompliance: {
        auto it = inputs_.compliance.find(
            ComplianceWeeks(criterion.reporting_compliance()));
        if (it == inputs_.compliance.end()) {
          m.value_missing = true;
        } else {
          Rate(it->second.weeks_with_report, it->second.weeks, &m);
        }
        break;
      }
      case v1::Criterion::kRegistryField:
        m.actual = criterion.registry_field() == v1::COMMITTEE_MEMBERS
                       ? inputs_.village.committee_members()
                       : inputs_.village.signature_industries_size();
        break;
      case v1::Criterion::kRatio: {
        const Aggregate num = AggregateOf(criterion.ratio().numerator());
        const Aggregate den = AggregateOf(criterion.ratio().denominator());
        m.overridden = num.overridden || den.overridden;
        if (num.missing || den.missing) {
          m.value_missing = true;
        } else {
          Rate(num.value, den.value, &m);
        }
        break;
      }
      case v1::Criterion::INPUT_NOT_SET:
        FIVESTAR_CHECK(false, "a validated criterion has an input");
    }
    if (overrides_ != nullptr) {
      if (auto it = overrides_->criteria.find(criterion.id());
          it != overrides_->criteria.end()) {
        m = {};
        m.actual = it->second;
        m.overridden = true;
      }
    }
    return m;
  }

 private:
  // numerator / denominator; vacuous (met, 1) when the denominator is 0.
  static void Rate(double numerator, double denominator, Measure* m) {
    m->numerator = numerator;
    m->denominator = denominator;
    if (denominator == 0) {
      m->vacuous = true;
      m->actual = 1;
    } else {
      m->actual = numerator / denominator;
    }
  }

  Aggregate AggregateOf(const v1::IndicatorInput& input) const {
    const std::string first = FormatMonth(period_ - (WindowMonths(input) - 1));
    const std::string last = FormatMonth(period_);
    Aggregate a;
    if (overrides_ != nullptr) {
      for (const auto& [key, value] : overrides_->indicators) {
        if (key.first == input.key() && key.second >= first &&
            key.second <= last) {
          a.overridden = true;
        }
      }
    }
    auto values = values_.find(input.key());
    if (values == values_.end()) {
      a.missing = input.aggregation() == v1::LATEST || input.require_data();
      return a;
    }
    auto begin = values->second.lower_bound(first);
    auto end = values->second.upper_bound(last);
    if (begin == end) {
      a.missing = input.aggregation() == v1::LATEST || input.require_data();
      return a;
    }
    if (input.aggregation() == v1::LATEST) {
      a.value = std::prev(end)->second;
    } else {
      for (auto it = begin; it != end; ++it) a.value += it->second;
    }
    return a;
  }

  const VillageInputs& inputs_;
  const IndicatorValues& values_;
  const Overrides* overrides_;
  absl::CivilMonth period_;
};

// The relation that holds when `comparator` does not.
const char* Negation(v1::Comparator comparator) {
  switch (comparator) {
    case v1::GE:
      return "<";
    case v1::GT:
      return "<=";
    case v1::LE:
      return ">";
    case v1::LT:
      return ">=";
    default:
      return "!=";
  }
}

std::string StarName(Star star) {
  return fivestar::common::v1::Star_Name(star);
}

}  // namespace

bool Satisfies(v1::Comparator comparator, double actual, double threshold) {
  switch (comparator) {
    case v1::GE:
      return actual >= threshold;
    case v1::GT:
      return actual > threshold;
    case v1::LE:
      return actual <= threshold;
    case v1::LT:
      return actual < threshold;
    case v1::EQ:
      return std::fabs(actual - threshold) <=
             1e-9 * std::max(1.0, std::fabs(threshold));
    default:
      FIVESTAR_CHECK(false, "a validated criterion has a comparator");
  }
  return false;
}

v1::Evaluation Evaluate(const v1::Rubric& rubric, const VillageInputs& inputs,
                        const Overrides* overrides) {
  // Indicator overrides replace (or add) monthly values before aggregation.
  const IndicatorValues* values = &inputs.indicators;
  IndicatorValues overridden_values;
  if (overrides != nullptr && !overrides->indicators.empty()) {
    overridden_values = inputs.indicators;
    for (const auto& [key, value] : overrides->indicators) {
      overridden_values[key.first][key.second] = value;
    }
    values = &overridden_values;
  }
  const CriterionMeasurer measurer(inputs, *values, overrides);

  std::vector<const v1::StarRule*> rules;
  for (const v1::StarRule& rule : rubric.stars()) rules.push_back(&rule);
  std::stable_sort(rules.begin(), rules.end(),
                   [](const v1::StarRule* a, const v1::StarRule* b) {
                     return a->star() < b->star();
                   });

  v1::Evaluation evaluation;
  evaluation.set_village_id(inputs.village.id());
  evaluation.set_period(inputs.period);
  evaluation.set_rubric_version(rubric.version());
  evaluation.set_target_level(inputs.village.target_level());
  // Causes other than the prerequisite, per star, to build reasons once the
  // prerequisite's outcome is known.
  std::vector<std::vector<std::string>> causes;
  for (const v1::StarRule* rule : rules) {
    v1::StarResult* star = evaluation.add_stars();
    star->set_star(rule->star());
    star->set_pass_mark(rule->pass_mark());
    bool mandatory_met = true;
    std::vector<std::string>& star_causes = causes.emplace_back();
    for (const v1::Criterion& criterion : rule->criteria()) {
      const Measure m = measurer.Of(criterion);
      const bool met = m.vacuous || (!m.value_missing &&
                                     Satisfies(criterion.comparator(), m.actual,
                                               criterion.threshold()));
      v1::CriterionResult* result = star->add_criteria();
      result->set_criterion_id(criterion.id());
      result->set_description(criterion.description());
      result->set_mandatory(criterion.mandatory());
      result->set_comparator(criterion.comparator());
      result->set_threshold(criterion.threshold());
      result->set_actual(m.actual);
      result->set_met(met);
      result->set_points(met ? criterion.points() : 0);
      result->set_max_points(criterion.points());
      result->set_value_missing(m.value_missing);
      result->set_vacuous(m.vacuous);
      result->set_numerator(m.numerator);
      result->set_denominator(m.denominator);
      result->set_overridden(m.overridden);
      star->set_points(star->points() + result->points());
      star->set_max_points(star->max_points() + criterion.points());
      if (!met && criterion.mandatory()) {
        mandatory_met = false;
        star_causes.push_back(absl::StrCat(
            "mandatory criterion ", criterion.id(), " not met (",
            m.value_missing
                ? std::string("no value")
                : absl::StrCat(FormatNumber(m.actual), " ",
                               Negation(criterion.comparator()), " ",
                               FormatNumber(criterion.threshold())),
            ")"));
      }
    }
    star->set_passed(mandatory_met && star->points() >= star->pass_mark());
  }

  const Star prerequisite = rubric.global_rules().prerequisite_star();
  bool prerequisite_passed = true;
  for (const v1::StarResult& star : evaluation.stars()) {
    if (star.star() == prerequisite) prerequisite_passed = star.passed();
  }
  for (int i = 0; i < evaluation.stars_size(); ++i) {
    v1::StarResult* star = evaluation.mutable_stars(i);
    star->set_earned(star->passed() && prerequisite_passed);
    evaluation.set_total_points(evaluation.total_points() + star->points());
    if (star->earned()) {
      evaluation.set_stars_earned(evaluation.stars_earned() + 1);
      continue;
    }
    std::vector<std::string>& star_causes = causes[i];
    if (star->passed()) {
      star_causes.push_back(absl::StrCat(
          "prerequisite star ", StarName(prerequisite), " not passed"));
    }
    star_causes.push_back(
        absl::StrCat(star->points(), " points, ",
                     star->points() >= star->pass_mark() ? "" : "below ",
                     "pass mark ", star->pass_mark()));
    star->set_reason(absl::StrJoin(star_causes, "; "));
  }
  const int cap = rubric.global_rules().max_level();
  evaluation.set_level(cap > 0 ? std::min(evaluation.stars_earned(), cap)
                               : evaluation.stars_earned());
  return evaluation;
}

absl::Status ValidateWhatIf(const v1::WhatIfRequest& request,
                            const v1::Rubric& rubric,
                            const IndicatorCatalogue& catalogue) {
  RETURN_IF_ERROR(ParseMonth("period", request.period()).status());
  if (request.indicator_overrides_size() > kMaxOverrides) {
    return FieldError(
        "indicator_overrides",
        absl::StrCat("must hold at most ", kMaxOverrides, " entries, got ",
                     request.indicator_overrides_size()));
  }
  if (request.criterion_overrides_size() > kMaxOverrides) {
    return FieldError(
        "criterion_overrides",
        absl::StrCat("must hold at most ", kMaxOverrides, " entries, got ",
                     request.criterion_overrides_size()));
  }
  absl::flat_hash_map<std::pair<std::string, std::string>, int> seen;
  for (int i = 0; i < request.indicator_overrides_size(); ++i) {
    const v1::IndicatorOverride& o = request.indicator_overrides(i);
    const std::string f = absl::StrCat("indicator_overrides[", i, "]");
    if (o.indicator_key().empty()) {
      return FieldError(f + ".indicator_key", "required");
    }
    auto info = catalogue.find(o.indicator_key());
    if (info == catalogue.end()) {
      return FieldError(f + ".indicator_key",
                        absl::StrCat("unknown indicator \"", o.indicator_key(),
                                     "\" (not in project tracking's "
                                     "catalogue)"));
    }
    if (!o.period().empty()) {
      RETURN_IF_ERROR(ParseMonth(f + ".period", o.period()).status());
    }
    if (!std::isfinite(o.value())) {
      return FieldError(f + ".value", "must be a finite number");
    }
    if (o.value() < info->second.min_value ||
        o.value() > info->second.max_value) {
      return FieldError(
          f + ".value",
          absl::StrCat("must be ", FormatNumber(info->second.min_value), "..",
                       FormatNumber(info->second.max_value), " for ",
                       o.indicator_key(), ", got ", FormatNumber(o.value())));
    }
    if (info->second.integral && o.value() != std::round(o.value())) {
      return FieldError(
          f + ".value",
          absl::StrCat("must be a whole number for ", o.indicator_key(),
                       ", got ", FormatNumber(o.value())));
    }
    const std::string& period =
        o.period().empty() ? request.period() : o.period();
    if (auto [it, inserted] =
            seen.emplace(std::make_pair(o.indicator_key(), period), i);
        !inserted) {
      return FieldError(
          f, absl::StrCat("duplicate override of ", o.indicator_key(), " for ",
                          period, " (also indicator_overrides[", it->second,
                          "])"));
    }
  }
  absl::flat_hash_set<std::string> criteria;
  for (const v1::StarRule& rule : rubric.stars()) {
    for (const v1::Criterion& criterion : rule.criteria()) {
      criteria.insert(criterion.id());
    }
  }
  absl::flat_hash_map<std::string, int> seen_criteria;
  for (int i = 0; i < request.criterion_overrides_size(); ++i) {
    const v1::CriterionOverride& o = request.criterion_overrides(i);
    const std::string f = absl::StrCat("criterion_overrides[", i, "]");
    if (o.criterion_id().empty()) {
      return FieldError(f + ".criterion_id", "required");
    }
    if (!criteria.contains(o.criterion_id())) {
      return FieldError(
          f + ".criterion_id",
          absl::StrCat("unknown criterion \"", o.criterion_id(),
                       "\" (not in rubric version ", rubric.version(), ")"));
    }
    if (!std::isfinite(o.actual())) {
      return FieldError(f + ".actual", "must be a finite number");
    }
    if (auto [it, inserted] = seen_criteria.emplace(o.criterion_id(), i);
        !inserted) {
      return FieldError(
          f, absl::StrCat("duplicate override of criterion ", o.criterion_id(),
                          " (also criterion_overrides[", it->second, "])"));
    }
  }
  return absl::OkStatus();
}

Overrides OverridesOf(const v1::WhatIfRequest& request) {
  Overrides overrides;
  for (const v1::IndicatorOverride& o : request.indicator_overrides()) {
    overrides.indicators[{o.indicator_key(),
                          o.period().empty() ? request.period() : o.period()}] =
        o.value();
  }
  for (const v1::CriterionOverride& o : request.criterion_overrides()) {
    overrides.criteria[o.criterion_id()] = o.actual();
  }
  return overrides;
}

v1::WhatIfResponse CompareWhatIf(v1::Evaluation baseline,
                                 v1::Evaluation scenario) {
  v1::WhatIfResponse response;
  for (Star star : kStars) {
    auto earned = [star](const v1::Evaluation& evaluation) {
      for (const v1::StarResult& result : evaluation.stars()) {
        if (result.star() == star) return result.earned();
      }
      return false;
    };
    const bool before = earned(baseline);
    const bool after = earned(scenario);
    if (after && !before) response.add_stars_gained(star);
    if (before && !after) response.add_stars_lost(star);
  }
  *response.mutable_baseline() = std::move(baseline);
  *response.mutable_scenario() = std::move(scenario);
  return response;
}

}  // namespace fivestar::scoring
