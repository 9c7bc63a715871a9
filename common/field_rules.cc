#include "common/field_rules.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/auth.h"
#include "common/status.h"

namespace fivestar {

using ::google::protobuf::util::TimeUtil;

absl::Status ValidateRequestId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return FieldError(field, "required");
  if (id.size() > 64) {
    return FieldError(
        field, absl::StrCat("must be at most 64 characters, got ", id.size()));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != ':' &&
        c != '-') {
      return FieldError(field,
                        absl::StrCat("must use only [A-Za-z0-9._:-], got \"",
                                     absl::CHexEscape(id), "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNumber(absl::string_view field, double value, double min,
                            double max) {
  if (!std::isfinite(value))
    return FieldError(field, "must be a finite number");
  if (value < min || value > max) {
    return FieldError(
        field, absl::StrCat("must be ", FormatNumber(min), "..",
                            FormatNumber(max), ", got ", FormatNumber(value)));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> ValidateTimestamp(
    absl::string_view field, const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() < TimeUtil::kTimestampMinSeconds ||
      timestamp.seconds() > TimeUtil::kTimestampMaxSeconds ||
      timestamp.nanos() < 0 || timestamp.nanos() > 999'999'999) {
    return FieldError(field, "is not a valid timestamp");
  }
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

std::string Fingerprint(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

std::string FormatNumber(double value) {
  return absl::StrFormat("%.15g", value);
}

}  // namespace fivestar
