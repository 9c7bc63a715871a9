// Pieces shared by the summary tests that drive ProgressSummaries on a
// real SQLite store without a registry: a region tree held in memory whose
// regions can move, and writes of reports and cancellations straight to
// the store, as the project tracker would make them.
#ifndef FIVESTAR_TESTS_PROJECTS_MEMORY_REGION_TREE_H_
#define FIVESTAR_TESTS_PROJECTS_MEMORY_REGION_TREE_H_

#include <google/protobuf/util/time_util.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/change_feed.h"
#include "common/registry_client/village_directory.h"
#include "common/status.h"
#include "services/projects/project_tracker.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects::testing {

// A region tree in memory: root "41" (a province) → 3 counties "41-c0".. →
// 2 townships each "41-c0-t0".. → 4 villages each "41-c0-t0-v0"... A
// region can be moved under another parent, as in the registry.
class MemoryRegionTree final : public VillageDirectory {
 public:
  MemoryRegionTree() {
    for (int c = 0; c < 3; ++c) {
      const std::string county = absl::StrFormat("41-c%d", c);
      parent_[county] = "41";
      for (int t = 0; t < 2; ++t) {
        const std::string township = absl::StrFormat("%s-t%d", county, t);
        parent_[township] = county;
        for (int v = 0; v < 4; ++v) {
          village_region_[absl::StrFormat("%s-v%d", township, v)] = township;
        }
      }
    }
    parent_["41"] = "";
  }

  absl::StatusOr<std::vector<std::string>> VillageLineage(
      const std::string& village_id) override {
    absl::MutexLock lock(&mu_);
    auto it = village_region_.find(village_id);
    if (it == village_region_.end()) return absl::NotFoundError(village_id);
    std::vector<std::string> lineage = {village_id};
    for (std::string region = it->second; !region.empty();
         region = parent_.at(region)) {
      lineage.push_back(region);
    }
    return lineage;
  }
  absl::StatusOr<std::vector<std::string>> RegionLineage(
      const std::string& region_id) override {
    absl::MutexLock lock(&mu_);
    if (parent_.count(region_id) == 0) return absl::NotFoundError(region_id);
    std::vector<std::string> lineage;
    for (std::string region = region_id; !region.empty();
         region = parent_.at(region)) {
      lineage.push_back(region);
    }
    return lineage;
  }
  // Kinds by depth, as first built: the root, the counties, the townships.
  absl::StatusOr<registry::v1::RegionKind> RegionKindOf(
      const std::string& region_id) override {
    ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                     RegionLineage(region_id));
    static constexpr registry::v1::RegionKind kKinds[] = {
        registry::v1::PROVINCE, registry::v1::COUNTY, registry::v1::TOWNSHIP};
    return kKinds[lineage.size() - 1];
  }
  absl::StatusOr<std::vector<std::string>> VillagesUnder(
      const std::string& region_id) override {
    std::vector<std::string> out;
    for (const std::string& village : villages()) {
      ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                       VillageLineage(village));
      if (std::find(lineage.begin(), lineage.end(), region_id) !=
          lineage.end()) {
        out.push_back(village);
      }
    }
    return out;  // std::map: in id order.
  }

  // `region` gets `parent` as its parent (a move in the registry).
  void Move(const std::string& region, const std::string& parent) {
    absl::MutexLock lock(&mu_);
    parent_.at(region) = parent;
  }
  // Every region, the root included, in id order.
  std::vector<std::string> regions() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& [region, parent] : parent_) out.push_back(region);
    return out;
  }
  // Every village, in id order.
  std::vector<std::string> villages() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& [village, region] : village_region_) {
      out.push_back(village);
    }
    return out;
  }
  // The village's path as the store keeps it (for its writes).
  std::string PathOf(const std::string& village) {
    return LineagePath(*VillageLineage(village));
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> parent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> village_region_ ABSL_GUARDED_BY(mu_);
};

// The start of the day in the service's calendar.
inline absl::Time Day(int year, int month, int day) {
  return StartOfDay(absl::CivilDay(year, month, day));
}

// Defines each indicator of `kinds` (key → kind) in `store`: named by its
// key, counted in 个, at most 1e9.
inline absl::Status DefineIndicators(
    ProjectsStore* store,
    const std::vector<std::pair<std::string, v1::IndicatorKind>>& kinds) {
  for (const auto& [key, kind] : kinds) {
    IndicatorDefinition definition;
    definition.set_key(key);
    definition.set_name_zh(key);
    definition.set_unit("个");
    definition.set_kind(kind);
    definition.set_max_value(1e9);
    RETURN_IF_ERROR(store->CreateIndicatorDefinition(definition).status());
  }
  return absl::OkStatus();
}

// Appends a report of `quantity` at `time` to `project` in `store`, with
// the project's totals and status as the tracker derives them; returns the
// project as stored after it.
inline absl::StatusOr<Project> StoreReport(ProjectsStore* store,
                                           const Project& project,
                                           absl::Time time, double quantity,
                                           const std::string& village_path) {
  ProgressReport report;
  report.set_project_id(project.id());
  report.set_quantity(quantity);
  report.set_reporter("fixture");
  *report.mutable_report_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(time));
  Project updated = project;
  updated.set_delivered_quantity(project.delivered_quantity() + quantity);
  updated.set_report_count(project.report_count() + 1);
  if (updated.status() != v1::CANCELLED) {
    updated.set_status(DerivedStatus(updated.report_count(),
                                     updated.delivered_quantity(),
                                     updated.target_quantity()));
  }
  ASSIGN_OR_RETURN(AppendedReport appended,
                   store->AppendReport(report, RequestKey{}, updated,
                                       project.etag(), village_path));
  return appended.project;
}

// Cancels `project` in `store` at `time`; returns it as stored after.
inline absl::StatusOr<Project> StoreCancel(ProjectsStore* store,
                                           const Project& project,
                                           absl::Time time,
                                           const std::string& village_path) {
  Project cancelled = project;
  cancelled.set_status(v1::CANCELLED);
  cancelled.set_cancel_reason("merged");
  *cancelled.mutable_cancel_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(time));
  return store->UpdateProject(cancelled, project.etag(), village_path);
}

}  // namespace fivestar::projects::testing

#endif  // FIVESTAR_TESTS_PROJECTS_MEMORY_REGION_TREE_H_
