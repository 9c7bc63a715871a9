// The output-only fields every versioned resource carries (AIP-148, AIP-154):
// the server sets create_time, update_time and etag, and whatever a client
// sends in them is not part of the resource it asks for. Header-only.
#ifndef FIVESTAR_COMMON_OUTPUT_FIELDS_H_
#define FIVESTAR_COMMON_OUTPUT_FIELDS_H_

namespace fivestar {

// Clears create_time, update_time and etag of `resource` (any message with
// those fields), e.g. before comparing what two clients sent or storing it.
template <typename Resource>
void ClearVersionFields(Resource* resource) {
  resource->clear_create_time();
  resource->clear_update_time();
  resource->clear_etag();
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_OUTPUT_FIELDS_H_
