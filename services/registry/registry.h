// The registry's domain logic: the rules a region or village must follow,
// who may do what where, update masks, paging and the import/export format.
// It knows nothing of gRPC; RegistryServiceImpl translates calls into it.
#ifndef FIVESTAR_SERVICES_REGISTRY_REGISTRY_H_
#define FIVESTAR_SERVICES_REGISTRY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/auth.h"
#include "fivestar/registry/v1/registry.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "services/registry/registry_store.h"

namespace fivestar::registry {

using v1::RegistryRecord;

// Most records one import may hold by default: the whole country (about
// 500,000 villages in 42,000 regions) with room to spare, so neither a
// province nor the nation has to split its data. An import holds its
// villages encoded (EncodedVillages), little more than their encoded size.
inline constexpr int64_t kDefaultMaxImportRecords = 1'000'000;

class Registry;

// What a list, export or change stream may show a principal: the readable
// subset of what its filter asks for (see AuthorizeListFilter).
struct ListBounds {
  // The results lie below this region (and, with `includes_region`, are
  // it or below it); empty: anywhere.
  std::string region_id;
  // True when the region itself is readable and part of the answer: the
  // filter lay above the principal's scope (or there was none), so the
  // answer is the scope region and all below it.
  bool includes_region = false;
  // Set for a principal scoped to one village when the filter lies above
  // it (or there was none): the answer is about that village alone (and no
  // region, none of which it may read).
  std::string village_id;
};

// The ancestry of `principal`'s scope, the scope's own id first (a region's
// lineage, or a village followed by its region's lineage); empty for a
// global principal and for a scope that exists nowhere.
absl::StatusOr<std::vector<std::string>> ScopeLineage(
    RegistryStore* store, const Principal& principal);

// The bounds of a list without a filter: everything for a global
// principal, else its whole scope.
absl::StatusOr<ListBounds> ScopeBounds(RegistryStore* store,
                                       const Principal& principal);

// Checks a request's filter `field` naming region `region_id` (e.g.
// "ancestor_id") and returns what the call may show below it.
// INVALID_ARGUMENT naming the field when the id is malformed, or (for a
// global principal) when no such region exists; PERMISSION_DENIED when the
// role falls short of viewer, or the region lies neither within nor above
// the principal's scope, or (scoped principal) does not exist, as Authorize
// words it (`what` names the action in the refusal).
absl::StatusOr<ListBounds> AuthorizeRegionFilter(RegistryStore* store,
                                                 const Principal& principal,
                                                 absl::string_view field,
                                                 const std::string& region_id,
                                                 absl::string_view what);

// Collects the chunks of one import, checking each record as it arrives, and
// applies them all at once in Finish().
class RegistryImport {
 public:
  // Checks the records of a chunk (size, field rules, duplicates, and for a
  // scoped principal whatever of its scope can be decided already) and
  // keeps them. The first chunk's validate_only decides for the import.
  absl::Status Add(const v1::ImportRegistryRequest& chunk);
  int64_t records_received() const { return records_received_; }
  bool validate_only() const { return validate_only_; }
  // Checks the references between records and against stored data, then
  // writes everything in one transaction (or nothing, with validate_only).
  // Called once, last.
  absl::StatusOr<ImportCounts> Finish();

 private:
  friend class Registry;
  RegistryImport(Registry* registry, Principal principal)
      : registry_(registry), principal_(std::move(principal)) {}

  // The kind of a region that is either in this import or stored. One that
  // is neither is INVALID_ARGUMENT naming `field`, or for a scoped
  // principal the refusal to `what` outside its scope (as for a stored
  // region outside it: no existence oracle).
  absl::StatusOr<RegionKind> KindOf(const std::string& region_id,
                                    absl::string_view field,
                                    absl::string_view what);
  // The id chain (self first, up to the root) of a region as it will be
  // after the import.
  absl::StatusOr<std::vector<std::string>> LineageAfterImport(
      const std::string& region_id);
  // For a scoped principal, as a record arrives: PERMISSION_DENIED when the
  // record (`self`, under `parent_id`) lies outside the principal's scope
  // wherever the rest of the import puts things. That is decided when the
  // walk up from `parent_id` through the regions received so far reaches a
  // stored region: a later record cannot move a stored region that lies
  // outside the scope (Finish refuses such moves). Otherwise (a parent
  // still to come) the check waits for Finish.
  absl::Status CheckScopeOnArrival(const std::string& self,
                                   const std::string& parent_id,
                                   absl::string_view what);

  Registry* registry_;
  Principal principal_;
  bool validate_only_ = false;
  int64_t chunks_received_ = 0;
  int64_t records_received_ = 0;
  std::vector<Region> regions_;
  EncodedVillages villages_;
  // Where each id was seen: its index in the whole import (for messages
  // such as "records[12]") and its position in regions_ or villages_.
  struct Seen {
    int64_t record;
    size_t position;
  };
  absl::flat_hash_map<std::string, Seen> region_index_;
  // Each village's index in the whole import, keyed by the id kept in
  // villages_.
  absl::flat_hash_map<absl::string_view, int64_t> village_records_;
  // Parents whose records CheckScopeOnArrival found in the scope.
  absl::flat_hash_set<std::string> parents_in_scope_;
};

// Streams a subtree (or everything) as records: regions parents first, then
// villages, one page at a time.
class RegistryExport {
 public:
  // The next records (at most `max_records`); empty when done.
  absl::StatusOr<std::vector<RegistryRecord>> Next(int max_records);

 private:
  friend class Registry;
  RegistryExport(RegistryStore* store, std::string root_id,
                 std::string village_id)
      : store_(store),
        root_id_(std::move(root_id)),
        village_id_(std::move(village_id)) {}

  RegistryStore* store_;
  std::string root_id_;
  // Set when the export is of this one village (a principal scoped to it).
  std::string village_id_;
  bool root_sent_ = false;
  // Regions go out kind by kind from the top, so parents precede children.
  int kind_ = v1::PROVINCE;
  std::string after_id_;
  bool villages_done_ = false;
};

class Registry {
 public:
  // `store` must outlive the registry. An import may hold at most
  // `max_import_records` records.
  explicit Registry(RegistryStore* store,
                    int64_t max_import_records = kDefaultMaxImportRecords)
      : store_(store), max_import_records_(max_import_records) {}

  absl::StatusOr<Region> CreateRegion(const Principal& principal,
                                      const Region& region);
  absl::StatusOr<Region> GetRegion(const Principal& principal,
                                   const std::string& id);
  absl::StatusOr<Region> UpdateRegion(
      const Principal& principal, const Region& region,
      const google::protobuf::FieldMask& update_mask);
  absl::Status DeleteRegion(const Principal& principal, const std::string& id,
                            const std::string& etag);
  absl::StatusOr<v1::ListRegionsResponse> ListRegions(
      const Principal& principal, const v1::ListRegionsRequest& request);

  absl::StatusOr<Village> CreateVillage(const Principal& principal,
                                        const Village& village);
  absl::StatusOr<Village> GetVillage(const Principal& principal,
                                     const std::string& id);
  absl::StatusOr<Village> UpdateVillage(
      const Principal& principal, const Village& village,
      const google::protobuf::FieldMask& update_mask);
  absl::Status DeleteVillage(const Principal& principal, const std::string& id,
                             const std::string& etag);
  absl::StatusOr<v1::ListVillagesResponse> ListVillages(
      const Principal& principal, const v1::ListVillagesRequest& request);
  absl::StatusOr<v1::BatchGetVillagesResponse> BatchGetVillages(
      const Principal& principal, const v1::BatchGetVillagesRequest& request);
  absl::StatusOr<v1::GetAncestorsResponse> GetAncestors(
      const Principal& principal, const v1::GetAncestorsRequest& request);

  // Starts an import on behalf of `principal` (who needs the admin role).
  absl::StatusOr<std::unique_ptr<RegistryImport>> StartImport(
      const Principal& principal);
  // Starts an export of `request.root_id` (default: the principal's scope).
  absl::StatusOr<std::unique_ptr<RegistryExport>> StartExport(
      const Principal& principal, const v1::ExportRegistryRequest& request);

  // Field rules that need no stored data; `field` prefixes the names in
  // errors ("region", "records[3].region").
  static absl::Status ValidateRegionFields(const Region& region,
                                           absl::string_view field);
  static absl::Status ValidateVillageFields(const Village& village,
                                            absl::string_view field);

 private:
  friend class RegistryImport;

  // Rules against stored data: the parent exists and is of a higher kind.
  absl::Status ValidateParent(const Region& region, absl::string_view field);
  // For a village (`village_id`, empty when it is not to be part of the
  // chain) placed in region `region_id`: checks that `principal` may `what`
  // there with `role`, then that the region exists and can hold villages
  // (INVALID_ARGUMENT naming `field`), and returns the chain [village_id,]
  // region, ..., root. A region that does not exist is concealed from a
  // scoped principal (ConcealAbsence), and its kind is checked only once
  // the scope is.
  absl::StatusOr<std::vector<std::string>> VillageRegionLineage(
      const Principal& principal, Role role, const std::string& region_id,
      absl::string_view field, absl::string_view what,
      const std::string& village_id = "");
  // The lineage of region `id`, which `principal` named to `what` with
  // `role`; NOT_FOUND only for a global principal (ConcealAbsence).
  absl::StatusOr<std::vector<std::string>> RegionLineageFor(
      const Principal& principal, Role role, const std::string& id,
      absl::string_view what);
  // Village `id`, which `principal` named to `what` with `role`; NOT_FOUND
  // only for a global principal (ConcealAbsence).
  absl::StatusOr<Village> VillageFor(const Principal& principal, Role role,
                                     const std::string& id,
                                     absl::string_view what);
  // `status` is the outcome of creating region `region_id` (or, when
  // `village_id` is set, that village). ALREADY_EXISTS for a record that
  // lies outside a scoped principal's scope becomes the PERMISSION_DENIED
  // Authorize gives there, so a create cannot probe (or name) records
  // elsewhere; anything else comes back unchanged.
  absl::Status ConcealCollision(const Principal& principal, Role role,
                                const absl::Status& status,
                                absl::string_view what,
                                const std::string& region_id,
                                const std::string& village_id);
  // The id chain of a village: itself, then its region's lineage.
  absl::StatusOr<std::vector<std::string>> VillageLineage(
      const Village& village);

  RegistryStore* store_;
  const int64_t max_import_records_;
};

}  // namespace fivestar::registry

#endif  // FIVESTAR_SERVICES_REGISTRY_REGISTRY_H_
