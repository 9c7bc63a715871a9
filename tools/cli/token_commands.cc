#include "tools/cli/token_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/auth.h"
#include "common/validation.h"

namespace fivestar::cli {
namespace {

// 256 bits: as strong as the SHA-256 the server keeps of it.
constexpr size_t kTokenBytes = 32;

absl::StatusOr<std::string> RandomBytes(size_t count) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string bytes(count, '\0');
  if (!urandom.read(bytes.data(), static_cast<std::streamsize>(count))) {
    return absl::UnavailableError("cannot read /dev/urandom");
  }
  return bytes;
}

}  // namespace

absl::Status HashToken(const Invocation& invocation) {
  std::string token = invocation.args()[0];
  if (token == "-") {
    // Keeps the token out of the shell history and the process list.
    if (!std::getline(std::cin, token)) {
      return UsageError("expected the token on stdin");
    }
    token = std::string(absl::StripTrailingAsciiWhitespace(token));
  }
  if (token.empty()) return UsageError("the token is empty");
  std::printf("%s\n", Sha256Hex(token).c_str());
  return absl::OkStatus();
}

absl::Status NewToken(const Invocation& invocation) {
  const std::string& role_name = invocation.args()[0];
  const std::string& scope = invocation.args()[1];
  const std::string& name = invocation.args()[2];
  absl::StatusOr<Role> role = ParseRole(role_name);
  if (!role.ok()) return UsageError(role.status().message());
  // The tokens file splits on whitespace and cuts at '#'; ids are safe there.
  if (scope != kGlobalScope) {
    if (absl::Status status = ValidateId("scope", scope); !status.ok()) {
      return UsageError(
          absl::StrCat(status.message(), " (or \"*\" for everything)"));
    }
  }
  if (absl::Status status = ValidateId("name", name); !status.ok()) {
    return UsageError(status.message());
  }
  absl::StatusOr<std::string> bytes = RandomBytes(kTokenBytes);
  if (!bytes.ok()) return bytes.status();
  const std::string token = absl::BytesToHexString(*bytes);
  std::printf("%s\n%s %s %s %s\n", token.c_str(), Sha256Hex(token).c_str(),
              std::string(RoleName(*role)).c_str(), scope.c_str(),
              name.c_str());
  return absl::OkStatus();
}

}  // namespace fivestar::cli
