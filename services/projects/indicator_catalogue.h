// The indicator catalogue: the data-driven list of metrics villages report
// month by month (key, names, unit, stock or flow, valid range), its default
// entries, and who may change it.
#ifndef FIVESTAR_SERVICES_PROJECTS_INDICATOR_CATALOGUE_H_
#define FIVESTAR_SERVICES_PROJECTS_INDICATOR_CATALOGUE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "google/protobuf/field_mask.pb.h"
#include "services/projects/projects_store.h"

namespace fivestar::projects {

class IndicatorCatalogue {
 public:
  // `store` must outlive the catalogue.
  explicit IndicatorCatalogue(ProjectsStore* store) : store_(store) {}

  // The entries every database starts with: the measures of the source
  // article (DESIGN §4) and everything the default rubric (DESIGN §5)
  // reads.
  static const std::vector<IndicatorDefinition>& Defaults();

  // Adds the default entries whose keys are missing (entries an admin has
  // changed are left alone). Run at start-up; returns how many were added.
  absl::StatusOr<int> SeedDefaults();

  absl::StatusOr<IndicatorDefinition> CreateDefinition(
      const Principal& principal, const IndicatorDefinition& definition);
  absl::StatusOr<IndicatorDefinition> GetDefinition(const Principal& principal,
                                                    const std::string& key);
  absl::StatusOr<IndicatorDefinition> UpdateDefinition(
      const Principal& principal, const IndicatorDefinition& definition,
      const google::protobuf::FieldMask& update_mask);
  absl::StatusOr<v1::ListIndicatorDefinitionsResponse> ListDefinitions(
      const Principal& principal,
      const v1::ListIndicatorDefinitionsRequest& request);

  // Field rules of an entry; `field` prefixes the names in errors.
  static absl::Status ValidateDefinitionFields(
      const IndicatorDefinition& definition, absl::string_view field);
  // Key rule: 1–64 characters from [a-z0-9_], starting with a letter.
  static absl::Status ValidateKey(absl::string_view field,
                                  absl::string_view key);
  // Checks `value` against the entry's range and integrality;
  // INVALID_ARGUMENT names `field`.
  static absl::Status ValidateValue(const IndicatorDefinition& definition,
                                    double value, absl::string_view field);

 private:
  ProjectsStore* store_;
};

}  // namespace fivestar::projects

#endif  // FIVESTAR_SERVICES_PROJECTS_INDICATOR_CATALOGUE_H_
