// The rubric versions (评星方案): CreateRubric, GetRubric, ListRubrics,
// SetActiveRubric, the default rubric stored at first start, and the
// active version every evaluation, award check and incentive uses.
#ifndef FIVESTAR_SERVICES_SCORING_RUBRIC_BOOK_H_
#define FIVESTAR_SERVICES_SCORING_RUBRIC_BOOK_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/clock.h"
#include "fivestar/scoring/v1/scoring.pb.h"
#include "services/scoring/inputs_source.h"
#include "services/scoring/rubric.h"
#include "services/scoring/scoring_store.h"

namespace fivestar::scoring {

class RubricBook {
 public:
  // Everything must outlive the book. `shared`: other replicas write the
  // same database (and may activate another rubric), so the active rubric
  // is read from the store at every use instead of kept in memory.
  RubricBook(ScoringStore* store, InputsSource* inputs, const Clock* clock,
             bool shared = false);

  // At start-up: parses and checks the rubric file at `path` (the built-in
  // default rubric when empty) against every rule but the indicator keys,
  // which need project tracking, and, when the database holds no rubric
  // yet, stores it as version 1, active. An error names the file and the
  // line or field.
  absl::Status Seed(const std::string& path);

  absl::StatusOr<v1::Rubric> CreateRubric(
      const Principal& principal, const v1::CreateRubricRequest& request);
  absl::StatusOr<v1::Rubric> GetRubric(const Principal& principal, int version);
  absl::StatusOr<v1::ListRubricsResponse> ListRubrics(
      const Principal& principal, const v1::ListRubricsRequest& request);
  absl::StatusOr<v1::Rubric> SetActiveRubric(const Principal& principal,
                                             int version);

  // The rubric of `version` (0: the active one). `field` names the request
  // field for NOT_FOUND messages.
  absl::StatusOr<v1::Rubric> Resolve(int version);
  // Project tracking's indicator catalogue, reused for a minute.
  absl::StatusOr<IndicatorCatalogue> Catalogue();

 private:
  ScoringStore* const store_;
  InputsSource* const inputs_;
  const Clock* const clock_;
  const bool shared_;

  absl::Mutex mu_;
  // The active rubric, read once and replaced when another is activated
  // (never kept when shared_).
  std::shared_ptr<const v1::Rubric> active_ ABSL_GUARDED_BY(mu_);
  IndicatorCatalogue catalogue_ ABSL_GUARDED_BY(mu_);
  absl::Time catalogue_expires_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_RUBRIC_BOOK_H_
