#include "services/registry/registry_store.h"

#include <cstring>

#include "common/output_fields.h"
#include "common/versioned_resource.h"

namespace fivestar::registry {

namespace {

// The arena's blocks: large, so that half a million villages take a few
// hundred allocations.
google::protobuf::ArenaOptions BlockOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 * 1024;
  options.max_block_size = 1024 * 1024;
  return options;
}

}  // namespace

EncodedVillages::EncodedVillages() : arena_(BlockOptions()) {}

EncodedVillages::EncodedVillages(std::initializer_list<Village> villages)
    : EncodedVillages() {
  for (const Village& village : villages) Add(village);
}

EncodedVillage EncodedVillages::Add(const Village& village) {
  Village copy = village;
  ClearVersionFields(&copy);
  const std::string bytes = DeterministicBytes(copy);
  const std::string& id = village.id();
  const std::string& region_id = village.region_id();
  const size_t size = id.size() + region_id.size() + bytes.size();
  char* data = google::protobuf::Arena::CreateArray<char>(&arena_, size);
  char* next = data;
  for (const std::string* part : {&id, &region_id, &bytes}) {
    std::memcpy(next, part->data(), part->size());
    next += part->size();
  }
  entries_.push_back({data, static_cast<uint32_t>(id.size()),
                      static_cast<uint32_t>(region_id.size()),
                      static_cast<uint32_t>(bytes.size()),
                      village.target_level()});
  return (*this)[entries_.size() - 1];
}

EncodedVillage EncodedVillages::operator[](size_t i) const {
  const Entry& entry = entries_[i];
  EncodedVillage village;
  village.id = absl::string_view(entry.data, entry.id_size);
  village.region_id =
      absl::string_view(entry.data + entry.id_size, entry.region_id_size);
  village.target_level = entry.target_level;
  village.bytes = absl::string_view(
      entry.data + entry.id_size + entry.region_id_size, entry.bytes_size);
  return village;
}

}  // namespace fivestar::registry
