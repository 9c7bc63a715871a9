// Commands that talk to the village registry (RegistryService). Each takes
// its positional arguments from the Invocation and its options from the
// command-specific flags defined in registry_commands.cc.
#ifndef FIVESTAR_TOOLS_CLI_REGISTRY_COMMANDS_H_
#define FIVESTAR_TOOLS_CLI_REGISTRY_COMMANDS_H_

#include "absl/status/status.h"
#include "tools/cli/invocation.h"

namespace fivestar::cli {

// import-registry <file.ndjson|->: streams the records of a newline-delimited
// JSON file (one RegistryRecord per line) to ImportRegistry in chunks,
// reports progress on stderr and the created/updated/unchanged counts.
// Honours --validate_only.
absl::Status ImportRegistry(const Invocation& invocation);

// export-registry: writes ExportRegistry's records to stdout in the format
// import-registry reads. Honours --root and --keep_output_only.
absl::Status ExportRegistry(const Invocation& invocation);

// get-region <id> / get-village <id>: prints one resource.
absl::Status GetRegion(const Invocation& invocation);
absl::Status GetVillage(const Invocation& invocation);

// list-regions / list-villages: prints every page of the listing. Honour
// --ancestor, and --kind / --target_level respectively.
absl::Status ListRegions(const Invocation& invocation);
absl::Status ListVillages(const Invocation& invocation);

// ancestors <village-id>: prints the regions above a village, nearest first.
absl::Status Ancestors(const Invocation& invocation);

// registry-summary <region-id>: prints the region's chain of ancestors, its
// child regions with their villages, and the villages per target level.
absl::Status RegistrySummary(const Invocation& invocation);

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_REGISTRY_COMMANDS_H_
