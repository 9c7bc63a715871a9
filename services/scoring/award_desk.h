// The award workflow (申报 → 初审 → 审核 → 公示 → 命名, rejection,
// withdrawal and 降星), its append-only event trail, and the incentives the
// awarded stars earn.
//
// Authority: a principal acts on a village with the level of the region
// its scope names (a township's operator with township authority, a
// county's with county authority, a global principal with provincial
// authority) and only over the villages below that region. Each transition
// names the least authority it needs (see scoring.proto).
#ifndef FIVESTAR_SERVICES_SCORING_AWARD_DESK_H_
#define FIVESTAR_SERVICES_SCORING_AWARD_DESK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/inputs_source.h"
#include "services/scoring/rubric_book.h"
#include "services/scoring/scoring_store.h"

namespace fivestar::scoring {

class AwardDesk {
 public:
  // Everything must outlive the desk.
  AwardDesk(ScoringStore* store, InputsSource* inputs, RubricBook* rubrics,
            const Jurisdiction* jurisdiction, const Clock* clock);

  absl::StatusOr<v1::Award> Apply(const Principal& principal,
                                  const v1::ApplyForAwardRequest& request);
  absl::StatusOr<v1::Award> Review(const Principal& principal,
                                   const v1::ReviewAwardRequest& request);
  absl::StatusOr<v1::Award> StartPublicNotice(
      const Principal& principal, const v1::StartPublicNoticeRequest& request);
  absl::StatusOr<v1::Award> Confirm(const Principal& principal,
                                    const v1::ConfirmAwardRequest& request);
  absl::StatusOr<v1::Award> Withdraw(const Principal& principal,
                                     const v1::WithdrawAwardRequest& request);
  absl::StatusOr<v1::Award> Record(const Principal& principal,
                                   const v1::RecordAwardRequest& request);
  absl::StatusOr<v1::Award> Get(const Principal& principal,
                                const v1::GetAwardRequest& request);
  absl::StatusOr<v1::ListAwardsResponse> List(
      const Principal& principal, const v1::ListAwardsRequest& request);
  absl::StatusOr<v1::ListAwardEventsResponse> ListEvents(
      const Principal& principal, const v1::ListAwardEventsRequest& request);
  absl::StatusOr<v1::Incentives> GetIncentives(
      const Principal& principal, const v1::GetIncentivesRequest& request);

  // The authority level `principal` has over a village whose lineage is
  // `lineage` ([village, region, ..., root]): AUTHORITY_LEVEL_UNSPECIFIED
  // when its scope is a village or a district (no review authority).
  absl::StatusOr<v1::AuthorityLevel> AuthorityOver(
      const Principal& principal, const std::vector<std::string>& lineage);

 private:
  // Loads an award for a transition and checks that `principal` may act on
  // its village with at least `role`; returns the award's village lineage.
  // An award that does not exist is NOT_FOUND for a global principal only;
  // a scoped one gets the refusal of an award outside its scope
  // (ConcealAbsence).
  absl::StatusOr<StoredAward> Load(const Principal& principal,
                                   const std::string& id, Role role,
                                   absl::string_view what);
  // `status` is the outcome of creating an award for `village_id` with
  // `request_id`. When that request id already created an award of a
  // village outside a scoped principal's scope, the ALREADY_EXISTS (which
  // names that award) becomes the PERMISSION_DENIED of a target outside
  // the scope; anything else comes back unchanged.
  absl::Status ConcealForeignRequest(const Principal& principal, Role role,
                                     const absl::Status& status,
                                     const std::string& request_id,
                                     const std::string& village_id);
  // FAILED_PRECONDITION unless `principal` has at least `level` over the
  // award's village.
  absl::Status RequireAuthority(const Principal& principal,
                                const StoredAward& award,
                                v1::AuthorityLevel level,
                                absl::string_view what);
  // The rubric's per-level quotas for `village_id` gaining one star.
  absl::Status CheckQuotas(const v1::Rubric& rubric, const StoredAward& award);
  // Stars the village holds now (AWARDED).
  absl::StatusOr<std::vector<fivestar::common::v1::Star>> HeldStars(
      const std::string& village_id);
  // Writes the transition of `award` to `to` with `comment`.
  absl::StatusOr<v1::Award> Transition(const Principal& principal,
                                       StoredAward award, v1::AwardState to,
                                       const std::string& comment,
                                       const std::string& etag);
  // The scope filter of a list for `principal`: region and village filters
  // it may use, checked.
  absl::Status ScopeList(const Principal& principal, std::string* village_id,
                         std::string* region_id);

  ScoringStore* const store_;
  InputsSource* const inputs_;
  RubricBook* const rubrics_;
  const Jurisdiction* const jurisdiction_;
  const Clock* const clock_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_AWARD_DESK_H_
