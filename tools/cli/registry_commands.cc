#include "tools/cli/registry_commands.h"

#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "tools/cli/call_helpers.h"
#include "tools/cli/output.h"

ABSL_FLAG(bool, validate_only, false,
          "import-registry, import-projects, set-indicators: check every "
          "record and report what would change, but write nothing. "
          "create-rubric: check the rubric, but store nothing.");
ABSL_FLAG(std::string, root, "",
          "export-registry: export only this region's subtree (the region, "
          "its descendants and their villages). The root keeps its parent_id, "
          "so importing the file elsewhere needs that parent to exist.");
ABSL_FLAG(bool, keep_output_only, false,
          "export-registry: also write the output-only fields (create_time, "
          "update_time, etag), which import ignores.");
ABSL_FLAG(std::string, ancestor, "",
          "list-regions, list-villages, list-projects, watch-changes, "
          "list-awards, list-award-events: only those below this region.");
ABSL_FLAG(std::string, kind, "",
          "list-regions: only regions of this kind: province, city, county, "
          "township or district.");
ABSL_FLAG(int, target_level, 0,
          "list-villages: only villages with this target level (1..5). gap: "
          "the level to reach (default: the village's target).");

namespace fivestar::cli {
namespace {

using registry::v1::Region;
using registry::v1::RegistryRecord;
using registry::v1::RegistryService;
using registry::v1::Village;
using Stub = RegistryService::Stub;

// Village names listed per child region by registry-summary.
constexpr int kSummaryNamesPerChild = 30;

std::unique_ptr<Stub> NewStub(const Invocation& invocation) {
  return RegistryService::NewStub(invocation.RegistryChannel());
}

std::string RegionLine(const Region& region) {
  std::string line =
      absl::StrFormat("%-24s %-9s %s", region.id(),
                      registry::v1::RegionKind_Name(region.kind()),
                      WithEnglish(region.name(), region.name_en()));
  if (!region.parent_id().empty()) {
    absl::StrAppend(&line, "  parent ", region.parent_id());
  }
  return line;
}

std::string TargetText(const Village& village) {
  if (village.target_level() == 0) return "no target";
  return absl::StrCat("target ", village.target_level(), "-star (",
                      village.target_year(), ")");
}

std::string VillageLine(const Village& village) {
  return absl::StrFormat("%-24s %s  in %s  %s", village.id(),
                         WithEnglish(village.name(), village.name_en()),
                         village.region_id(), TargetText(village));
}

// Drops what the server sets, so exported records are exactly what an
// import of them would store.
void ClearOutputOnlyFields(RegistryRecord* record) {
  if (record->has_region()) {
    Region* region = record->mutable_region();
    region->clear_create_time();
    region->clear_update_time();
    region->clear_etag();
  } else if (record->has_village()) {
    Village* village = record->mutable_village();
    village->clear_create_time();
    village->clear_update_time();
    village->clear_etag();
  }
}

using ImportRegistryCall = ImportCall<Stub, registry::v1::ImportRegistryRequest,
                                      registry::v1::ImportRegistryResponse>;

}  // namespace

absl::Status ImportRegistry(const Invocation& invocation) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input,
                   InputFile::Open(invocation.args()[0]));
  ImportSource source(input->name());
  const bool validate_only = absl::GetFlag(FLAGS_validate_only);

  ImportRegistryCall call(invocation, NewStub(invocation),
                          &Stub::ImportRegistry);
  ASSIGN_OR_RETURN(
      registry::v1::ImportRegistryResponse done,
      StreamImport(invocation, input->stream(), validate_only, &source, &call));
  if (invocation.output() == OutputFormat::kJson) return PrintJsonLine(done);
  std::printf("%s%s\n",
              absl::StrCat("created ", done.created(), ", updated ",
                           done.updated(), ", unchanged ", done.unchanged())
                  .c_str(),
              validate_only ? " (validate only: nothing was written)" : "");
  return absl::OkStatus();
}

absl::Status ExportRegistry(const Invocation& invocation) {
  registry::v1::ExportRegistryRequest request;
  request.set_root_id(absl::GetFlag(FLAGS_root));
  const bool keep_output_only = absl::GetFlag(FLAGS_keep_output_only);
  std::unique_ptr<Stub> stub = NewStub(invocation);
  grpc::ClientContext context;
  invocation.PrepareLongContext(&context);
  std::unique_ptr<grpc::ClientReader<registry::v1::ExportRegistryResponse>>
      reader = stub->ExportRegistry(&context, request);
  registry::v1::ExportRegistryResponse response;
  while (reader->Read(&response)) {
    for (RegistryRecord& record : *response.mutable_records()) {
      if (!keep_output_only) ClearOutputOnlyFields(&record);
      RETURN_IF_ERROR(PrintJsonLine(record));
    }
  }
  RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  if (std::fflush(stdout) != 0) {
    return absl::DataLossError("cannot write the records to stdout");
  }
  return absl::OkStatus();
}

absl::Status GetRegion(const Invocation& invocation) {
  registry::v1::GetRegionRequest request;
  request.set_id(invocation.args()[0]);
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  Region region;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->GetRegion(&context, request, &region)));
  return PrintResource(invocation, region);
}

absl::Status GetVillage(const Invocation& invocation) {
  registry::v1::GetVillageRequest request;
  request.set_id(invocation.args()[0]);
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  Village village;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->GetVillage(&context, request, &village)));
  return PrintResource(invocation, village);
}

absl::Status ListRegions(const Invocation& invocation) {
  registry::v1::ListRegionsRequest request;
  request.set_ancestor_id(absl::GetFlag(FLAGS_ancestor));
  if (const std::string kind = absl::GetFlag(FLAGS_kind); !kind.empty()) {
    registry::v1::RegionKind parsed;
    if (!registry::v1::RegionKind_Parse(absl::AsciiStrToUpper(kind), &parsed) ||
        parsed == registry::v1::REGION_KIND_UNSPECIFIED) {
      return UsageError(absl::StrCat(
          "--kind: must be province, city, county, township or district, got "
          "\"",
          kind, "\""));
    }
    request.set_kind(parsed);
  }
  return ForEachPage(
      invocation, *NewStub(invocation), request, &Stub::ListRegions,
      [&](const registry::v1::ListRegionsResponse& page) -> absl::Status {
        for (const Region& region : page.regions()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(region));
          } else {
            std::printf("%s\n", RegionLine(region).c_str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status ListVillages(const Invocation& invocation) {
  registry::v1::ListVillagesRequest request;
  request.set_ancestor_id(absl::GetFlag(FLAGS_ancestor));
  request.set_target_level(absl::GetFlag(FLAGS_target_level));
  return ForEachPage(
      invocation, *NewStub(invocation), request, &Stub::ListVillages,
      [&](const registry::v1::ListVillagesResponse& page) -> absl::Status {
        for (const Village& village : page.villages()) {
          if (invocation.output() == OutputFormat::kJson) {
            RETURN_IF_ERROR(PrintJsonLine(village));
          } else {
            std::printf("%s\n", VillageLine(village).c_str());
          }
        }
        return absl::OkStatus();
      });
}

absl::Status Ancestors(const Invocation& invocation) {
  registry::v1::GetAncestorsRequest request;
  request.set_village_id(invocation.args()[0]);
  grpc::ClientContext context;
  invocation.PrepareContext(&context);
  registry::v1::GetAncestorsResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      NewStub(invocation)->GetAncestors(&context, request, &response)));
  for (const Region& region : response.ancestors()) {
    if (invocation.output() == OutputFormat::kJson) {
      RETURN_IF_ERROR(PrintJsonLine(region));
    } else {
      std::printf("%s\n", RegionLine(region).c_str());
    }
  }
  return absl::OkStatus();
}

namespace {

// What registry-summary reports about one region.
struct RegionSummary {
  Region region;
  // Names from the root down to the region itself.
  std::vector<std::string> chain;
  // The region's direct children, in id order, each with the villages
  // anywhere below it.
  struct Child {
    Region region;
    std::vector<Village> villages;
  };
  std::vector<Child> children;
  // Villages whose region is the summarized region itself.
  std::vector<Village> direct_villages;
  // Villages per target level; [0] counts those without a target.
  std::array<int, 6> per_target_level = {};
  int village_count = 0;
};

absl::StatusOr<RegionSummary> SummarizeRegion(const Invocation& invocation,
                                              const std::string& id) {
  RegionSummary summary;
  std::unique_ptr<Stub> stub = NewStub(invocation);
  {
    registry::v1::GetRegionRequest request;
    request.set_id(id);
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    RETURN_IF_ERROR(
        FromGrpcStatus(stub->GetRegion(&context, request, &summary.region)));
  }
  {
    registry::v1::GetAncestorsRequest request;
    request.set_region_id(id);
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    registry::v1::GetAncestorsResponse response;
    RETURN_IF_ERROR(
        FromGrpcStatus(stub->GetAncestors(&context, request, &response)));
    for (auto it = response.ancestors().rbegin();
         it != response.ancestors().rend(); ++it) {
      summary.chain.push_back(it->name());
    }
    summary.chain.push_back(summary.region.name());
  }

  // Every region below, to find the child each village sits under.
  absl::flat_hash_map<std::string, std::string> parent_of;
  std::map<std::string, size_t> child_index;  // child id -> position
  registry::v1::ListRegionsRequest regions_request;
  regions_request.set_ancestor_id(id);
  RETURN_IF_ERROR(ForEachPage(
      invocation, *stub, regions_request, &Stub::ListRegions,
      [&](const registry::v1::ListRegionsResponse& page) -> absl::Status {
        for (const Region& region : page.regions()) {
          parent_of[region.id()] = region.parent_id();
          if (region.parent_id() == id) {
            child_index[region.id()] = summary.children.size();
            summary.children.push_back({region, {}});
          }
        }
        return absl::OkStatus();
      }));
  auto child_of =
      [&](const Village& village) -> absl::StatusOr<RegionSummary::Child*> {
    std::string current = village.region_id();
    // Bounded, in case the tree the server sent is not one.
    for (size_t steps = 0; steps <= parent_of.size(); ++steps) {
      if (current == id) return nullptr;
      auto child = child_index.find(current);
      if (child != child_index.end()) return &summary.children[child->second];
      auto parent = parent_of.find(current);
      if (parent == parent_of.end()) break;
      current = parent->second;
    }
    return absl::InternalError(
        absl::StrCat("village ", village.id(), " is listed below ", id,
                     " but its region ", village.region_id(), " is not"));
  };

  registry::v1::ListVillagesRequest villages_request;
  villages_request.set_ancestor_id(id);
  RETURN_IF_ERROR(ForEachPage(
      invocation, *stub, villages_request, &Stub::ListVillages,
      [&](const registry::v1::ListVillagesResponse& page) -> absl::Status {
        for (const Village& village : page.villages()) {
          ASSIGN_OR_RETURN(RegionSummary::Child * child, child_of(village));
          (child == nullptr ? summary.direct_villages : child->villages)
              .push_back(village);
          const int level = village.target_level();
          if (level < 0 ||
              level >= static_cast<int>(summary.per_target_level.size())) {
            return absl::InternalError(absl::StrCat("village ", village.id(),
                                                    " has target level ", level,
                                                    ", outside 0..5"));
          }
          ++summary.per_target_level[level];
          ++summary.village_count;
        }
        return absl::OkStatus();
      }));
  return summary;
}

std::string Plural(int count, absl::string_view one, absl::string_view many) {
  return absl::StrCat(count, " ", count == 1 ? one : many);
}

// "districts" when every child is a district, "child regions" when mixed.
std::string ChildrenNoun(const RegionSummary& summary) {
  static const auto* nouns = new std::map<registry::v1::RegionKind,
                                          std::pair<const char*, const char*>>{
      {registry::v1::CITY, {"city", "cities"}},
      {registry::v1::COUNTY, {"county", "counties"}},
      {registry::v1::TOWNSHIP, {"township", "townships"}},
      {registry::v1::DISTRICT, {"district", "districts"}}};
  const int count = static_cast<int>(summary.children.size());
  std::pair<const char*, const char*> noun = {"child region", "child regions"};
  if (count > 0) {
    const registry::v1::RegionKind kind = summary.children[0].region.kind();
    bool same = true;
    for (const auto& child : summary.children) {
      same = same && child.region.kind() == kind;
    }
    if (auto it = nouns->find(kind); same && it != nouns->end()) {
      noun = it->second;
    }
  }
  return Plural(count, noun.first, noun.second);
}

std::string VillageNames(const std::vector<Village>& villages) {
  std::vector<std::string> names;
  for (const Village& village : villages) {
    if (static_cast<int>(names.size()) == kSummaryNamesPerChild) {
      names.push_back(absl::StrCat(
          "… and ", villages.size() - kSummaryNamesPerChild, " more"));
      break;
    }
    names.push_back(village.name());
  }
  return absl::StrJoin(names, ", ");
}

// "four-star target: 3, three-star: 7, two-star: 9, none: 2".
std::string TargetLevelsText(const std::array<int, 6>& per_level) {
  static constexpr const char* kLevelNames[] = {
      "none", "one-star", "two-star", "three-star", "four-star", "five-star"};
  std::vector<std::string> parts;
  for (int level = 5; level >= 1; --level) {
    if (per_level[level] == 0) continue;
    parts.push_back(absl::StrCat(kLevelNames[level],
                                 parts.empty() ? " target" : "", ": ",
                                 per_level[level]));
  }
  if (per_level[0] > 0) {
    parts.push_back(absl::StrCat("none: ", per_level[0]));
  }
  return absl::StrJoin(parts, ", ");
}

void PrintSummaryText(const RegionSummary& summary) {
  const Region& region = summary.region;
  std::printf("%s  %s %s\n",
              WithEnglish(region.name(), region.name_en()).c_str(),
              registry::v1::RegionKind_Name(region.kind()).c_str(),
              region.id().c_str());
  std::printf("%s\n", absl::StrJoin(summary.chain, " › ").c_str());
  const std::string villages =
      Plural(summary.village_count, "village", "villages");
  if (summary.children.empty()) {
    std::printf("%s%s%s\n", villages.c_str(),
                summary.village_count > 0 ? ": " : "",
                VillageNames(summary.direct_villages).c_str());
  } else {
    std::printf("%s in %s\n", villages.c_str(), ChildrenNoun(summary).c_str());
  }
  for (const RegionSummary::Child& child : summary.children) {
    const int count = static_cast<int>(child.villages.size());
    std::printf("  %s (%s): %s%s%s\n", child.region.name().c_str(),
                child.region.id().c_str(),
                Plural(count, "village", "villages").c_str(),
                count > 0 ? ": " : "", VillageNames(child.villages).c_str());
  }
  if (!summary.children.empty() && !summary.direct_villages.empty()) {
    std::printf("  directly in %s: %s: %s\n", region.name().c_str(),
                Plural(static_cast<int>(summary.direct_villages.size()),
                       "village", "villages")
                    .c_str(),
                VillageNames(summary.direct_villages).c_str());
  }
  if (summary.village_count > 0) {
    std::printf("targets (定星): %s\n",
                TargetLevelsText(summary.per_target_level).c_str());
  }
}

std::string VillagesJson(const std::vector<Village>& villages) {
  std::vector<std::string> items;
  items.reserve(villages.size());
  for (const Village& village : villages) {
    items.push_back(absl::StrCat("{\"id\":", JsonQuote(village.id()),
                                 ",\"name\":", JsonQuote(village.name()),
                                 ",\"target_level\":", village.target_level(),
                                 "}"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

// The summary as one JSON object, its keys in a fixed order.
std::string SummaryJson(const RegionSummary& summary) {
  const Region& region = summary.region;
  std::vector<std::string> chain;
  for (const std::string& name : summary.chain) {
    chain.push_back(JsonQuote(name));
  }
  std::vector<std::string> children;
  for (const RegionSummary::Child& child : summary.children) {
    children.push_back(absl::StrCat(
        "{\"id\":", JsonQuote(child.region.id()),
        ",\"name\":", JsonQuote(child.region.name()), ",\"kind\":",
        JsonQuote(registry::v1::RegionKind_Name(child.region.kind())),
        ",\"village_count\":", child.villages.size(),
        ",\"villages\":", VillagesJson(child.villages), "}"));
  }
  std::vector<std::string> per_level;
  for (size_t level = 0; level < summary.per_target_level.size(); ++level) {
    per_level.push_back(
        absl::StrCat("\"", level, "\":", summary.per_target_level[level]));
  }
  return absl::StrCat(
      "{\"id\":", JsonQuote(region.id()),
      ",\"name\":", JsonQuote(region.name()),
      ",\"kind\":", JsonQuote(registry::v1::RegionKind_Name(region.kind())),
      ",\"chain\":[", absl::StrJoin(chain, ","), "]",
      ",\"village_count\":", summary.village_count, ",\"children\":[",
      absl::StrJoin(children, ","), "]",
      ",\"direct_villages\":", VillagesJson(summary.direct_villages),
      ",\"villages_per_target_level\":{", absl::StrJoin(per_level, ","), "}}");
}

}  // namespace

absl::Status RegistrySummary(const Invocation& invocation) {
  ASSIGN_OR_RETURN(RegionSummary summary,
                   SummarizeRegion(invocation, invocation.args()[0]));
  if (invocation.output() == OutputFormat::kJson) {
    std::printf("%s\n", SummaryJson(summary).c_str());
    return absl::OkStatus();
  }
  PrintSummaryText(summary);
  return absl::OkStatus();
}

}  // namespace fivestar::cli
