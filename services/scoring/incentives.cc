#include "services/scoring/incentives.h"

#include <algorithm>

#include "absl/time/civil_time.h"
#include "common/calendar.h"
#include "services/scoring/village_inputs.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::STAR_UNSPECIFIED;

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// Whether `star` is held at `t` by an award of `village_id` recognised at
// `min_authority` or above.
bool StarHeld(const std::vector<v1::Award>& awards,
              const std::string& village_id, Star star, absl::Time t,
              v1::AuthorityLevel min_authority) {
  return std::any_of(awards.begin(), awards.end(), [&](const v1::Award& a) {
    return a.village_id() == village_id && a.star() == star &&
           a.recognised_at() >= min_authority && HeldAt(a, t);
  });
}

}  // namespace

bool HeldAt(const v1::Award& award, absl::Time t) {
  // Only AWARDED and WITHDRAWN (降星) awards ever reached AWARDED.
  if (award.state() != v1::AWARDED && award.state() != v1::WITHDRAWN) {
    return false;
  }
  if (!award.has_award_time() || TimeOf(award.award_time()) > t) return false;
  return !(award.state() == v1::WITHDRAWN && TimeOf(award.close_time()) <= t);
}

v1::Incentives ComputeIncentives(const v1::Rubric& rubric,
                                 const std::string& village_id, int year,
                                 absl::Time now,
                                 const std::vector<v1::Award>& awards,
                                 int committee_members) {
  v1::Incentives incentives;
  incentives.set_village_id(village_id);
  incentives.set_year(year);
  incentives.set_rubric_version(rubric.version());
  const bool current = MonthInChina(now).year() == year;
  incentives.set_provisional(current);
  const absl::Time at = current ? now : EndOfMonth(absl::CivilMonth(year, 12));

  bool prerequisite_held = true;
  const Star prerequisite = rubric.global_rules().prerequisite_star();
  for (Star star : kStars) {
    if (StarHeld(awards, village_id, star, at,
                 v1::AUTHORITY_LEVEL_UNSPECIFIED)) {
      incentives.add_awarded_stars(star);
    } else if (star == prerequisite) {
      prerequisite_held = false;
    }
  }
  int level = prerequisite_held ? incentives.awarded_stars_size() : 0;
  if (const int cap = rubric.global_rules().max_level(); cap > 0) {
    level = std::min(level, cap);
  }
  incentives.set_level(level);

  // The level incentive that applies: the highest min_level reached.
  const v1::IncentiveRule* level_rule = nullptr;
  for (const v1::IncentiveRule& rule : rubric.incentive_rules()) {
    if (rule.rule_case() == v1::IncentiveRule::kLevel &&
        rule.level().min_level() <= level &&
        (level_rule == nullptr ||
         rule.level().min_level() > level_rule->level().min_level())) {
      level_rule = &rule;
    }
  }

  for (const v1::IncentiveRule& rule : rubric.incentive_rules()) {
    if (&rule == level_rule) {
      if (rule.level().work_funds_yuan() > 0) {
        v1::IncentiveItem* item = incentives.add_items();
        item->set_rule_id(rule.id());
        item->set_kind(v1::WORK_FUNDS);
        item->set_description(rule.description());
        item->set_amount_yuan(rule.level().work_funds_yuan());
      }
      if (rule.level().base_pay_uplift_percent() > 0) {
        v1::IncentiveItem* item = incentives.add_items();
        item->set_rule_id(rule.id());
        item->set_kind(v1::BASE_PAY_UPLIFT);
        item->set_description(rule.description());
        item->set_percent(rule.level().base_pay_uplift_percent());
      }
    } else if (rule.rule_case() == v1::IncentiveRule::kStarRecognition) {
      const v1::StarRecognitionIncentive& recognition = rule.star_recognition();
      int months = 0;
      for (int month = 1; month <= 12; ++month) {
        const absl::Time end = EndOfMonth(absl::CivilMonth(year, month));
        if (current && end > now) break;
        if (StarHeld(awards, village_id, recognition.star(), end,
                     recognition.min_authority())) {
          ++months;
        }
      }
      if (months == 0) continue;
      v1::IncentiveItem* item = incentives.add_items();
      item->set_rule_id(rule.id());
      item->set_kind(v1::COMMITTEE_MEMBER_BONUS);
      item->set_description(rule.description());
      item->set_amount_yuan(recognition.monthly_bonus_yuan_per_member() *
                            committee_members * months);
      item->set_star(recognition.star());
      item->set_months(months);
      item->set_members(committee_members);
    }
  }
  for (const v1::IncentiveItem& item : incentives.items()) {
    incentives.set_total_yuan(incentives.total_yuan() + item.amount_yuan());
  }
  return incentives;
}

}  // namespace fivestar::scoring
