#include "common/validation.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/status.h"

namespace fivestar {

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return FieldError(field, "required");
  if (id.size() > 64) {
    return FieldError(
        field, absl::StrCat("must be at most 64 characters, got ", id.size()));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return FieldError(field,
                        absl::StrCat("must use only [A-Za-z0-9._-], got \"",
                                     absl::CHexEscape(id), "\""));
    }
  }
  return absl::OkStatus();
}

size_t Utf8Length(absl::string_view text) {
  size_t count = 0;
  for (char c : text) {
    // Count every byte that does not continue a multi-byte sequence.
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t min_chars, size_t max_chars) {
  const size_t length = Utf8Length(text);
  if (length == 0 && min_chars > 0) return FieldError(field, "required");
  if (length < min_chars || length > max_chars) {
    return FieldError(field,
                      absl::StrCat("must be ", min_chars, "..", max_chars,
                                   " characters, got ", length));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    // C0 controls and DEL, and C1 controls (U+0080..U+009F: 0xC2 0x80..0x9F).
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool c1 = byte == 0xC2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if (absl::ascii_iscntrl(text[i]) || c1) {
      return FieldError(field, "must not contain control characters");
    }
  }
  // ASCII whitespace or the full-width space U+3000 common in Chinese input.
  constexpr absl::string_view kIdeographicSpace = "\xE3\x80\x80";
  if (!text.empty() &&
      (absl::ascii_isspace(text.front()) || absl::ascii_isspace(text.back()) ||
       absl::StartsWith(text, kIdeographicSpace) ||
       absl::EndsWith(text, kIdeographicSpace))) {
    return FieldError(field, "must not start or end with whitespace");
  }
  return absl::OkStatus();
}

absl::Status ValidateRange(absl::string_view field, int64_t value, int64_t min,
                           int64_t max) {
  if (value < min || value > max) {
    return FieldError(
        field, absl::StrCat("must be ", min, "..", max, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status ValidateTags(
    absl::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& tags, int max_tags,
    size_t max_chars) {
  if (tags.size() > max_tags) {
    return FieldError(field, absl::StrCat("must hold at most ", max_tags,
                                          " tags, got ", tags.size()));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < tags.size(); ++i) {
    const std::string element = absl::StrCat(field, "[", i, "]");
    if (absl::Status status = ValidateText(element, tags[i], 1, max_chars);
        !status.ok()) {
      return status;
    }
    if (!seen.insert(tags[i]).second) {
      return FieldError(element,
                        absl::StrCat("duplicate tag \"", tags[i], "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> EffectivePageSize(int requested, int default_size,
                                      int max) {
  if (requested == 0) return default_size;
  if (requested < 0 || requested > max) {
    return FieldError("page_size",
                      absl::StrCat("must be 0..", max, ", got ", requested));
  }
  return requested;
}

namespace {
// Short, stable fingerprint of a request's filters.
std::string Fingerprint(absl::string_view filters) {
  return Sha256Hex(filters).substr(0, 16);
}
}  // namespace

std::string EncodePageToken(absl::string_view filters,
                            absl::string_view after) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(Fingerprint(filters), ":", after));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token,
                                            absl::string_view filters) {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 17 ||
      raw[16] != ':') {
    return FieldError("page_token", "is not a token this server issued");
  }
  if (absl::string_view(raw).substr(0, 16) != Fingerprint(filters)) {
    return FieldError("page_token",
                      "was issued for a request with other filters; keep "
                      "them unchanged between pages");
  }
  return raw.substr(17);
}

}  // namespace fivestar
