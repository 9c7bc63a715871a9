#include "tools/cli/call_helpers.h"

#include "absl/strings/numbers.h"

namespace fivestar::cli {

absl::Status PrintResource(const Invocation& invocation,
                           const google::protobuf::Message& message) {
  if (invocation.output() == OutputFormat::kJson) {
    return PrintJsonLine(message);
  }
  PrintFields(message);
  return absl::OkStatus();
}

absl::StatusOr<common::v1::Star> ParseStar(absl::string_view what,
                                           const std::string& text) {
  return ParseEnumName<common::v1::Star>(
      what, text, &common::v1::Star_Parse,
      "branch_strong, industry_thriving, eco_livable, safe_lawful or "
      "civilized_happy");
}

absl::Status ImportSource::AtLine(int line, const absl::Status& status) const {
  return absl::Status(status.code(),
                      absl::StrCat(name_, ":", line, ": ", status.message()));
}

absl::Status ImportSource::Locate(absl::Status status) const {
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, field_) ||
      !absl::ConsumePrefix(&message, "[")) {
    return status;
  }
  const size_t end = message.find(']');
  size_t index = 0;
  if (end == absl::string_view::npos ||
      !absl::SimpleAtoi(message.substr(0, end), &index) ||
      index >= lines_.size()) {
    return status;
  }
  return AtLine(lines_[index], status);
}

bool NdjsonReader::NextLine() {
  while (std::getline(in_, line_)) {
    ++line_number_;
    if (!absl::StripAsciiWhitespace(line_).empty()) return true;
  }
  return false;
}

absl::Status NdjsonReader::Decode(google::protobuf::Message* record) const {
  absl::Status parsed = FromJsonLine(line_, record);
  if (!parsed.ok()) {
    return absl::Status(parsed.code(), absl::StrCat(name_, ":", line_number_,
                                                    ": ", parsed.message()));
  }
  return absl::OkStatus();
}

absl::Status NdjsonReader::status() const {
  if (in_.bad()) {
    return absl::DataLossError(
        absl::StrCat(name_, ":", line_number_ + 1, ": read error"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<InputFile>> InputFile::Open(
    const std::string& path) {
  std::unique_ptr<InputFile> input(new InputFile(path));
  if (path != "-") {
    input->file_.open(path);
    if (!input->file_) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot be opened"));
    }
  }
  return input;
}

}  // namespace fivestar::cli
