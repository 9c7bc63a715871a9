#include "common/auth.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fivestar {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kReporter:
      return "reporter";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role :
       {Role::kViewer, Role::kReporter, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "role: must be one of viewer, reporter, operator, admin; got \"", name,
      "\""));
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto error = [&](absl::string_view rule) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file line ", line_number, ": ", rule));
    };
    if (fields.size() != 4) {
      return error("want \"<sha256-hex> <role> <scope> <name>\"");
    }
    std::string hash = absl::AsciiStrToLower(fields[0]);
    if (hash.size() != 64 ||
        !absl::c_all_of(hash, [](char c) { return absl::ascii_isxdigit(c); })) {
      return error("token hash must be 64 hex digits (SHA-256)");
    }
    absl::StatusOr<Role> role = ParseRole(fields[1]);
    if (!role.ok()) return error(role.status().message());
    Principal principal{std::string(fields[3]), *role, std::string(fields[2])};
    if (!table.by_hash_.emplace(std::move(hash), std::move(principal)).second) {
      return error("token hash appears twice");
    }
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("tokens file ", path, ": cannot be read"));
  }
  // Whoever may write the file may make themselves admin.
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(
        absl::StrCat("tokens file ", path, ": cannot be read"));
  }
  if ((info.st_mode & S_IWOTH) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "tokens file %s: others may write it (mode %04o); chmod o-w it", path,
        info.st_mode & 07777));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TokenTable> table = Parse(text.str());
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", table.status().message()));
  }
  if (table->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokens file ", path,
        ": lists no principal, so no call could be authenticated"));
  }
  return table;
}

const Principal* TokenTable::Find(absl::string_view token) const {
  auto it = by_hash_.find(Sha256Hex(token));
  return it == by_hash_.end() ? nullptr : &it->second;
}

TokenStore::TokenStore(TokenTable tokens)
    : tokens_(std::make_shared<const TokenTable>(std::move(tokens))) {}

std::shared_ptr<const TokenTable> TokenStore::Get() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

void TokenStore::Set(TokenTable tokens) {
  auto replacement = std::make_shared<const TokenTable>(std::move(tokens));
  absl::MutexLock lock(&mu_);
  tokens_.swap(replacement);
}

Authenticator::Authenticator(TokenTable tokens)
    : Authenticator(std::make_shared<TokenStore>(std::move(tokens))) {}

Authenticator::Authenticator(std::shared_ptr<TokenStore> tokens)
    : enabled_(true), tokens_(std::move(tokens)) {}

Authenticator Authenticator::Disabled() { return Authenticator(); }

absl::StatusOr<Principal> Authenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  if (!enabled_) {
    return Principal{"anonymous", Role::kAdmin, std::string(kGlobalScope)};
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing \"authorization: Bearer <token>\" metadata");
  }
  if (metadata.count("authorization") > 1) {
    return absl::UnauthenticatedError(
        "more than one \"authorization\" metadata entry; send exactly one");
  }
  absl::string_view value(it->second.data(), it->second.size());
  // The scheme name is case-insensitive (RFC 6750 via RFC 7235).
  if (!absl::StartsWithIgnoreCase(value, "bearer ") ||
      (value.remove_prefix(7), value.empty())) {
    return absl::UnauthenticatedError(
        "authorization metadata must be \"Bearer <token>\"");
  }
  const std::shared_ptr<const TokenTable> tokens = tokens_->Get();
  const Principal* principal = tokens->Find(value);
  if (principal == nullptr) {
    return absl::UnauthenticatedError("unknown bearer token");
  }
  return *principal;
}

absl::Status AuthorizeRole(const Principal& principal, Role required,
                           absl::string_view what) {
  if (principal.role < required) {
    return absl::PermissionDeniedError(
        absl::StrCat(principal.name, " (", RoleName(principal.role),
                     ") may not ", what, ": needs role ", RoleName(required)));
  }
  return absl::OkStatus();
}

absl::Status Authorize(const Principal& principal, Role required,
                       absl::Span<const std::string> chain,
                       absl::string_view what) {
  if (absl::Status status = AuthorizeRole(principal, required, what);
      !status.ok()) {
    return status;
  }
  if (principal.is_global() || absl::c_linear_search(chain, principal.scope)) {
    return absl::OkStatus();
  }
  return OutsideScopeError(principal, what);
}

absl::Status AuthorizeListFilter(const Principal& principal, Role required,
                                 absl::Span<const std::string> filter_chain,
                                 absl::Span<const std::string> scope_chain,
                                 absl::string_view what) {
  if (!filter_chain.empty() &&
      FilterAboveScope(principal, filter_chain.front(), scope_chain)) {
    return AuthorizeRole(principal, required, what);
  }
  return Authorize(principal, required, filter_chain, what);
}

bool FilterAboveScope(const Principal& principal, absl::string_view filter_id,
                      absl::Span<const std::string> scope_chain) {
  if (principal.is_global() || scope_chain.empty()) return false;
  return scope_chain.front() != filter_id &&
         absl::c_linear_search(scope_chain, filter_id);
}

absl::Status OutsideScopeError(const Principal& principal,
                               absl::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat(principal.name, " may not ",
                                                  what, ": outside its scope ",
                                                  principal.scope));
}

absl::Status ConcealAbsence(const Principal& principal, Role required,
                            const absl::Status& status,
                            absl::string_view what) {
  if (!absl::IsNotFound(status) || principal.is_global()) return status;
  if (absl::Status role = AuthorizeRole(principal, required, what);
      !role.ok()) {
    return role;
  }
  return OutsideScopeError(principal, what);
}

}  // namespace fivestar
