// Field rules of the projects contract that common/validation.h does not
// cover: idempotency keys, finite numbers, timestamps, and the fingerprint
// that tells a retried request from a different one under the same key.
#ifndef FIVESTAR_COMMON_FIELD_RULES_H_
#define FIVESTAR_COMMON_FIELD_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace fivestar {

// Idempotency keys (request_id, import keys): 1–64 characters from
// [A-Za-z0-9._:-].
absl::Status ValidateRequestId(absl::string_view field, absl::string_view id);

// A finite number within [min, max].
absl::Status ValidateNumber(absl::string_view field, double value, double min,
                            double max);

// A well-formed timestamp (seconds and nanos in protobuf's valid range).
absl::StatusOr<absl::Time> ValidateTimestamp(
    absl::string_view field, const google::protobuf::Timestamp& timestamp);

// Lowercase hex SHA-256 of the deterministic serialization of `message`:
// equal messages give equal fingerprints.
std::string Fingerprint(const google::protobuf::Message& message);

// A number for messages: 780, 0.5, 1e+12 (shortest form that reads back).
std::string FormatNumber(double value);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_FIELD_RULES_H_
