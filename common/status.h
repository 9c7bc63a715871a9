// Status helpers shared by every service: the one place where absl::Status
// becomes grpc::Status (and back), the propagation macros Debian's Abseil
// lacks, and constructors for the project's error messages.
#ifndef FIVESTAR_COMMON_STATUS_H_
#define FIVESTAR_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fivestar {

// Converts an internal status to the status sent on the wire. Codes map one
// to one. The message is kept, except for INTERNAL, UNKNOWN and DATA_LOSS:
// those are the server's own faults and their messages may hold storage
// details (SQL, SQLite's text, file paths), so they are logged in full with
// a fresh request id and the client gets only
// "internal error (request id <id>); ...", which an operator can find in
// the log.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The request id ToGrpcStatus put into the message of a server fault
// (INTERNAL, UNKNOWN, DATA_LOSS), or "" for any other status.
std::string ServerRequestIdOf(const grpc::Status& status);

// True for the codes ToGrpcStatus hides the message of.
bool IsServerFault(absl::StatusCode code);

// Converts a status received from a peer service to an internal one.
absl::Status FromGrpcStatus(const grpc::Status& status);

// INVALID_ARGUMENT naming the field and the rule it breaks, in the form
// "village.target_level: must be 0..5, got 7".
absl::Status FieldError(absl::string_view field, absl::string_view rule);

// ABORTED: "<kind> <id> was changed by someone else (etag mismatch); read it
// again and retry". The one message for a stale etag, from the logic layers
// and from the stores (which compare etags inside their writing
// transactions); defined in common/versioned_resource.cc.
absl::Status EtagMismatchError(absl::string_view kind, absl::string_view id);

// OK when `given` (the etag a client sent with a change) is empty or equals
// `current` (the stored resource's); EtagMismatchError(kind, id) otherwise.
absl::Status CheckEtag(absl::string_view kind, absl::string_view id,
                       absl::string_view given, absl::string_view current);

}  // namespace fivestar

#define FIVESTAR_STATUS_CONCAT_INNER_(a, b) a##b
#define FIVESTAR_STATUS_CONCAT_(a, b) FIVESTAR_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    ::absl::Status fivestar_status_ = (expr);            \
    if (!fivestar_status_.ok()) return fivestar_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves its value into `lhs` (a declaration or an lvalue).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(            \
      FIVESTAR_STATUS_CONCAT_(fivestar_statusor_, __LINE__), lhs, rexpr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) return statusor.status();      \
  lhs = std::move(statusor).value()

#endif  // FIVESTAR_COMMON_STATUS_H_
