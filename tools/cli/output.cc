#include "tools/cli/output.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

}  // namespace fivestar::cli
