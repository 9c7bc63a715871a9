// Where scoring reads what it evaluates: the village registry (villages,
// regions, lineages) and project tracking (task summaries, indicator
// values, the indicator catalogue). An interface, so the evaluation logic
// is tested against the real peers and failure cases can be faked.
//
// Reads are batched: a region is read a page of villages at a time, each
// page costing a few calls (villages, summaries, indicator values), never a
// call per village.
#ifndef FIVESTAR_SERVICES_SCORING_INPUTS_SOURCE_H_
#define FIVESTAR_SERVICES_SCORING_INPUTS_SOURCE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fivestar/projects/v1/projects.pb.h"
#include "fivestar/registry/v1/registry.pb.h"
#include "services/scoring/village_inputs.h"

namespace fivestar::scoring {

// A page of a region's villages: the inputs read, and the villages whose
// inputs could not be read (with why).
struct InputsPage {
  std::vector<VillageInputs> villages;
  std::vector<std::pair<std::string, absl::Status>> failures;
};

class InputsSource {
 public:
  virtual ~InputsSource() = default;

  // One village's inputs for a month. NOT_FOUND when the registry has no
  // such village; UNAVAILABLE when a peer cannot be reached.
  virtual absl::StatusOr<VillageInputs> ReadVillage(
      const std::string& village_id, const std::string& period,
      const InputNeeds& needs) = 0;

  // The inputs of every village below `region_id`, in village-id order, a
  // page at a time: `on_page` gets each page and may stop the walk by
  // returning an error (which is returned). NOT_FOUND when the region does
  // not exist; UNAVAILABLE when a peer cannot be reached.
  virtual absl::Status ReadRegion(
      const std::string& region_id, const std::string& period,
      const InputNeeds& needs,
      const std::function<absl::Status(InputsPage)>& on_page) = 0;

  // A region's record (with its kind). NOT_FOUND when it does not exist.
  virtual absl::StatusOr<registry::v1::Region> GetRegion(
      const std::string& region_id) = 0;

  // A village's registry record as it is now. NOT_FOUND when unknown.
  virtual absl::StatusOr<registry::v1::Village> GetVillage(
      const std::string& village_id) = 0;

  // Project tracking's indicator catalogue.
  virtual absl::StatusOr<std::vector<projects::v1::IndicatorDefinition>>
  ListIndicatorDefinitions() = 0;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_INPUTS_SOURCE_H_
