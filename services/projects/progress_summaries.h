// Summaries of a village or of every village below a region up to the end
// of a month: practical tasks total vs delivered (the article's 193 / 145 →
// 75.1 %), overdue tasks, weekly reporting compliance (一周一汇报) and
// indicator totals.
#ifndef FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_
#define FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/registry_client/jurisdiction.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

// What one village contributes to the summaries of one closed month's
// window (period, weeks, indicator months): every figure of a Summary is a
// sum over villages of these, added in village order (defined in the .cc).
struct VillageFigures;
// What a summary covers once its fields are checked (defined in the .cc).
struct SummaryWindow;
// The indicator keys named by kept figures, each stored once (defined in
// the .cc).
class IndicatorKeys;

// Computes summaries from rows read in bulk: the tasks, reporting weeks and
// indicator values of all the villages concerned come from a few store
// queries, whether it is one village, a region's total, or a page of
// per-village summaries.
//
// GetSummary of a closed month (before the current one, so its instant is
// fixed) keeps each village's figures for that window and adds a region's
// up from them; a village's figures are dropped when the change feed shows
// a write to the village (every write of projects, reports and indicator
// values appends a change naming its village), and read again from the
// store on the next summary that needs them. ListVillageSummaries of a
// closed month reads the change feed as well and keeps the figures of the
// villages of its page (from the same rows as their summaries), so a
// region evaluated page by page is then added up without reading its rows
// again. Figures read from rows are also kept in the store's database
// (ProjectsStore's kept figures, written without waiting), and a village
// whose figures are not on the heap is looked up there before its rows
// are read: the heap holds at most `max_cached_villages`, the database a
// nation's, and a write to a village deletes its kept figures in the
// write's own transaction, so they are never stale whichever process (or
// replica) kept them. Indicator kinds are read on every call (definitions
// append no change), and the region's villages come from the directory on every
// call. The figures are identical to a computation from the rows: integer
// counts add exactly,
// and indicator values are added in the same order as from the rows. The
// current month's summaries depend on the time of the request and are
// computed from the rows every time.
//
// A region's closed-month summary is also kept whole, with the villages
// and indicator kinds it was added up from: asked again, it is answered
// as kept when the directory names the same villages, the kinds are the
// same and the change feed has named none of those villages since, so a
// province costs a comparison of its village list rather than a sum over
// 46,000 villages' figures. A change naming one of its villages drops it
// (the next call adds the region up again from the village figures).
class ProgressSummaries {
 public:
  // The most village figures kept (over all windows); beyond it they are
  // all dropped and read again as needed. A village's figures cost about
  // 1.6 KB with its share of the kept region sums (measured: projects'
  // peak RSS at a nation's evaluation against a province's), so the
  // default takes a province of Henan's size (46,000 villages, one window)
  // whole and bounds the cache to about 80 MB however large the country.
  static constexpr size_t kDefaultMaxCachedVillages = 50'000;

  // Figures read from the rows of fewer villages at once than this are not
  // kept in the database: a township's rows (about 20 villages) are read
  // about as fast as the write would take, while a county's (175 - 300) or
  // an evaluation's page (up to 1,000) are kept. So a region whose villages
  // change one at a time reads those again without writing on every read.
  static constexpr size_t kDefaultMinVillagesKeptInDatabase = 50;

  // Every argument must outlive the summaries. `max_cached_villages` 0
  // disables the closed-month cache (every summary from the rows), in the
  // database too.
  ProgressSummaries(
      ProjectsStore* store, const Jurisdiction* jurisdiction,
      const Clock* clock,
      size_t max_cached_villages = kDefaultMaxCachedVillages,
      size_t min_villages_kept_in_database = kDefaultMinVillagesKeptInDatabase);
  ~ProgressSummaries();

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
  using Figures = std::shared_ptr<const VillageFigures>;

  // A region's summary for one window as it was added up: the villages
  // (ascending) and kinds it covers decide whether it still holds.
  struct RegionSum {
    std::vector<std::string> villages;
    absl::flat_hash_map<std::string, v1::IndicatorKind> kinds;
    v1::Summary summary;
  };

  // The summary of `villages` (ascending) for a closed month's `window`
  // (period, weeks, indicator months), from kept village figures and the
  // rows of the villages without. `region_id` non-empty: `villages` are
  // the region's, and its summary is kept whole and reused as above.
  absl::StatusOr<v1::Summary> SummarizeClosedMonth(
      const std::vector<std::string>& villages, const SummaryWindow& window,
      const std::string& region_id);
  // SummarizeClosedMonth past its kept region sum: adds `villages` up from
  // their figures (reading the rows of those not kept), as of change
  // `seen`, and keeps the sum under `sum_key` when non-empty. `read_kinds`
  // are the indicator kinds when already read for this call.
  absl::StatusOr<v1::Summary> SumKept(
      const std::vector<std::string>& villages, const SummaryWindow& window,
      uint64_t seen, const std::string& sum_key,
      std::optional<absl::flat_hash_map<std::string, v1::IndicatorKind>>
          read_kinds);
  // Keeps `figures` (of `villages`, in the same order) for `window_key`,
  // read from rows read after change `seen` was seen, unless a change was
  // seen since.
  void KeepFigures(const std::string& window_key,
                   const std::vector<std::string>& villages,
                   const std::vector<Figures>& figures, uint64_t seen)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps `figures` (of `villages`, in the same order), read from rows read
  // after change `seen` was seen, in the store's kept figures, without
  // waiting for the write; not when they are fewer than
  // min_villages_kept_in_database_.
  void KeepInDatabase(const std::string& window_key,
                      const std::vector<std::string>& villages,
                      const std::vector<Figures>& figures, uint64_t seen);
  // Drops every kept region sum that names a village of `changed`.
  void DropRegionSums(const absl::flat_hash_set<std::string>& changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the figures of every village the change feed names after the
  // last change seen; returns the newest change seen.
  absl::StatusOr<uint64_t> CatchUpWithChanges();

  ProjectsStore* store_;
  const Jurisdiction* jurisdiction_;
  const Clock* clock_;
  const size_t max_cached_villages_;
  const size_t min_villages_kept_in_database_;
  // Declared before the figures, which point into it.
  const std::unique_ptr<IndicatorKeys> keys_;

  absl::Mutex mu_;
  // Changes through this sequence have dropped the figures they touch.
  bool seen_changes_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t changes_seen_ ABSL_GUARDED_BY(mu_) = 0;
  // Window key → village → figures.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Figures>>
      figures_ ABSL_GUARDED_BY(mu_);
  size_t cached_villages_ ABSL_GUARDED_BY(mu_) = 0;
  // Window key and region → the region's summary as last added up.
  absl::flat_hash_map<std::string, std::shared_ptr<const RegionSum>>
      region_sums_ ABSL_GUARDED_BY(mu_);
  // Villages named by the kept region sums, over all of them.
  size_t summed_villages_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_PROGRESS_SUMMARIES_H_
