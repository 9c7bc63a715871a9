// The monthly indicator values of villages: setting them (checked against
// the catalogue, atomically, idempotently) and listing them.
#ifndef FIVESTAR_SERVICES_PROJECTS_INDICATOR_LEDGER_H_
#define FIVESTAR_SERVICES_PROJECTS_INDICATOR_LEDGER_H_

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Most values one SetIndicatorValues call may carry.
inline constexpr int kMaxValuesPerRequest = 10'000;

class IndicatorLedger {
 public:
  // Every argument must outlive the ledger.
  IndicatorLedger(ProjectsStore* store, const Jurisdiction* jurisdiction,
                  const Clock* clock)
      : store_(store), jurisdiction_(jurisdiction), clock_(clock) {}

  // Sets the values of the request in one transaction; the principal needs
  // the reporter role over every village named.
  absl::StatusOr<v1::SetIndicatorValuesResponse> SetValues(
      const Principal& principal, const v1::SetIndicatorValuesRequest& request);

  absl::StatusOr<v1::ListIndicatorValuesResponse> ListValues(
      const Principal& principal,
      const v1::ListIndicatorValuesRequest& request);

 private:
  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const Clock* clock_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_INDICATOR_LEDGER_H_
