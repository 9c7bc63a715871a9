// Checks of request fields shared by the services. Each returns OK or
// INVALID_ARGUMENT naming the field and the rule it breaks, e.g.
// "village.target_level: must be 0..5, got 7".
#ifndef FIVESTAR_COMMON_VALIDATION_H_
#define FIVESTAR_COMMON_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace fivestar {

// Ids chosen by clients: 1–64 characters from [A-Za-z0-9._-].
absl::Status ValidateId(absl::string_view field, absl::string_view id);

// Number of Unicode code points in UTF-8 `text`.
size_t Utf8Length(absl::string_view text);

// Text of min_chars..max_chars characters (code points), without control
// characters; min_chars 0 makes it optional.
absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t min_chars, size_t max_chars);

// An integer within [min, max].
absl::Status ValidateRange(absl::string_view field, int64_t value, int64_t min,
                           int64_t max);

// Free tags: at most max_tags, each 1..max_chars characters, no duplicates.
absl::Status ValidateTags(
    absl::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& tags, int max_tags,
    size_t max_chars);

// The page size to use for a List request: `requested` when 1..max,
// `default_size` when 0, INVALID_ARGUMENT otherwise.
absl::StatusOr<int> EffectivePageSize(int requested, int default_size, int max);

// Page tokens: opaque to clients, bound to the request's filters. Encodes
// the position after which the next page starts.
std::string EncodePageToken(absl::string_view filters, absl::string_view after);

// Decodes a token made by EncodePageToken for the same `filters`; empty
// `token` gives an empty position. INVALID_ARGUMENT on a corrupt token or one
// made for other filters.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token,
                                            absl::string_view filters);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_VALIDATION_H_
