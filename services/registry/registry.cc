#include "services/registry/registry.h"

#include <algorithm>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/import_limits.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/update_mask.h"
#include "common/validation.h"

namespace fivestar::registry {
namespace {

using ::google::protobuf::FieldMask;

// The store's FAILED_PRECONDITION for a region or village write, named by
// the field it is about: a write's only precondition the store checks is
// where the record hangs (a parent that vanished after the logic looked, or
// a move below itself), and the store knows no request field names.
template <typename Resource>
absl::StatusOr<Resource> WithField(absl::StatusOr<Resource> stored,
                                   absl::string_view field) {
  if (!absl::IsFailedPrecondition(stored.status())) return stored;
  return absl::FailedPreconditionError(
      absl::StrCat(field, ": ", stored.status().message()));
}

constexpr int kMaxBatchGet = 1000;

const std::vector<std::string>& RegionMutableFields() {
  static const auto* fields = new std::vector<std::string>{
      "name", "name_en", "parent_id", "signature_industries"};
  return *fields;
}

const std::vector<std::string>& VillageMutableFields() {
  static const auto* fields =
      new std::vector<std::string>{"name",
                                   "name_en",
                                   "region_id",
                                   "kind",
                                   "branch_secretary",
                                   "committee_members",
                                   "party_members",
                                   "households",
                                   "population",
                                   "grids",
                                   "signature_industries",
                                   "guidance_officer",
                                   "target_level",
                                   "target_year"};
  return *fields;
}

int KindRank(RegionKind kind) { return static_cast<int>(kind); }

std::string KindName(RegionKind kind) { return v1::RegionKind_Name(kind); }

}  // namespace

absl::StatusOr<std::vector<std::string>> ScopeLineage(
    RegistryStore* store, const Principal& principal) {
  if (principal.is_global()) return std::vector<std::string>();
  absl::StatusOr<std::vector<std::string>> region =
      store->RegionLineage(principal.scope);
  if (!absl::IsNotFound(region.status())) return region;
  absl::StatusOr<Village> village = store->GetVillage(principal.scope);
  if (absl::IsNotFound(village.status())) return std::vector<std::string>();
  RETURN_IF_ERROR(village.status());
  ASSIGN_OR_RETURN(std::vector<std::string> chain,
                   store->RegionLineage(village->region_id()));
  chain.insert(chain.begin(), village->id());
  return chain;
}

absl::StatusOr<ListBounds> ScopeBounds(RegistryStore* store,
                                       const Principal& principal) {
  ListBounds bounds;
  if (principal.is_global()) return bounds;
  absl::StatusOr<std::vector<std::string>> region =
      store->RegionLineage(principal.scope);
  if (region.ok()) {
    bounds.region_id = principal.scope;
    bounds.includes_region = true;
  } else if (absl::IsNotFound(region.status())) {
    // A village (or a scope that exists nowhere, whose village list is
    // then empty).
    bounds.village_id = principal.scope;
  } else {
    return region.status();
  }
  return bounds;
}

absl::StatusOr<ListBounds> AuthorizeRegionFilter(RegistryStore* store,
                                                 const Principal& principal,
                                                 absl::string_view field,
                                                 const std::string& region_id,
                                                 absl::string_view what) {
  RETURN_IF_ERROR(ValidateId(field, region_id));
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, what));
  absl::StatusOr<std::vector<std::string>> chain =
      store->RegionLineage(region_id);
  if (absl::IsNotFound(chain.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, Role::kViewer, chain.status(), what);
  }
  if (absl::IsNotFound(chain.status())) {
    return FieldError(field,
                      absl::StrCat("region ", region_id, " does not exist"));
  }
  RETURN_IF_ERROR(chain.status());
  ASSIGN_OR_RETURN(std::vector<std::string> scope_chain,
                   ScopeLineage(store, principal));
  RETURN_IF_ERROR(
      AuthorizeListFilter(principal, Role::kViewer, *chain, scope_chain, what));
  if (FilterAboveScope(principal, region_id, scope_chain)) {
    return ScopeBounds(store, principal);
  }
  ListBounds bounds;
  bounds.region_id = region_id;
  return bounds;
}

absl::Status Registry::ValidateRegionFields(const Region& region,
                                            absl::string_view field) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateId(f + ".id", region.id()));
  if (region.kind() == v1::REGION_KIND_UNSPECIFIED) {
    return FieldError(f + ".kind",
                      "required: PROVINCE, CITY, COUNTY, TOWNSHIP or DISTRICT");
  }
  if (!v1::RegionKind_IsValid(region.kind())) {
    return FieldError(f + ".kind",
                      absl::StrCat("unknown value ", region.kind()));
  }
  RETURN_IF_ERROR(ValidateText(f + ".name", region.name(), 1, 100));
  RETURN_IF_ERROR(ValidateText(f + ".name_en", region.name_en(), 0, 100));
  if (!region.parent_id().empty()) {
    RETURN_IF_ERROR(ValidateId(f + ".parent_id", region.parent_id()));
    if (region.parent_id() == region.id()) {
      return FieldError(f + ".parent_id", "a region cannot be its own parent");
    }
  }
  return ValidateTags(f + ".signature_industries",
                      region.signature_industries(), 20, 64);
}

absl::Status Registry::ValidateVillageFields(const Village& village,
                                             absl::string_view field) {
  const std::string f(field);
  RETURN_IF_ERROR(ValidateId(f + ".id", village.id()));
  RETURN_IF_ERROR(ValidateText(f + ".name", village.name(), 1, 100));
  RETURN_IF_ERROR(ValidateText(f + ".name_en", village.name_en(), 0, 100));
  RETURN_IF_ERROR(ValidateId(f + ".region_id", village.region_id()));
  if (village.kind() == v1::VILLAGE_KIND_UNSPECIFIED) {
    return FieldError(f + ".kind", "required: VILLAGE or COMMUNITY");
  }
  if (!v1::VillageKind_IsValid(village.kind())) {
    return FieldError(f + ".kind",
                      absl::StrCat("unknown value ", village.kind()));
  }
  RETURN_IF_ERROR(ValidateText(f + ".branch_secretary",
                               village.branch_secretary(), 0, 100));
  RETURN_IF_ERROR(ValidateRange(f + ".committee_members",
                                village.committee_members(), 0, 50));
  RETURN_IF_ERROR(
      ValidateRange(f + ".party_members", village.party_members(), 0, 100'000));
  RETURN_IF_ERROR(
      ValidateRange(f + ".households", village.households(), 0, 1'000'000));
  RETURN_IF_ERROR(
      ValidateRange(f + ".population", village.population(), 0, 10'000'000));
  RETURN_IF_ERROR(ValidateRange(f + ".grids", village.grids(), 0, 10'000));
  RETURN_IF_ERROR(ValidateTags(f + ".signature_industries",
                               village.signature_industries(), 20, 64));
  RETURN_IF_ERROR(ValidateText(f + ".guidance_officer",
                               village.guidance_officer(), 0, 100));
  RETURN_IF_ERROR(
      ValidateRange(f + ".target_level", village.target_level(), 0, 5));
  if (village.target_level() > 0 && village.target_year() == 0) {
    return FieldError(f + ".target_year",
                      "required when target_level is set (2000..2100)");
  }
  if (village.target_year() != 0) {
    RETURN_IF_ERROR(
        ValidateRange(f + ".target_year", village.target_year(), 2000, 2100));
  }
  return absl::OkStatus();
}

absl::Status Registry::ValidateParent(const Region& region,
                                      absl::string_view field) {
  if (region.parent_id().empty()) return absl::OkStatus();
  absl::StatusOr<Region> parent = store_->GetRegion(region.parent_id());
  if (absl::IsNotFound(parent.status())) {
    return FieldError(
        absl::StrCat(field, ".parent_id"),
        absl::StrCat("region ", region.parent_id(), " does not exist"));
  }
  RETURN_IF_ERROR(parent.status());
  if (KindRank(parent->kind()) >= KindRank(region.kind())) {
    return FieldError(
        absl::StrCat(field, ".parent_id"),
        absl::StrCat("a ", KindName(region.kind()), " cannot sit under ",
                     region.parent_id(), " (a ", KindName(parent->kind()),
                     "); the parent must be of a higher kind"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Registry::VillageRegionLineage(
    const Principal& principal, Role role, const std::string& region_id,
    absl::string_view field, absl::string_view what,
    const std::string& village_id) {
  absl::StatusOr<std::vector<std::string>> lineage =
      store_->RegionLineage(region_id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, lineage.status(), what);
  }
  if (absl::IsNotFound(lineage.status())) {
    return FieldError(field,
                      absl::StrCat("region ", region_id, " does not exist"));
  }
  RETURN_IF_ERROR(lineage.status());
  std::vector<std::string> chain = *lineage;
  if (!village_id.empty()) chain.insert(chain.begin(), village_id);
  // Scope before kind: the kind of a region outside the scope is none of
  // the principal's business.
  RETURN_IF_ERROR(Authorize(principal, role, chain, what));
  absl::StatusOr<Region> region = store_->GetRegion(region_id);
  if (absl::IsNotFound(region.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, region.status(), what);
  }
  RETURN_IF_ERROR(region.status());
  if (region->kind() != v1::TOWNSHIP && region->kind() != v1::DISTRICT) {
    return FieldError(field, absl::StrCat("region ", region_id, " is a ",
                                          KindName(region->kind()),
                                          "; villages belong to a TOWNSHIP "
                                          "or DISTRICT"));
  }
  return chain;
}

absl::StatusOr<std::vector<std::string>> Registry::RegionLineageFor(
    const Principal& principal, Role role, const std::string& id,
    absl::string_view what) {
  absl::StatusOr<std::vector<std::string>> lineage = store_->RegionLineage(id);
  if (absl::IsNotFound(lineage.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, lineage.status(), what);
  }
  return lineage;
}

absl::StatusOr<Village> Registry::VillageFor(const Principal& principal,
                                             Role role, const std::string& id,
                                             absl::string_view what) {
  absl::StatusOr<Village> village = store_->GetVillage(id);
  if (absl::IsNotFound(village.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, village.status(), what);
  }
  return village;
}

absl::Status Registry::ConcealCollision(const Principal& principal, Role role,
                                        const absl::Status& status,
                                        absl::string_view what,
                                        const std::string& region_id,
                                        const std::string& village_id) {
  if (!absl::IsAlreadyExists(status) || principal.is_global()) return status;
  absl::StatusOr<std::vector<std::string>> chain;
  if (village_id.empty()) {
    chain = store_->RegionLineage(region_id);
  } else {
    absl::StatusOr<Village> existing = store_->GetVillage(village_id);
    chain = existing.ok()
                ? VillageLineage(*existing)
                : absl::StatusOr<std::vector<std::string>>(existing.status());
  }
  // Gone again since the write: its place is unknown, so not the caller's.
  if (absl::IsNotFound(chain.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, role, chain.status(), what);
  }
  RETURN_IF_ERROR(chain.status());
  RETURN_IF_ERROR(Authorize(principal, role, *chain, what));
  return status;
}

absl::StatusOr<std::vector<std::string>> Registry::VillageLineage(
    const Village& village) {
  ASSIGN_OR_RETURN(std::vector<std::string> lineage,
                   store_->RegionLineage(village.region_id()));
  lineage.insert(lineage.begin(), village.id());
  return lineage;
}

// --- Regions ---------------------------------------------------------------

absl::StatusOr<Region> Registry::CreateRegion(const Principal& principal,
                                              const Region& region) {
  RETURN_IF_ERROR(ValidateRegionFields(region, "region"));
  const std::string what = absl::StrCat("create region ", region.id());
  std::vector<std::string> chain = {region.id()};
  if (!region.parent_id().empty()) {
    // Scope before the parent's kind, which a principal it lies outside of
    // may not learn.
    absl::StatusOr<std::vector<std::string>> parent_chain =
        store_->RegionLineage(region.parent_id());
    if (absl::IsNotFound(parent_chain.status()) && !principal.is_global()) {
      return ConcealAbsence(principal, Role::kAdmin, parent_chain.status(),
                            what);
    }
    if (parent_chain.ok()) {
      chain.insert(chain.end(), parent_chain->begin(), parent_chain->end());
    } else if (!absl::IsNotFound(parent_chain.status())) {
      return parent_chain.status();
    }
  }
  RETURN_IF_ERROR(Authorize(principal, Role::kAdmin, chain, what));
  RETURN_IF_ERROR(ValidateParent(region, "region"));
  absl::StatusOr<Region> created = store_->CreateRegion(region);
  RETURN_IF_ERROR(ConcealCollision(principal, Role::kAdmin, created.status(),
                                   what, region.id(), ""));
  return WithField(std::move(created), "region.parent_id");
}

absl::StatusOr<Region> Registry::GetRegion(const Principal& principal,
                                           const std::string& id) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("read region ", id);
  ASSIGN_OR_RETURN(std::vector<std::string> chain,
                   RegionLineageFor(principal, Role::kViewer, id, what));
  RETURN_IF_ERROR(Authorize(principal, Role::kViewer, chain, what));
  return store_->GetRegion(id);
}

absl::StatusOr<Region> Registry::UpdateRegion(const Principal& principal,
                                              const Region& region,
                                              const FieldMask& update_mask) {
  RETURN_IF_ERROR(ValidateId("region.id", region.id()));
  const std::string what = absl::StrCat("update region ", region.id());
  ASSIGN_OR_RETURN(
      std::vector<std::string> chain,
      RegionLineageFor(principal, Role::kAdmin, region.id(), what));
  RETURN_IF_ERROR(Authorize(principal, Role::kAdmin, chain, what));
  ASSIGN_OR_RETURN(Region current, store_->GetRegion(region.id()));
  RETURN_IF_ERROR(
      CheckEtag("region", region.id(), region.etag(), current.etag()));
  Region updated = current;
  RETURN_IF_ERROR(
      ApplyUpdateMask(update_mask, RegionMutableFields(), region, &updated));
  RETURN_IF_ERROR(ValidateRegionFields(updated, "region"));
  if (updated.parent_id() != current.parent_id()) {
    if (updated.parent_id().empty()) {
      RETURN_IF_ERROR(Authorize(principal, Role::kAdmin, {updated.id()}, what));
    } else {
      // The new parent's scope first: its kind is none of the business of
      // a principal it lies outside of.
      absl::StatusOr<std::vector<std::string>> new_chain =
          store_->RegionLineage(updated.parent_id());
      if (absl::IsNotFound(new_chain.status()) && !principal.is_global()) {
        return ConcealAbsence(principal, Role::kAdmin, new_chain.status(),
                              what);
      }
      if (new_chain.ok()) {
        RETURN_IF_ERROR(Authorize(principal, Role::kAdmin, *new_chain, what));
      } else if (!absl::IsNotFound(new_chain.status())) {
        return new_chain.status();
      }
      RETURN_IF_ERROR(ValidateParent(updated, "region"));
    }
  }
  return WithField(store_->UpdateRegion(updated, current.etag()),
                   "region.parent_id");
}

absl::Status Registry::DeleteRegion(const Principal& principal,
                                    const std::string& id,
                                    const std::string& etag) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("delete region ", id);
  ASSIGN_OR_RETURN(std::vector<std::string> chain,
                   RegionLineageFor(principal, Role::kAdmin, id, what));
  RETURN_IF_ERROR(Authorize(principal, Role::kAdmin, chain, what));
  return store_->DeleteRegion(id, etag);
}

absl::StatusOr<v1::ListRegionsResponse> Registry::ListRegions(
    const Principal& principal, const v1::ListRegionsRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  if (!v1::RegionKind_IsValid(request.kind())) {
    return FieldError("kind", absl::StrCat("unknown value ", request.kind()));
  }
  ListBounds bounds;
  if (!request.ancestor_id().empty()) {
    ASSIGN_OR_RETURN(
        bounds,
        AuthorizeRegionFilter(
            store_, principal, "ancestor_id", request.ancestor_id(),
            absl::StrCat("list regions below ", request.ancestor_id())));
  } else {
    RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, "list regions"));
    ASSIGN_OR_RETURN(bounds, ScopeBounds(store_, principal));
  }
  // A principal scoped to one village may read no region.
  if (!bounds.village_id.empty()) return v1::ListRegionsResponse();
  RegionQuery query;
  query.kind = request.kind();
  query.limit = pager.fetch_limit();
  query.ancestor_id = bounds.region_id;
  query.include_ancestor = bounds.includes_region;
  ASSIGN_OR_RETURN(
      query.after_id,
      pager.Resume(request.page_token(),
                   absl::StrCat("regions|", query.ancestor_id, "|",
                                query.include_ancestor, "|", query.kind)));
  ASSIGN_OR_RETURN(std::vector<Region> regions, store_->ListRegions(query));
  v1::ListRegionsResponse response;
  response.set_next_page_token(
      pager.Trim(regions, [](const Region& region) { return region.id(); }));
  for (Region& region : regions) *response.add_regions() = std::move(region);
  return response;
}

// --- Villages --------------------------------------------------------------

absl::StatusOr<Village> Registry::CreateVillage(const Principal& principal,
                                                const Village& village) {
  RETURN_IF_ERROR(ValidateVillageFields(village, "village"));
  const std::string what = absl::StrCat("create village ", village.id());
  RETURN_IF_ERROR(VillageRegionLineage(principal, Role::kOperator,
                                       village.region_id(), "village.region_id",
                                       what, village.id())
                      .status());
  absl::StatusOr<Village> created = store_->CreateVillage(village);
  RETURN_IF_ERROR(ConcealCollision(principal, Role::kOperator, created.status(),
                                   what, "", village.id()));
  return WithField(std::move(created), "village.region_id");
}

absl::StatusOr<Village> Registry::GetVillage(const Principal& principal,
                                             const std::string& id) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("read village ", id);
  // The village and where it sits in one snapshot, its lineage from the
  // store's region tree: one read.
  absl::StatusOr<std::vector<LocatedVillage>> located =
      store_->GetLocatedVillages({id});
  if (absl::IsNotFound(located.status()) && !principal.is_global()) {
    return ConcealAbsence(principal, Role::kViewer, located.status(), what);
  }
  RETURN_IF_ERROR(located.status());
  LocatedVillage& found = located->front();
  std::vector<std::string> chain = std::move(found.region_lineage);
  chain.insert(chain.begin(), id);
  RETURN_IF_ERROR(Authorize(principal, Role::kViewer, chain, what));
  return std::move(found.village);
}

absl::StatusOr<Village> Registry::UpdateVillage(const Principal& principal,
                                                const Village& village,
                                                const FieldMask& update_mask) {
  RETURN_IF_ERROR(ValidateId("village.id", village.id()));
  const std::string what = absl::StrCat("update village ", village.id());
  ASSIGN_OR_RETURN(Village current,
                   VillageFor(principal, Role::kOperator, village.id(), what));
  ASSIGN_OR_RETURN(std::vector<std::string> chain, VillageLineage(current));
  RETURN_IF_ERROR(Authorize(principal, Role::kOperator, chain, what));
  RETURN_IF_ERROR(
      CheckEtag("village", village.id(), village.etag(), current.etag()));
  Village updated = current;
  RETURN_IF_ERROR(
      ApplyUpdateMask(update_mask, VillageMutableFields(), village, &updated));
  RETURN_IF_ERROR(ValidateVillageFields(updated, "village"));
  if (updated.region_id() != current.region_id()) {
    RETURN_IF_ERROR(VillageRegionLineage(principal, Role::kOperator,
                                         updated.region_id(),
                                         "village.region_id", what)
                        .status());
  }
  return WithField(store_->UpdateVillage(updated, current.etag()),
                   "village.region_id");
}

absl::Status Registry::DeleteVillage(const Principal& principal,
                                     const std::string& id,
                                     const std::string& etag) {
  RETURN_IF_ERROR(ValidateId("id", id));
  const std::string what = absl::StrCat("delete village ", id);
  ASSIGN_OR_RETURN(Village current,
                   VillageFor(principal, Role::kOperator, id, what));
  ASSIGN_OR_RETURN(std::vector<std::string> chain, VillageLineage(current));
  RETURN_IF_ERROR(Authorize(principal, Role::kOperator, chain, what));
  return store_->DeleteVillage(id, etag);
}

absl::StatusOr<v1::ListVillagesResponse> Registry::ListVillages(
    const Principal& principal, const v1::ListVillagesRequest& request) {
  ASSIGN_OR_RETURN(Pager pager, Pager::ForPageSize(request.page_size()));
  if (request.target_level() != 0) {
    RETURN_IF_ERROR(
        ValidateRange("target_level", request.target_level(), 1, 5));
  }
  ListBounds bounds;
  if (!request.ancestor_id().empty()) {
    ASSIGN_OR_RETURN(
        bounds,
        AuthorizeRegionFilter(
            store_, principal, "ancestor_id", request.ancestor_id(),
            absl::StrCat("list villages below ", request.ancestor_id())));
  } else {
    RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, "list villages"));
    ASSIGN_OR_RETURN(bounds, ScopeBounds(store_, principal));
  }
  if (!bounds.village_id.empty()) {
    // A principal scoped to one village sees just that village.
    v1::ListVillagesResponse response;
    if (request.page_token().empty()) {
      absl::StatusOr<Village> own = store_->GetVillage(bounds.village_id);
      if (own.ok() && (request.target_level() == 0 ||
                       own->target_level() == request.target_level())) {
        *response.add_villages() = *std::move(own);
      } else if (!own.ok() && !absl::IsNotFound(own.status())) {
        return own.status();
      }
    }
    return response;
  }
  VillageQuery query;
  query.target_level = request.target_level();
  query.limit = pager.fetch_limit();
  query.ancestor_id = bounds.region_id;
  ASSIGN_OR_RETURN(query.after_id,
                   pager.Resume(request.page_token(),
                                absl::StrCat("villages|", query.ancestor_id,
                                             "|", query.target_level)));
  ASSIGN_OR_RETURN(std::vector<Village> villages, store_->ListVillages(query));
  v1::ListVillagesResponse response;
  response.set_next_page_token(pager.Trim(
      villages, [](const Village& village) { return village.id(); }));
  for (Village& village : villages) {
    *response.add_villages() = std::move(village);
  }
  return response;
}

absl::StatusOr<v1::BatchGetVillagesResponse> Registry::BatchGetVillages(
    const Principal& principal, const v1::BatchGetVillagesRequest& request) {
  if (request.ids().empty()) return FieldError("ids", "required: 1..1000 ids");
  if (request.ids_size() > kMaxBatchGet) {
    return FieldError("ids", absl::StrCat("at most ", kMaxBatchGet,
                                          " ids, got ", request.ids_size()));
  }
  std::vector<std::string> ids;
  ids.reserve(request.ids_size());
  for (int i = 0; i < request.ids_size(); ++i) {
    RETURN_IF_ERROR(ValidateId(absl::StrCat("ids[", i, "]"), request.ids(i)));
    ids.push_back(request.ids(i));
  }
  absl::StatusOr<std::vector<LocatedVillage>> fetched =
      store_->GetLocatedVillages(ids);
  if (absl::IsNotFound(fetched.status()) && !principal.is_global()) {
    // Some id does not exist. A scoped principal learns only of the first
    // id (in request order) it may not read, whether absent or outside its
    // scope, as if all of them existed.
    for (const std::string& id : ids) {
      RETURN_IF_ERROR(GetVillage(principal, id).status());
    }
  }
  ASSIGN_OR_RETURN(std::vector<LocatedVillage> villages, std::move(fetched));
  v1::BatchGetVillagesResponse response;
  for (auto& [village, lineage] : villages) {
    std::vector<std::string> chain = std::move(lineage);
    chain.insert(chain.begin(), village.id());
    RETURN_IF_ERROR(Authorize(principal, Role::kViewer, chain,
                              absl::StrCat("read village ", village.id())));
    *response.add_villages() = std::move(village);
  }
  return response;
}

absl::StatusOr<v1::GetAncestorsResponse> Registry::GetAncestors(
    const Principal& principal, const v1::GetAncestorsRequest& request) {
  std::vector<std::string> chain;
  switch (request.subject_case()) {
    case v1::GetAncestorsRequest::kVillageId: {
      RETURN_IF_ERROR(ValidateId("village_id", request.village_id()));
      ASSIGN_OR_RETURN(
          Village village,
          VillageFor(
              principal, Role::kViewer, request.village_id(),
              absl::StrCat("read the ancestors of ", request.village_id())));
      ASSIGN_OR_RETURN(chain, VillageLineage(village));
      break;
    }
    case v1::GetAncestorsRequest::kRegionId: {
      RETURN_IF_ERROR(ValidateId("region_id", request.region_id()));
      ASSIGN_OR_RETURN(
          chain, RegionLineageFor(principal, Role::kViewer, request.region_id(),
                                  absl::StrCat("read the ancestors of ",
                                               request.region_id())));
      break;
    }
    case v1::GetAncestorsRequest::SUBJECT_NOT_SET:
      return FieldError("subject", "set village_id or region_id");
  }
  RETURN_IF_ERROR(
      Authorize(principal, Role::kViewer, chain,
                absl::StrCat("read the ancestors of ", chain.front())));
  v1::GetAncestorsResponse response;
  for (size_t i = 1; i < chain.size(); ++i) {
    ASSIGN_OR_RETURN(*response.add_ancestors(), store_->GetRegion(chain[i]));
  }
  return response;
}

// --- Import and export -----------------------------------------------------

absl::StatusOr<std::unique_ptr<RegistryImport>> Registry::StartImport(
    const Principal& principal) {
  RETURN_IF_ERROR(AuthorizeRole(principal, Role::kAdmin, "import"));
  return std::unique_ptr<RegistryImport>(new RegistryImport(this, principal));
}

absl::Status RegistryImport::Add(const v1::ImportRegistryRequest& chunk) {
  if (chunks_received_++ == 0) validate_only_ = chunk.validate_only();
  RETURN_IF_ERROR(CheckImportSize(records_received_, chunk.records_size(),
                                  registry_->max_import_records_));
  for (const RegistryRecord& record : chunk.records()) {
    const int64_t index = records_received_++;
    const std::string field = absl::StrCat("records[", index, "]");
    switch (record.record_case()) {
      case RegistryRecord::kRegion: {
        RETURN_IF_ERROR(Registry::ValidateRegionFields(
            record.region(), absl::StrCat(field, ".region")));
        auto [it, inserted] = region_index_.try_emplace(
            record.region().id(), Seen{index, regions_.size()});
        if (!inserted) {
          return FieldError(absl::StrCat(field, ".region.id"),
                            absl::StrCat("\"", record.region().id(),
                                         "\" already appears at records[",
                                         it->second.record, "]"));
        }
        regions_.push_back(record.region());
        RETURN_IF_ERROR(CheckScopeOnArrival(
            record.region().id(), record.region().parent_id(),
            absl::StrCat("import region ", record.region().id())));
        break;
      }
      case RegistryRecord::kVillage: {
        RETURN_IF_ERROR(Registry::ValidateVillageFields(
            record.village(), absl::StrCat(field, ".village")));
        auto seen = village_records_.find(record.village().id());
        if (seen != village_records_.end()) {
          return FieldError(absl::StrCat(field, ".village.id"),
                            absl::StrCat("\"", record.village().id(),
                                         "\" already appears at records[",
                                         seen->second, "]"));
        }
        village_records_.emplace(villages_.Add(record.village()).id, index);
        RETURN_IF_ERROR(CheckScopeOnArrival(
            record.village().id(), record.village().region_id(),
            absl::StrCat("import village ", record.village().id())));
        break;
      }
      case RegistryRecord::RECORD_NOT_SET:
        return FieldError(field, "set region or village");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RegionKind> RegistryImport::KindOf(const std::string& region_id,
                                                  absl::string_view field,
                                                  absl::string_view what) {
  auto it = region_index_.find(region_id);
  if (it != region_index_.end()) return regions_[it->second.position].kind();
  absl::StatusOr<Region> stored = registry_->store_->GetRegion(region_id);
  if (absl::IsNotFound(stored.status()) && !principal_.is_global()) {
    return ConcealAbsence(principal_, Role::kAdmin, stored.status(), what);
  }
  if (absl::IsNotFound(stored.status())) {
    return FieldError(field, absl::StrCat("region ", region_id,
                                          " is neither in the import nor "
                                          "stored"));
  }
  RETURN_IF_ERROR(stored.status());
  return stored->kind();
}

absl::Status RegistryImport::CheckScopeOnArrival(const std::string& self,
                                                 const std::string& parent_id,
                                                 absl::string_view what) {
  if (principal_.is_global() || self == principal_.scope ||
      parents_in_scope_.contains(parent_id)) {
    return absl::OkStatus();
  }
  std::vector<std::string> chain = {self};
  std::string id = parent_id;
  // Kinds are not checked yet, so a cycle among received records is
  // possible: stop after as many steps as there are regions.
  for (size_t steps = 0; !id.empty() && steps <= regions_.size(); ++steps) {
    chain.push_back(id);
    auto it = region_index_.find(id);
    if (it != region_index_.end()) {
      id = regions_[it->second.position].parent_id();
      continue;
    }
    absl::StatusOr<std::vector<std::string>> stored =
        registry_->store_->RegionLineage(id);
    if (absl::IsNotFound(stored.status())) return absl::OkStatus();
    RETURN_IF_ERROR(stored.status());
    chain.insert(chain.end(), stored->begin() + 1, stored->end());
    id.clear();  // The chain is complete.
  }
  if (!id.empty()) return absl::OkStatus();  // A cycle: Finish names it.
  RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, chain, what));
  // The scope lies above `self`, so every record under the same parent is in
  // it too: the villages of one district cost one lookup, not one each.
  parents_in_scope_.insert(parent_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RegistryImport::LineageAfterImport(
    const std::string& region_id) {
  std::vector<std::string> lineage;
  std::string id = region_id;
  // Kinds strictly rise toward the root (checked before), so this ends.
  while (!id.empty()) {
    lineage.push_back(id);
    auto it = region_index_.find(id);
    if (it != region_index_.end()) {
      id = regions_[it->second.position].parent_id();
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> stored,
                     registry_->store_->RegionLineage(id));
    lineage.insert(lineage.end(), stored.begin() + 1, stored.end());
    break;
  }
  return lineage;
}

absl::StatusOr<ImportCounts> RegistryImport::Finish() {
  // Kinds first: they make the tree acyclic and give the apply order.
  for (const Region& region : regions_) {
    const std::string field =
        absl::StrCat("records[", region_index_[region.id()].record, "].region");
    const std::string what = absl::StrCat("import region ", region.id());
    absl::StatusOr<Region> stored = registry_->store_->GetRegion(region.id());
    if (stored.ok() && !principal_.is_global()) {
      // A stored region outside the scope (which the import would move
      // into it, or CheckScopeOnArrival had refused it): refused before its
      // kind or anything else of it shows.
      ASSIGN_OR_RETURN(std::vector<std::string> chain,
                       registry_->store_->RegionLineage(region.id()));
      RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, chain,
                                absl::StrCat("move region ", region.id())));
    }
    if (stored.ok() && stored->kind() != region.kind()) {
      return FieldError(absl::StrCat(field, ".kind"),
                        absl::StrCat("region ", region.id(), " is stored as a ",
                                     KindName(stored->kind()),
                                     "; a region's kind cannot change"));
    }
    if (region.parent_id().empty()) continue;
    ASSIGN_OR_RETURN(RegionKind parent_kind,
                     KindOf(region.parent_id(), field + ".parent_id", what));
    if (KindRank(parent_kind) >= KindRank(region.kind())) {
      return FieldError(
          absl::StrCat(field, ".parent_id"),
          absl::StrCat("a ", KindName(region.kind()), " cannot sit under ",
                       region.parent_id(), " (a ", KindName(parent_kind),
                       "); the parent must be of a higher kind"));
    }
  }
  for (size_t i = 0; i < villages_.size(); ++i) {
    const EncodedVillage village = villages_[i];
    // Most villages sit in a region of the import: no message to build.
    auto in_import = region_index_.find(village.region_id);
    RegionKind kind = v1::REGION_KIND_UNSPECIFIED;
    const auto field = [&] {
      return absl::StrCat("records[", village_records_.at(village.id),
                          "].village.region_id");
    };
    if (in_import != region_index_.end()) {
      kind = regions_[in_import->second.position].kind();
    } else {
      ASSIGN_OR_RETURN(kind,
                       KindOf(std::string(village.region_id), field(),
                              absl::StrCat("import village ", village.id)));
    }
    if (kind != v1::TOWNSHIP && kind != v1::DISTRICT) {
      return FieldError(field(), absl::StrCat("region ", village.region_id,
                                              " is a ", KindName(kind),
                                              "; villages belong to a "
                                              "TOWNSHIP or DISTRICT"));
    }
  }
  // Permission for every record, where it will sit after the import.
  if (!principal_.is_global()) {
    for (const Region& region : regions_) {
      ASSIGN_OR_RETURN(std::vector<std::string> chain,
                       LineageAfterImport(region.id()));
      RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, chain,
                                absl::StrCat("import region ", region.id())));
      // A region moved by the import must also be the principal's now.
      absl::StatusOr<Region> stored = registry_->store_->GetRegion(region.id());
      if (stored.ok() && stored->parent_id() != region.parent_id()) {
        ASSIGN_OR_RETURN(std::vector<std::string> old_chain,
                         registry_->store_->RegionLineage(region.id()));
        RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, old_chain,
                                  absl::StrCat("move region ", region.id())));
      }
    }
    for (size_t i = 0; i < villages_.size(); ++i) {
      const EncodedVillage village = villages_[i];
      ASSIGN_OR_RETURN(std::vector<std::string> chain,
                       LineageAfterImport(std::string(village.region_id)));
      chain.insert(chain.begin(), std::string(village.id));
      RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, chain,
                                absl::StrCat("import village ", village.id)));
      // A village moved by the import must also be the principal's now.
      absl::StatusOr<Village> stored =
          registry_->store_->GetVillage(std::string(village.id));
      if (stored.ok() && stored->region_id() != village.region_id) {
        ASSIGN_OR_RETURN(std::vector<std::string> old_chain,
                         registry_->VillageLineage(*stored));
        RETURN_IF_ERROR(Authorize(principal_, Role::kAdmin, old_chain,
                                  absl::StrCat("move village ", village.id)));
      }
    }
  }
  // The import's last step: the regions go in apply order where they are
  // (not in a copy: a nation's are 42,000), so the positions in
  // region_index_ no longer hold.
  region_index_.clear();
  std::stable_sort(regions_.begin(), regions_.end(),
                   [](const Region& a, const Region& b) {
                     return KindRank(a.kind()) < KindRank(b.kind());
                   });
  return registry_->store_->Import(regions_, villages_, validate_only_);
}

absl::StatusOr<std::unique_ptr<RegistryExport>> Registry::StartExport(
    const Principal& principal, const v1::ExportRegistryRequest& request) {
  ListBounds bounds;
  if (!request.root_id().empty()) {
    ASSIGN_OR_RETURN(bounds,
                     AuthorizeRegionFilter(
                         store_, principal, "root_id", request.root_id(),
                         absl::StrCat("export region ", request.root_id())));
    // The root of an export is part of it.
    bounds.includes_region = bounds.village_id.empty();
  } else {
    RETURN_IF_ERROR(AuthorizeRole(principal, Role::kViewer, "export"));
    ASSIGN_OR_RETURN(bounds, ScopeBounds(store_, principal));
  }
  return std::unique_ptr<RegistryExport>(
      new RegistryExport(store_, bounds.region_id, bounds.village_id));
}

absl::StatusOr<std::vector<RegistryRecord>> RegistryExport::Next(
    int max_records) {
  std::vector<RegistryRecord> out;
  if (!village_id_.empty()) {
    // A principal scoped to one village exports that village alone.
    if (root_sent_) return out;
    root_sent_ = true;
    absl::StatusOr<Village> village = store_->GetVillage(village_id_);
    if (absl::IsNotFound(village.status())) return out;
    ASSIGN_OR_RETURN(*out.emplace_back().mutable_village(), std::move(village));
    return out;
  }
  if (!root_sent_) {
    root_sent_ = true;
    if (!root_id_.empty()) {
      ASSIGN_OR_RETURN(*out.emplace_back().mutable_region(),
                       store_->GetRegion(root_id_));
    }
  }
  while (static_cast<int>(out.size()) < max_records && kind_ <= v1::DISTRICT) {
    RegionQuery query;
    query.ancestor_id = root_id_;
    query.kind = static_cast<RegionKind>(kind_);
    query.after_id = after_id_;
    query.limit = max_records - static_cast<int>(out.size());
    ASSIGN_OR_RETURN(std::vector<Region> regions, store_->ListRegions(query));
    for (Region& region : regions) {
      after_id_ = region.id();
      *out.emplace_back().mutable_region() = std::move(region);
    }
    if (static_cast<int>(regions.size()) < query.limit) {
      ++kind_;
      after_id_.clear();
    }
  }
  while (static_cast<int>(out.size()) < max_records && !villages_done_) {
    VillageQuery query;
    query.ancestor_id = root_id_;
    query.after_id = after_id_;
    query.limit = max_records - static_cast<int>(out.size());
    ASSIGN_OR_RETURN(std::vector<Village> villages,
                     store_->ListVillages(query));
    for (Village& village : villages) {
      after_id_ = village.id();
      *out.emplace_back().mutable_village() = std::move(village);
    }
    if (static_cast<int>(villages.size()) < query.limit) villages_done_ = true;
  }
  return out;
}

}  // namespace fivestar::registry
