// Summaries of a village or of every village below a region up to the end
// of a month: practical tasks total vs delivered (the article's 193 / 145 →
// 75.1 %), overdue tasks, weekly reporting compliance (一周一汇报) and
// indicator totals.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_
#define FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// Computes summaries from rows read in bulk: the tasks, reporting weeks and
// indicator values of all the villages concerned come from a few store
// queries, whether it is one village, a region's total, or a page of
// per-village summaries.
class ProgressSummaries {
 public:
  // Every argument must outlive the summaries.
  ProgressSummaries(ProjectsStore* store, const Jurisdiction* jurisdiction,
                    const Clock* clock)
      : store_(store), jurisdiction_(jurisdiction), clock_(clock) {}

  // The figures as of the end of `request.period` (or now, for the current
  // month), as the Summary message defines them.
  absl::StatusOr<v1::Summary> GetSummary(const Principal& principal,
                                         const v1::GetSummaryRequest& request);

  // One summary per village below `request.region_id`, a page of villages
  // at a time in village-id order; each summary is exactly the one
  // GetSummary returns for that village with the same period, weeks and
  // indicator months.
  absl::StatusOr<v1::ListVillageSummariesResponse> ListVillageSummaries(
      const Principal& principal,
      const v1::ListVillageSummariesRequest& request);

 private:
  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const Clock* clock_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_
