#include "services/scoring/award_desk.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/field_rules.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "services/scoring/incentives.h"
#include "services/scoring/scoring_fields.h"

namespace fivestar::scoring {
namespace {

using ::fivestar::common::v1::Star;
using google::protobuf::util::TimeUtil;

constexpr int kMaxText = 1000;
// Awards read per page while gathering a village's awards.
constexpr int kAwardPage = 1000;

google::protobuf::Timestamp Stamp(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

absl::Time TimeOf(const google::protobuf::Timestamp& stamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(stamp));
}

bool IsOpen(v1::AwardState state) {
  return state == v1::APPLIED || state == v1::TOWNSHIP_REVIEWED ||
         state == v1::COUNTY_APPROVED || state == v1::PUBLIC_NOTICE;
}

v1::AuthorityLevel LevelOfKind(registry::v1::RegionKind kind) {
  switch (kind) {
    case registry::v1::TOWNSHIP:
      return v1::TOWNSHIP;
    case registry::v1::COUNTY:
      return v1::COUNTY;
    case registry::v1::CITY:
      return v1::CITY;
    case registry::v1::PROVINCE:
      return v1::PROVINCE;
    default:
      return v1::AUTHORITY_LEVEL_UNSPECIFIED;
  }
}

std::string LevelName(v1::AuthorityLevel level) {
  return v1::AuthorityLevel_Name(level);
}

std::string StateName(v1::AwardState state) {
  return v1::AwardState_Name(state);
}

std::string StarName(Star star) {
  return fivestar::common::v1::Star_Name(star);
}

}  // namespace

AwardDesk::AwardDesk(ScoringStore* store, InputsSource* inputs,
                     RubricBook* rubrics, const Jurisdiction* jurisdiction,
                     const Clock* clock)
    : store_(store),
      inputs_(inputs),
      rubrics_(rubrics),
      jurisdiction_(jurisdiction),
      clock_(clock) {}

absl::StatusOr<v1::AuthorityLevel> AwardDesk::AuthorityOver(
    const Principal& principal, const std::vector<std::string>& lineage) {
  if (principal.is_global()) return v1::PROVINCE;
  // The scope is in the lineage (the caller checked the scope); the
  // village itself (index 0) carries no authority.
  for (size_t i = 1; i < lineage.size(); ++i) {
    if (lineage[i] != principal.scope) continue;
    ASSIGN_OR_RETURN(registry::v1::RegionKind kind,
                     jurisdiction_->directory()->RegionKindOf(lineage[i]));
    return LevelOfKind(kind);
  }
  return v1::AUTHORITY_LEVEL_UNSPECIFIED;
}

absl::StatusOr<StoredAward> AwardDesk::Load(const Principal& principal,
                                            const std::string& id, Role role,
                                            absl::string_view what) {
  RETURN_IF_ERROR(ValidateRequiredId("id", id));
  absl::StatusOr<StoredAward> award = store_->GetAward(id);
  if (absl::IsNotFound(award.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, award.status(), what);
  }
  if (absl::IsNotFound(award.status())) {
    return absl::NotFoundError(absl::StrCat("award ", id, " does not exist"));
  }
  RETURN_IF_ERROR(award.status());
  ASSIGN_OR_RETURN(award->lineage,
                   jurisdiction_->AuthorizeVillage(
                       principal, role, award->award.village_id(), "", what));
  return award;
}

absl::Status AwardDesk::RequireAuthority(const Principal& principal,
                                         const StoredAward& award,
                                         v1::AuthorityLevel level,
                                         absl::string_view what) {
  ASSIGN_OR_RETURN(v1::AuthorityLevel have,
                   AuthorityOver(principal, award.lineage));
  if (have < level) {
    return absl::PermissionDeniedError(absl::StrCat(
        "principal ", principal.name, " may not ", what, " award ",
        award.award.id(), ": needs ", LevelName(level),
        " authority or above over village ", award.award.village_id(), ", has ",
        have == v1::AUTHORITY_LEVEL_UNSPECIFIED ? std::string("none")
                                                : LevelName(have)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Star>> AwardDesk::HeldStars(
    const std::string& village_id) {
  AwardQuery query;
  query.village_id = village_id;
  query.state = v1::AWARDED;
  query.limit = kAwardPage;
  ASSIGN_OR_RETURN(std::vector<StoredAward> awards, store_->ListAwards(query));
  std::vector<Star> stars;
  for (const StoredAward& award : awards) stars.push_back(award.award.star());
  std::sort(stars.begin(), stars.end());
  stars.erase(std::unique(stars.begin(), stars.end()), stars.end());
  return stars;
}

absl::Status AwardDesk::CheckQuotas(const v1::Rubric& rubric,
                                    const StoredAward& award) {
  if (rubric.global_rules().quotas().empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<Star> held, HeldStars(award.award.village_id()));
  const int level_after = static_cast<int>(held.size()) + 1;
  for (const v1::LevelQuota& quota : rubric.global_rules().quotas()) {
    if (level_after < quota.min_level()) continue;
    // The village's region of the quota's level.
    std::string region;
    for (size_t i = 1; i < award.lineage.size() && region.empty(); ++i) {
      ASSIGN_OR_RETURN(
          registry::v1::RegionKind kind,
          jurisdiction_->directory()->RegionKindOf(award.lineage[i]));
      if (LevelOfKind(kind) == quota.region_level()) region = award.lineage[i];
    }
    if (region.empty()) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> villages,
                     jurisdiction_->directory()->VillagesUnder(region));
    const int allowed = static_cast<int>(std::floor(
        quota.max_share() * static_cast<double>(villages.size()) + 1e-9));
    ASSIGN_OR_RETURN(int count,
                     store_->CountVillagesAtLevel(region, quota.min_level(),
                                                  award.award.village_id()));
    if (count > allowed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "quota: at most ", allowed, " of the ", villages.size(),
          " villages of ", LevelName(quota.region_level()), " ", region,
          " may hold level ", quota.min_level(), " or more (max_share ",
          quota.max_share(), "); this award would make ", count));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Award> AwardDesk::Transition(const Principal& principal,
                                                StoredAward stored,
                                                v1::AwardState to,
                                                const std::string& comment,
                                                const std::string& etag) {
  const absl::Time now = clock_->Now();
  AwardTransition transition;
  transition.expected_etag = etag;
  transition.award = stored.award;
  transition.award.set_state(to);
  *transition.award.mutable_update_time() = Stamp(now);
  if (to == v1::REJECTED || to == v1::WITHDRAWN) {
    *transition.award.mutable_close_time() = Stamp(now);
    transition.award.set_close_reason(comment);
  }
  if (to == v1::AWARDED) *transition.award.mutable_award_time() = Stamp(now);
  v1::AwardEvent& event = transition.event;
  event.set_award_id(stored.award.id());
  event.set_village_id(stored.award.village_id());
  event.set_star(stored.award.star());
  event.set_from_state(stored.award.state());
  event.set_to_state(to);
  event.set_actor(principal.name);
  event.set_actor_scope(principal.scope);
  event.set_comment(comment);
  *event.mutable_event_time() = Stamp(now);
  return store_->TransitionAward(transition);
}

absl::StatusOr<v1::Award> AwardDesk::Apply(
    const Principal& principal, const v1::ApplyForAwardRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(ValidateStar("star", request.star(), true));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateText("note", request.note(), 0, kMaxText));
  if (!request.request_id().empty()) {
    RETURN_IF_ERROR(ValidateRequestId("request_id", request.request_id()));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                   AuthorizeNamedVillage(*jurisdiction_, principal,
                                         Role::kOperator, request.village_id(),
                                         "apply for a star for village"));
  absl::StatusOr<v1::Evaluation> evaluation =
      store_->GetEvaluation(request.village_id(), request.period());
  if (absl::IsNotFound(evaluation.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "village ", request.village_id(), " has no recorded evaluation for ",
        request.period(), "; evaluate it first"));
  }
  RETURN_IF_ERROR(evaluation.status());
  const v1::StarResult* result = nullptr;
  for (const v1::StarResult& star : evaluation->stars()) {
    if (star.star() == request.star()) result = &star;
  }
  if (result == nullptr || !result->earned()) {
    return absl::FailedPreconditionError(
        absl::StrCat("village ", request.village_id(), " did not earn ",
                     StarName(request.star()),
                     " in its recorded evaluation for ", request.period(),
                     result == nullptr || result->reason().empty()
                         ? std::string()
                         : absl::StrCat(": ", result->reason())));
  }
  const absl::Time now = clock_->Now();
  v1::Award award;
  award.set_village_id(request.village_id());
  award.set_star(request.star());
  award.set_period(request.period());
  award.set_rubric_version(evaluation->rubric_version());
  award.set_points(result->points());
  award.set_state(v1::APPLIED);
  award.set_applicant(principal.name);
  award.set_note(request.note());
  *award.mutable_create_time() = Stamp(now);
  *award.mutable_update_time() = Stamp(now);
  v1::AwardEvent event;
  event.set_village_id(request.village_id());
  event.set_star(request.star());
  event.set_from_state(v1::AWARD_STATE_UNSPECIFIED);
  event.set_to_state(v1::APPLIED);
  event.set_actor(principal.name);
  event.set_actor_scope(principal.scope);
  event.set_comment(request.note());
  *event.mutable_event_time() = Stamp(now);
  RequestKey key;
  if (!request.request_id().empty()) {
    key = {request.request_id(), Fingerprint(request)};
  }
  absl::StatusOr<v1::Award> created =
      store_->CreateAward(award, lineage, event, key);
  RETURN_IF_ERROR(ConcealForeignRequest(principal, Role::kOperator,
                                        created.status(), request.request_id(),
                                        request.village_id()));
  return created;
}

absl::Status AwardDesk::ConcealForeignRequest(const Principal& principal,
                                              Role role,
                                              const absl::Status& status,
                                              const std::string& request_id,
                                              const std::string& village_id) {
  if (!absl::IsAlreadyExists(status) || request_id.empty() ||
      principal.is_global()) {
    return status;
  }
  absl::StatusOr<StoredAward> earlier = store_->FindAwardByRequest(request_id);
  // Not a request id collision: the village's own star is the conflict.
  if (absl::IsNotFound(earlier.status())) return status;
  RETURN_IF_ERROR(earlier.status());
  if (earlier->award.village_id() == village_id) return status;
  RETURN_IF_ERROR(
      jurisdiction_
          ->AuthorizeVillage(principal, role, earlier->award.village_id(), "",
                             absl::StrCat("use request_id ", request_id))
          .status());
  return status;
}

absl::StatusOr<v1::Award> AwardDesk::Review(
    const Principal& principal, const v1::ReviewAwardRequest& request) {
  if (request.decision() != v1::ReviewAwardRequest::APPROVE &&
      request.decision() != v1::ReviewAwardRequest::REJECT) {
    return FieldError("decision", "required: APPROVE or REJECT");
  }
  const bool approve = request.decision() == v1::ReviewAwardRequest::APPROVE;
  RETURN_IF_ERROR(
      ValidateText("comment", request.comment(), approve ? 0 : 1, kMaxText));
  ASSIGN_OR_RETURN(StoredAward award, Load(principal, request.id(),
                                           Role::kOperator, "review award"));
  RETURN_IF_ERROR(
      CheckEtag("award", award.award.id(), request.etag(), award.award.etag()));
  const v1::AwardState state = award.award.state();
  v1::AwardState to;
  v1::AuthorityLevel needed;
  if (state == v1::APPLIED) {
    to = approve ? v1::TOWNSHIP_REVIEWED : v1::REJECTED;
    needed = v1::TOWNSHIP;
  } else if (state == v1::TOWNSHIP_REVIEWED && approve) {
    to = v1::COUNTY_APPROVED;
    needed = v1::COUNTY;
  } else if (!approve &&
             (state == v1::TOWNSHIP_REVIEWED || state == v1::COUNTY_APPROVED ||
              state == v1::PUBLIC_NOTICE)) {
    to = v1::REJECTED;
    needed = v1::COUNTY;
  } else {
    return absl::FailedPreconditionError(absl::StrCat(
        "award ", award.award.id(), " is ", StateName(state), ": no ",
        approve ? "approval" : "rejection", " is possible in that state"));
  }
  RETURN_IF_ERROR(RequireAuthority(principal, award, needed, "review"));
  if (to == v1::COUNTY_APPROVED) {
    ASSIGN_OR_RETURN(v1::Rubric rubric, rubrics_->Resolve(0));
    RETURN_IF_ERROR(CheckQuotas(rubric, award));
    ASSIGN_OR_RETURN(v1::AuthorityLevel level,
                     AuthorityOver(principal, award.lineage));
    award.award.set_recognised_at(level);
  }
  return Transition(principal, std::move(award), to, request.comment(),
                    request.etag());
}

absl::StatusOr<v1::Award> AwardDesk::StartPublicNotice(
    const Principal& principal, const v1::StartPublicNoticeRequest& request) {
  RETURN_IF_ERROR(ValidateRange("notice_days", request.notice_days(), 0, 60));
  RETURN_IF_ERROR(ValidateText("comment", request.comment(), 0, kMaxText));
  ASSIGN_OR_RETURN(StoredAward award,
                   Load(principal, request.id(), Role::kOperator,
                        "start the public notice of award"));
  RETURN_IF_ERROR(
      CheckEtag("award", award.award.id(), request.etag(), award.award.etag()));
  if (award.award.state() != v1::COUNTY_APPROVED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "award ", award.award.id(), " is ", StateName(award.award.state()),
        ": a public notice starts only from COUNTY_APPROVED"));
  }
  RETURN_IF_ERROR(RequireAuthority(principal, award, v1::COUNTY,
                                   "start the public notice of"));
  int days = request.notice_days();
  if (days == 0) {
    ASSIGN_OR_RETURN(v1::Rubric rubric, rubrics_->Resolve(0));
    days = rubric.public_notice_days() > 0 ? rubric.public_notice_days() : 7;
  }
  const absl::Time now = clock_->Now();
  award.award.set_public_notice_days(days);
  *award.award.mutable_public_notice_start_time() = Stamp(now);
  *award.award.mutable_public_notice_end_time() =
      Stamp(now + absl::Hours(24) * days);
  return Transition(principal, std::move(award), v1::PUBLIC_NOTICE,
                    request.comment(), request.etag());
}

absl::StatusOr<v1::Award> AwardDesk::Confirm(
    const Principal& principal, const v1::ConfirmAwardRequest& request) {
  RETURN_IF_ERROR(ValidateText("comment", request.comment(), 0, kMaxText));
  ASSIGN_OR_RETURN(StoredAward award, Load(principal, request.id(),
                                           Role::kOperator, "confirm award"));
  RETURN_IF_ERROR(
      CheckEtag("award", award.award.id(), request.etag(), award.award.etag()));
  if (award.award.state() != v1::PUBLIC_NOTICE) {
    return absl::FailedPreconditionError(absl::StrCat(
        "award ", award.award.id(), " is ", StateName(award.award.state()),
        ": only an award under public notice can be confirmed"));
  }
  RETURN_IF_ERROR(RequireAuthority(principal, award, v1::COUNTY, "confirm"));
  const absl::Time end = TimeOf(award.award.public_notice_end_time());
  if (clock_->Now() < end) {
    return absl::FailedPreconditionError(absl::StrCat(
        "award ", award.award.id(), " is under public notice until ",
        absl::FormatTime(absl::RFC3339_sec, end, absl::UTCTimeZone()),
        "; confirm it after the notice ends"));
  }
  ASSIGN_OR_RETURN(v1::Rubric rubric, rubrics_->Resolve(0));
  ASSIGN_OR_RETURN(std::vector<Star> held, HeldStars(award.award.village_id()));
  const Star prerequisite = rubric.global_rules().prerequisite_star();
  if (prerequisite != fivestar::common::v1::STAR_UNSPECIFIED &&
      award.award.star() != prerequisite &&
      std::find(held.begin(), held.end(), prerequisite) == held.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "prerequisite: village ", award.award.village_id(), " must hold ",
        StarName(prerequisite), " before any other star (rubric version ",
        rubric.version(), ")"));
  }
  const int cap = rubric.global_rules().max_level();
  if (cap > 0 && static_cast<int>(held.size()) + 1 > cap) {
    return absl::FailedPreconditionError(absl::StrCat(
        "level cap: village ", award.award.village_id(), " holds ", held.size(),
        " star(s) and the rubric allows at most ", cap));
  }
  RETURN_IF_ERROR(CheckQuotas(rubric, award));
  return Transition(principal, std::move(award), v1::AWARDED, request.comment(),
                    request.etag());
}

absl::StatusOr<v1::Award> AwardDesk::Withdraw(
    const Principal& principal, const v1::WithdrawAwardRequest& request) {
  RETURN_IF_ERROR(ValidateText("reason", request.reason(), 1, kMaxText));
  ASSIGN_OR_RETURN(StoredAward award, Load(principal, request.id(),
                                           Role::kOperator, "withdraw award"));
  RETURN_IF_ERROR(
      CheckEtag("award", award.award.id(), request.etag(), award.award.etag()));
  const v1::AwardState state = award.award.state();
  if (state == v1::AWARDED) {
    RETURN_IF_ERROR(
        RequireAuthority(principal, award, v1::COUNTY, "withdraw (降星)"));
  } else if (!IsOpen(state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "award ", award.award.id(), " is already ", StateName(state)));
  }
  return Transition(principal, std::move(award), v1::WITHDRAWN,
                    request.reason(), request.etag());
}

absl::StatusOr<v1::Award> AwardDesk::Record(
    const Principal& principal, const v1::RecordAwardRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(ValidateStar("star", request.star(), true));
  if (!request.has_award_time()) return FieldError("award_time", "required");
  ASSIGN_OR_RETURN(absl::Time award_time,
                   ValidateTimestamp("award_time", request.award_time()));
  if (award_time > clock_->Now()) {
    return FieldError("award_time", "must not be in the future");
  }
  if (!v1::AuthorityLevel_IsValid(request.recognised_at()) ||
      request.recognised_at() == v1::AUTHORITY_LEVEL_UNSPECIFIED) {
    return FieldError("recognised_at",
                      "required: TOWNSHIP, COUNTY, CITY or PROVINCE");
  }
  RETURN_IF_ERROR(ValidateText("comment", request.comment(), 1, kMaxText));
  if (!request.request_id().empty()) {
    RETURN_IF_ERROR(ValidateRequestId("request_id", request.request_id()));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                   AuthorizeNamedVillage(*jurisdiction_, principal,
                                         Role::kAdmin, request.village_id(),
                                         "record an award for village"));
  const absl::Time now = clock_->Now();
  v1::Award award;
  award.set_village_id(request.village_id());
  award.set_star(request.star());
  award.set_state(v1::AWARDED);
  award.set_applicant(principal.name);
  award.set_note(request.comment());
  award.set_recognised_at(request.recognised_at());
  *award.mutable_award_time() = request.award_time();
  *award.mutable_create_time() = Stamp(now);
  *award.mutable_update_time() = Stamp(now);
  v1::AwardEvent event;
  event.set_village_id(request.village_id());
  event.set_star(request.star());
  event.set_from_state(v1::AWARD_STATE_UNSPECIFIED);
  event.set_to_state(v1::AWARDED);
  event.set_actor(principal.name);
  event.set_actor_scope(principal.scope);
  event.set_comment(
      absl::StrCat("recorded (awarded before or outside this "
                   "system): ",
                   request.comment()));
  *event.mutable_event_time() = Stamp(now);
  RequestKey key;
  if (!request.request_id().empty()) {
    key = {request.request_id(), Fingerprint(request)};
  }
  absl::StatusOr<v1::Award> created =
      store_->CreateAward(award, lineage, event, key);
  RETURN_IF_ERROR(ConcealForeignRequest(principal, Role::kAdmin,
                                        created.status(), request.request_id(),
                                        request.village_id()));
  return created;
}

absl::StatusOr<v1::Award> AwardDesk::Get(const Principal& principal,
                                         const v1::GetAwardRequest& request) {
  ASSIGN_OR_RETURN(StoredAward award,
                   Load(principal, request.id(), Role::kViewer, "read award"));
  return award.award;
}

absl::Status AwardDesk::ScopeList(const Principal& principal,
                                  std::string* village_id,
                                  std::string* region_id) {
  if (!village_id->empty()) {
    RETURN_IF_ERROR(ValidateId("village_id", *village_id));
    RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
        principal, *village_id, "list the awards of village"));
  }
  if (!region_id->empty()) {
    RETURN_IF_ERROR(ValidateId("ancestor_region_id", *region_id));
    ASSIGN_OR_RETURN(RegionFilterBounds bounds,
                     jurisdiction_->AuthorizeRegionFilter(
                         principal, *region_id, "ancestor_region_id",
                         absl::StrCat("list the awards below ", *region_id)));
    // A region above the scope lists the awards of the scope.
    if (!bounds.village_id.empty()) {
      // The village filter, when set, is this very village (it was
      // readable).
      *village_id = bounds.village_id;
      region_id->clear();
    } else {
      *region_id = bounds.region_id;
    }
  }
  if (village_id->empty() && region_id->empty() && !principal.is_global()) {
    if (principal.role < Role::kViewer) {
      return absl::PermissionDeniedError(
          absl::StrCat("principal ", principal.name, " may not list awards"));
    }
    // Without filters a scoped principal sees its own subtree (or
    // village).
    absl::StatusOr<std::vector<std::string>> region =
        jurisdiction_->directory()->RegionLineage(principal.scope);
    if (region.ok()) {
      *region_id = principal.scope;
    } else if (absl::IsNotFound(region.status())) {
      *village_id = principal.scope;
    } else {
      return region.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListAwardsResponse> AwardDesk::List(
    const Principal& principal, const v1::ListAwardsRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  RETURN_IF_ERROR(ValidateStar("star", request.star(), false));
  if (!v1::AwardState_IsValid(request.state())) {
    return FieldError("state", absl::StrCat("unknown value ", request.state()));
  }
  AwardQuery query;
  query.village_id = request.village_id();
  query.ancestor_region_id = request.ancestor_region_id();
  query.star = request.star();
  query.state = request.state();
  ASSIGN_OR_RETURN(query.after,
                   pager.Resume(request.page_token(),
                                absl::StrCat("awards|", query.village_id, "|",
                                             query.ancestor_region_id, "|",
                                             query.star, "|", query.state)));
  RETURN_IF_ERROR(
      ScopeList(principal, &query.village_id, &query.ancestor_region_id));
  query.limit = pager.fetch_limit();
  ASSIGN_OR_RETURN(std::vector<StoredAward> awards, store_->ListAwards(query));
  v1::ListAwardsResponse response;
  response.set_next_page_token(
      pager.Trim(awards, [](const StoredAward& a) { return a.position; }));
  for (StoredAward& award : awards) {
    *response.add_awards() = std::move(award.award);
  }
  return response;
}

absl::StatusOr<v1::ListAwardEventsResponse> AwardDesk::ListEvents(
    const Principal& principal, const v1::ListAwardEventsRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  AwardEventQuery query;
  query.award_id = request.award_id();
  query.village_id = request.village_id();
  query.ancestor_region_id = request.ancestor_region_id();
  ASSIGN_OR_RETURN(std::string after,
                   pager.Resume(request.page_token(),
                                absl::StrCat("events|", query.award_id, "|",
                                             query.village_id, "|",
                                             query.ancestor_region_id)));
  if (!after.empty() && !absl::SimpleAtoi(after, &query.after_sequence)) {
    return FieldError("page_token", "corrupt");
  }
  if (!query.award_id.empty()) {
    RETURN_IF_ERROR(Load(principal, query.award_id, Role::kViewer,
                         "read the events of award")
                        .status());
  } else {
    RETURN_IF_ERROR(
        ScopeList(principal, &query.village_id, &query.ancestor_region_id));
  }
  query.limit = pager.fetch_limit();
  ASSIGN_OR_RETURN(std::vector<v1::AwardEvent> events,
                   store_->ListAwardEvents(query));
  v1::ListAwardEventsResponse response;
  response.set_next_page_token(pager.Trim(events, [](const v1::AwardEvent& e) {
    return absl::StrCat(e.sequence());
  }));
  for (v1::AwardEvent& event : events) {
    *response.add_events() = std::move(event);
  }
  return response;
}

absl::StatusOr<v1::Incentives> AwardDesk::GetIncentives(
    const Principal& principal, const v1::GetIncentivesRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  const absl::Time now = clock_->Now();
  const int this_year = static_cast<int>(DayInChina(now).year());
  RETURN_IF_ERROR(ValidateRange("year", request.year(), 2000, this_year));
  RETURN_IF_ERROR(AuthorizeNamedVillage(*jurisdiction_, principal,
                                        Role::kViewer, request.village_id(),
                                        "read the incentives of village")
                      .status());
  ASSIGN_OR_RETURN(registry::v1::Village village,
                   inputs_->GetVillage(request.village_id()));
  ASSIGN_OR_RETURN(v1::Rubric rubric, rubrics_->Resolve(0));
  std::vector<v1::Award> awards;
  AwardQuery query;
  query.village_id = request.village_id();
  query.limit = kAwardPage;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<StoredAward> page, store_->ListAwards(query));
    for (StoredAward& award : page) awards.push_back(std::move(award.award));
    if (static_cast<int>(page.size()) < kAwardPage) break;
    query.after = page.back().position;
  }
  return ComputeIncentives(rubric, request.village_id(), request.year(), now,
                           awards, village.committee_members());
}

}  // namespace fivestar::scoring
