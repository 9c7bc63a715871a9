// Authentication and authorization shared by every server.
//
// A caller presents "authorization: Bearer <token>". The server holds only
// SHA-256 hashes of tokens (the tokens file), each mapped to a principal: a
// name, a role and a scope. The scope is a region id or a village id (or "*"
// for the whole system); a principal may act only on things whose ancestry
// contains its scope, and only as far as its role allows.
#ifndef FIVESTAR_COMMON_AUTH_H_
#define FIVESTAR_COMMON_AUTH_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace fivestar {

// What a principal may do, each role including the ones below it.
enum class Role {
  // Reads inside its scope.
  kViewer = 1,
  // Also reports progress and indicator values inside its scope.
  kReporter = 2,
  // Also creates and changes villages, projects and targets in its scope.
  kOperator = 3,
  // Also manages regions, imports and the rubric in its scope.
  kAdmin = 4,
};

// "viewer", "reporter", "operator", "admin".
absl::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(absl::string_view name);

// The scope that covers the whole system.
inline constexpr absl::string_view kGlobalScope = "*";

// Who is calling.
struct Principal {
  std::string name;
  Role role = Role::kViewer;
  // A region id, a village id, or kGlobalScope.
  std::string scope;

  bool is_global() const { return scope == kGlobalScope; }
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// The principals known to a server, keyed by the hash of their token.
//
// File format, one principal per line, '#' starts a comment:
//   <sha256-hex-of-token> <role> <scope> <name>
// e.g. "9f86d0...0f00a08 operator 411323-huiche huiche-office".
class TokenTable {
 public:
  // Parses the text of a tokens file. INVALID_ARGUMENT names the line.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);
  // Reads and parses a tokens file. Beyond Parse's rules, a file that
  // others may write (mode o+w) or that lists no principal is
  // INVALID_ARGUMENT; an unreadable one is NOT_FOUND. Errors name the path.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The principal holding `token`, or nullptr.
  const Principal* Find(absl::string_view token) const;
  size_t size() const { return by_hash_.size(); }

 private:
  absl::flat_hash_map<std::string, Principal> by_hash_;
};

// The token table in force, replaced as a whole when the tokens file is
// reloaded (common/tokens_file_watcher.h). Thread-safe; a call that has
// taken the table keeps it until it is done.
class TokenStore {
 public:
  explicit TokenStore(TokenTable tokens);

  std::shared_ptr<const TokenTable> Get() const;
  void Set(TokenTable tokens);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

// Turns the metadata of a call into a principal.
class Authenticator {
 public:
  // Authentication on: every call needs a known bearer token.
  explicit Authenticator(TokenTable tokens);
  // Authentication on, with the tokens of `tokens`, which may be replaced
  // while the server runs.
  explicit Authenticator(std::shared_ptr<TokenStore> tokens);
  // Authentication off (only by the operator's explicit choice): every call
  // acts as a global admin named "anonymous".
  static Authenticator Disabled();

  bool enabled() const { return enabled_; }
  // The tokens in force, for a TokensFileWatcher to replace; null when
  // authentication is off.
  const std::shared_ptr<TokenStore>& token_store() const { return tokens_; }

  // UNAUTHENTICATED when the token is missing, malformed or unknown, or
  // when the call carries more than one "authorization" entry (which one a
  // proxy or a server would read is not defined).
  absl::StatusOr<Principal> Authenticate(
      const grpc::ServerContextBase& context) const;

 private:
  Authenticator() = default;
  bool enabled_ = false;
  std::shared_ptr<TokenStore> tokens_;
};

// Checks that `principal` may act with `required` role on a thing whose
// ancestry is `chain` (the thing's own id first, then its ancestors' ids up
// to the root). PERMISSION_DENIED names `what` and the principal otherwise.
absl::Status Authorize(const Principal& principal, Role required,
                       absl::Span<const std::string> chain,
                       absl::string_view what);

// Checks a filter of a list, export or change stream (a parent, region or
// village the results must lie below) whose ancestry is `filter_chain` (the
// filter's own id first, as for Authorize). The filter may lie within the
// principal's scope (its scope is in `filter_chain`) or above it (the
// filter's id is in `scope_chain`, the ancestry of the principal's scope,
// the scope's own id first); either way the call answers with what the
// principal may read below the filter, possibly nothing. A filter wholly
// outside the scope gets exactly Authorize's refusal (OutsideScopeError).
// `scope_chain` is ignored for a global principal.
absl::Status AuthorizeListFilter(const Principal& principal, Role required,
                                 absl::Span<const std::string> filter_chain,
                                 absl::Span<const std::string> scope_chain,
                                 absl::string_view what);

// True when `filter_id` lies strictly above the scope of `principal`, whose
// ancestry is `scope_chain` (the scope's own id first): the readable part
// below such a filter is the principal's whole scope. False for a global
// principal.
bool FilterAboveScope(const Principal& principal, absl::string_view filter_id,
                      absl::Span<const std::string> scope_chain);

// The PERMISSION_DENIED for `principal` acting on a thing outside its scope:
// "<name> may not <what>: outside its scope <scope>". Authorize gives it,
// and ConcealAbsence gives the very same for something that does not exist.
absl::Status OutsideScopeError(const Principal& principal,
                               absl::string_view what);

// Keeps a scoped principal from learning whether something it named exists
// outside its scope (no existence oracle). `status` is the outcome of
// looking up what `principal` asked for. For a principal whose scope is not
// global, NOT_FOUND becomes exactly what Authorize(principal, required,
// <a chain outside the scope>, what) gives: the role refusal when the role
// falls short, else OutsideScopeError. Any other status, and every status
// for a global principal (who may know what exists), comes back unchanged.
absl::Status ConcealAbsence(const Principal& principal, Role required,
                            const absl::Status& status, absl::string_view what);

// Checks only the role (for calls that touch nothing scoped).
absl::Status AuthorizeRole(const Principal& principal, Role required,
                           absl::string_view what);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_AUTH_H_
