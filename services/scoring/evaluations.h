// Evaluate, GetEvaluation, EvaluateRegion, WhatIf and GetGap, and the
// re-evaluations the change-feed followers ask for: reads a village's
// inputs from the peers, runs the rubric (evaluator.h, gap.h), records the
// results as the village's standing when the active rubric was used, and
// puts them on the leaderboards.
#ifndef FIVESTAR_SERVICES_SCORING_EVALUATIONS_H_
#define FIVESTAR_SERVICES_SCORING_EVALUATIONS_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/inputs_source.h"
#include "services/scoring/leaderboards.h"
#include "services/scoring/rubric_book.h"
#include "services/scoring/scoring_store.h"

namespace fivestar::scoring {

// A village and the months to re-evaluate it for.
struct Reevaluation {
  std::string village_id;
  std::vector<std::string> periods;
};

class Evaluations {
 public:
  // Everything must outlive the object.
  Evaluations(ScoringStore* store, InputsSource* inputs, RubricBook* rubrics,
              Leaderboards* boards, const Jurisdiction* jurisdiction,
              const Clock* clock);

  absl::StatusOr<v1::Evaluation> Evaluate(const Principal& principal,
                                          const v1::EvaluateRequest& request);
  absl::StatusOr<v1::Evaluation> GetEvaluation(
      const Principal& principal, const v1::GetEvaluationRequest& request);
  // Runs a region evaluation, handing each progress message to `emit`
  // (which returns false when the client is gone: the walk then stops,
  // keeping what it recorded). Returns the call's status; the final DONE
  // message has been emitted when it is OK.
  absl::Status EvaluateRegion(
      const Principal& principal, const v1::EvaluateRegionRequest& request,
      const std::function<bool(v1::EvaluateRegionResponse)>& emit);
  absl::StatusOr<v1::WhatIfResponse> WhatIf(const Principal& principal,
                                            const v1::WhatIfRequest& request);
  absl::StatusOr<v1::Gap> GetGap(const Principal& principal,
                                 const v1::GetGapRequest& request);

  // For the change-feed followers: re-evaluates each village for each of
  // its months with the active rubric and records every result, together
  // with `cursor`, in one transaction, then updates the boards. A village
  // the registry no longer knows loses its standings. UNAVAILABLE when a
  // peer cannot be reached (nothing is recorded; the follower retries).
  absl::Status Reevaluate(const std::vector<Reevaluation>& work,
                          const std::optional<CursorUpdate>& cursor);

  // The months recorded for a village (for the followers).
  absl::StatusOr<std::vector<std::string>> RecordedPeriods(
      const std::string& village_id) {
    return store_->RecordedPeriods(village_id);
  }
  ScoringStore* store() { return store_; }

 private:
  // Evaluates from read inputs; sets evaluate_time, not `recorded`.
  v1::Evaluation Run(const v1::Rubric& rubric, const VillageInputs& inputs);
  // Records `records` (with `cursor`) and, with `publish`, writes them
  // through to the boards. With `tops`, adds to it the top region of every
  // lineage the records had and now have (the boards a rebuild must cover).
  absl::Status Record(std::vector<EvaluationRecord> records,
                      const std::optional<CursorUpdate>& cursor, bool publish,
                      absl::flat_hash_set<std::string>* tops = nullptr)
      ABSL_LOCKS_EXCLUDED(record_mu_);

  ScoringStore* const store_;
  InputsSource* const inputs_;
  RubricBook* const rubrics_;
  Leaderboards* const boards_;
  const Jurisdiction* const jurisdiction_;
  const Clock* const clock_;

  // Held from a write of standings to the store until its write-through to
  // the boards is done, so the cache receives the writes in the order the
  // store committed them: two evaluations of one village at once must leave
  // the cache with the one the store kept, not whichever write-through came
  // last. (Region rebuilds need not hold it: they read the store afresh.)
  absl::Mutex record_mu_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_EVALUATIONS_H_
