// Applying a google.protobuf.FieldMask of an Update request the way every
// fivestar service does: the mask must name at least one field, every path
// must be one of the fields the resource lets change (or the lone "*" for
// all of them), and the named fields are copied from the request onto the
// stored resource. Header-only.
#ifndef FIVESTAR_COMMON_UPDATE_MASK_H_
#define FIVESTAR_COMMON_UPDATE_MASK_H_

#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"

namespace fivestar {

// Copies the fields of `source` named by `mask` onto `target`, after
// checking that each path is in `mutable_fields`. INVALID_ARGUMENT names
// "update_mask" or the offending "update_mask.paths[i]" otherwise. Repeated
// fields are replaced, not appended to.
template <typename Resource>
absl::Status ApplyUpdateMask(const google::protobuf::FieldMask& mask,
                             const std::vector<std::string>& mutable_fields,
                             const Resource& source, Resource* target) {
  if (mask.paths().empty()) {
    return FieldError("update_mask",
                      "must name the fields to change (or \"*\" for all)");
  }
  google::protobuf::FieldMask effective;
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& path = mask.paths(i);
    if (path == "*") {
      if (mask.paths_size() != 1) {
        return FieldError("update_mask.paths",
                          "\"*\" must be the only path when given");
      }
      for (const std::string& field : mutable_fields)
        effective.add_paths(field);
      break;
    }
    if (!absl::c_linear_search(mutable_fields, path)) {
      return FieldError(
          absl::StrCat("update_mask.paths[", i, "]"),
          absl::StrCat("\"", path, "\" cannot be changed; choose from ",
                       absl::StrJoin(mutable_fields, ", "), " or \"*\""));
    }
    effective.add_paths(path);
  }
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(source, effective,
                                                        options, target);
  return absl::OkStatus();
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_UPDATE_MASK_H_
