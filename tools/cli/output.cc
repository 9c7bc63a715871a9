#include "tools/cli/output.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace fivestar::cli {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::util::TimeUtil;

using FieldLines = std::vector<std::pair<std::string, std::string>>;

void AppendFields(const Message& message, const std::string& prefix,
                  FieldLines* lines);

// A message-typed value as one string: timestamps and durations in their
// usual text form, anything else as compact JSON.
std::string MessageValue(const Message& message) {
  const std::string& type = message.GetDescriptor()->full_name();
  if (type == google::protobuf::Timestamp::descriptor()->full_name()) {
    google::protobuf::Timestamp timestamp;
    timestamp.CopyFrom(message);
    return TimeUtil::ToString(timestamp);
  }
  if (type == google::protobuf::Duration::descriptor()->full_name()) {
    google::protobuf::Duration duration;
    duration.CopyFrom(message);
    return TimeUtil::ToString(duration);
  }
  absl::StatusOr<std::string> json = ToJsonLine(message);
  return json.ok() ? *json : std::string(json.status().message());
}

// The value of a singular field (index < 0) or of one element of a
// repeated field.
std::string ScalarValue(const Message& message, const FieldDescriptor* field,
                        int index) {
  const Reflection* reflection = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedInt32(message, field, index)
                   : reflection->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedInt64(message, field, index)
                   : reflection->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedUInt32(message, field, index)
                   : reflection->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedUInt64(message, field, index)
                   : reflection->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedDouble(message, field, index)
                   : reflection->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(
          repeated ? reflection->GetRepeatedFloat(message, field, index)
                   : reflection->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? reflection->GetRepeatedBool(message, field, index)
                       : reflection->GetBool(message, field))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return (repeated ? reflection->GetRepeatedEnum(message, field, index)
                       : reflection->GetEnum(message, field))
          ->name();
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? reflection->GetRepeatedString(message, field, index)
                      : reflection->GetString(message, field);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageValue(
          repeated ? reflection->GetRepeatedMessage(message, field, index)
                   : reflection->GetMessage(message, field));
  }
  return "?";
}

void AppendField(const Message& message, const FieldDescriptor* field,
                 const std::string& prefix, FieldLines* lines) {
  const Reflection* reflection = message.GetReflection();
  const std::string name = prefix + field->name();
  if (field->is_repeated()) {
    const int size = reflection->FieldSize(message, field);
    if (size == 0) return;
    std::vector<std::string> values;
    values.reserve(size);
    for (int i = 0; i < size; ++i) {
      values.push_back(ScalarValue(message, field, i));
    }
    lines->emplace_back(name, absl::StrJoin(values, ", "));
    return;
  }
  const bool has_presence =
      field->containing_oneof() != nullptr ||
      field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
  if (has_presence && !reflection->HasField(message, field)) return;
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Message& sub = reflection->GetMessage(message, field);
    const std::string& type = sub.GetDescriptor()->full_name();
    if (type != google::protobuf::Timestamp::descriptor()->full_name() &&
        type != google::protobuf::Duration::descriptor()->full_name()) {
      AppendFields(sub, name + ".", lines);
      return;
    }
  }
  std::string value = ScalarValue(message, field, -1);
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && value.empty()) {
    return;
  }
  lines->emplace_back(name, std::move(value));
}

void AppendFields(const Message& message, const std::string& prefix,
                  FieldLines* lines) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    AppendField(message, descriptor->field(i), prefix, lines);
  }
}

}  // namespace

absl::StatusOr<std::string> ToJsonLine(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print a ", message.GetDescriptor()->full_name(),
                     " as JSON: ", status.message().ToString()));
  }
  return json;
}

absl::Status FromJsonLine(const std::string& line, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(line, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(status.message().ToString());
  }
  return absl::OkStatus();
}

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out,
                          absl::StrFormat("\\u%04x", static_cast<int>(c)));
        } else {
          out += c;  // UTF-8 passes through; JSON allows it.
        }
    }
  }
  out += '"';
  return out;
}

std::string WithEnglish(const std::string& name, const std::string& name_en) {
  return name_en.empty() ? name : absl::StrCat(name, " (", name_en, ")");
}

absl::Status PrintJsonLine(const Message& message) {
  absl::StatusOr<std::string> json = ToJsonLine(message);
  if (!json.ok()) return json.status();
  std::printf("%s\n", json->c_str());
  return absl::OkStatus();
}

void PrintFields(const Message& message) {
  FieldLines lines;
  AppendFields(message, "", &lines);
  size_t width = 0;
  for (const auto& [name, value] : lines) width = std::max(width, name.size());
  for (const auto& [name, value] : lines) {
    std::printf("%s:%*s %s\n", name.c_str(),
                static_cast<int>(width - name.size()), "", value.c_str());
  }
}

std::string Quantity(double value) {
  if (std::isfinite(value) && value == std::trunc(value) &&
      std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  std::string text = absl::StrFormat("%.4f", value);
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

std::string Percent(double rate) {
  return absl::StrFormat("%.1f %%", rate * 100);
}

std::string ChinaTimeText(const google::protobuf::Timestamp& timestamp) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(timestamp.seconds()),
                          ChinaStandardTime());
}

const char* StarNameZh(common::v1::Star star) {
  switch (star) {
    case common::v1::BRANCH_STRONG:
      return "支部过硬星";
    case common::v1::INDUSTRY_THRIVING:
      return "产业兴旺星";
    case common::v1::ECO_LIVABLE:
      return "生态宜居星";
    case common::v1::SAFE_LAWFUL:
      return "平安法治星";
    case common::v1::CIVILIZED_HAPPY:
      return "文明幸福星";
    default:
      return "";
  }
}

namespace {

// The columns one code point takes (see DisplayWidth).
int CodePointWidth(uint32_t c) {
  // Combining marks (accents, CJK tone marks, variation selectors, zero
  // width joiners) sit on the character before them.
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) ||
      (c >= 0x302A && c <= 0x302D) || (c >= 0xFE00 && c <= 0xFE0F)) {
    return 0;
  }
  // East Asian Wide (W) and Fullwidth (F) blocks.
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
      (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
      (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

}  // namespace

int DisplayWidth(absl::string_view text) {
  int width = 0;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    uint32_t code = lead;
    if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code = lead & 0x07;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code = lead & 0x0F;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code = lead & 0x1F;
    }
    bool valid = lead < 0x80 || (length > 1 && i + length <= text.size());
    for (size_t k = 1; valid && k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) valid = false;
      code = (code << 6) | (next & 0x3F);
    }
    if (!valid) {
      // A stray byte: one column, and resynchronize on the next byte.
      ++width;
      ++i;
      continue;
    }
    width += CodePointWidth(code);
    i += length;
  }
  return width;
}

std::string PadRight(absl::string_view text, int width) {
  const int pad = width - DisplayWidth(text);
  return absl::StrCat(text, std::string(pad > 0 ? pad : 0, ' '));
}

std::string PadLeft(absl::string_view text, int width) {
  const int pad = width - DisplayWidth(text);
  return absl::StrCat(std::string(pad > 0 ? pad : 0, ' '), text);
}

std::vector<std::string> AlignColumns(
    const std::vector<std::vector<std::string>>& rows,
    const std::vector<bool>& right_aligned) {
  std::vector<int> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::vector<std::string> lines;
  lines.reserve(rows.size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const bool right = i < right_aligned.size() && right_aligned[i];
      absl::StrAppend(&line, right ? PadLeft(row[i], widths[i])
                                   : PadRight(row[i], widths[i]));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace fivestar::cli
