#include "services/registry/registry_store.h"

#include "common/output_fields.h"
#include "common/sqlite_resource.h"

namespace fivestar::registry {

EncodedVillage EncodeVillage(const Village& village) {
  Village copy = village;
  ClearVersionFields(&copy);
  EncodedVillage encoded;
  encoded.id = village.id();
  encoded.region_id = village.region_id();
  encoded.target_level = village.target_level();
  encoded.bytes = DeterministicBytes(copy);
  encoded.bytes.shrink_to_fit();  // Held until the import ends.
  return encoded;
}

}  // namespace fivestar::registry
