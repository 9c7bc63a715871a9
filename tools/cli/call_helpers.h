// What the command families share when they call a service: printing one
// resource as --output asks, parsing enum names typed on the command line,
// reading every page of a List method, and
// streaming a newline-delimited JSON file through a bidirectional import
// call (registry's ImportRegistry, projects' ImportProjects: chunks out,
// RECEIVED progress back, a DONE summary at the end).
#ifndef FIVESTAR_TOOLS_CLI_CALL_HELPERS_H_
#define FIVESTAR_TOOLS_CLI_CALL_HELPERS_H_

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "fivestar/common/v1/star.pb.h"
#include "google/protobuf/message.h"
#include "tools/cli/invocation.h"
#include "tools/cli/output.h"

namespace fivestar::cli {

// The largest page the services serve: fewest round trips.
inline constexpr int kPageSize = 1000;

// Records per import message: well below the servers' limit of 10,000,
// large enough to amortize a round trip. A chunk also ends at
// kImportChunkBytes, far from gRPC's default 4 MiB message limit.
inline constexpr int kImportChunkRecords = 1000;
inline constexpr size_t kImportChunkBytes = 1 << 20;

// Prints one resource as --output asks: JSON, or "field: value" lines.
absl::Status PrintResource(const Invocation& invocation,
                           const google::protobuf::Message& message);

// Parses an enum value typed on the command line: its name in any case, '-'
// for '_'. The zero value (..._UNSPECIFIED) is refused. A UsageError names
// `what` (e.g. "--status" or "<star>") and lists `choices` otherwise.
template <typename Enum, typename Parse>
absl::StatusOr<Enum> ParseEnumName(absl::string_view what,
                                   const std::string& text, Parse parse,
                                   absl::string_view choices) {
  Enum value;
  const std::string name =
      absl::StrReplaceAll(absl::AsciiStrToUpper(text), {{"-", "_"}});
  if (!parse(name, &value) || static_cast<int>(value) == 0) {
    return UsageError(
        absl::StrCat(what, ": must be ", choices, ", got \"", text, "\""));
  }
  return value;
}

// A star by its enum name, in any case (ParseEnumName).
absl::StatusOr<common::v1::Star> ParseStar(absl::string_view what,
                                           const std::string& text);

// Calls a List method page after page, handing each response to `on_page`,
// until the last page. `page_size` for a method that serves less than
// kPageSize at a time.
template <typename Stub, typename Request, typename Response, typename OnPage>
absl::Status ForEachPage(const Invocation& invocation, Stub& stub,
                         Request request,
                         grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                      const Request&,
                                                      Response*),
                         OnPage on_page, int page_size = kPageSize) {
  request.set_page_size(page_size);
  while (true) {
    grpc::ClientContext context;
    invocation.PrepareContext(&context);
    Response response;
    RETURN_IF_ERROR(
        FromGrpcStatus((stub.*method)(&context, request, &response)));
    RETURN_IF_ERROR(on_page(response));
    if (response.next_page_token().empty()) return absl::OkStatus();
    if (response.next_page_token() == request.page_token()) {
      return absl::InternalError(
          "the server returned the same page token twice");
    }
    request.set_page_token(response.next_page_token());
  }
}

// Where the records of an import file came from, to turn a server's
// "records[N]..." into "file:line: records[N]..." (`field` names the
// repeated field the server's message indexes: "records", "values").
class ImportSource {
 public:
  explicit ImportSource(std::string name, std::string field = "records")
      : name_(std::move(name)), field_(std::move(field)) {}

  const std::string& name() const { return name_; }
  void AddRecord(int line) { lines_.push_back(line); }

  absl::Status AtLine(int line, const absl::Status& status) const;

  // Names the file and line of the record a server error is about.
  absl::Status Locate(absl::Status status) const;

 private:
  std::string name_;
  std::string field_;
  std::vector<int> lines_;
};

// One bidirectional import call: chunks out, progress back, the summary at
// the end. The servers apply nothing before the client half-closes, so a
// call abandoned on the way (or destroyed unfinished) changes nothing.
// Request has `repeated records` and `validate_only`; Response has a Phase
// enum with RECEIVED and DONE, and `records_received`.
template <typename Stub, typename Request, typename Response>
class ImportCall {
 public:
  using RequestType = Request;
  using ResponseType = Response;
  using Stream = grpc::ClientReaderWriter<Request, Response>;

  // Opens the stream with `open`, e.g. &RegistryService::Stub::ImportRegistry.
  ImportCall(const Invocation& invocation, std::unique_ptr<Stub> stub,
             std::unique_ptr<Stream> (Stub::*open)(grpc::ClientContext*))
      : stub_(std::move(stub)) {
    invocation.PrepareLongContext(&context_);
    stream_ = ((*stub_).*open)(&context_);
  }
  ~ImportCall() { Abandon(); }

  // Sends one chunk and waits for the server to acknowledge it.
  absl::StatusOr<Response> Send(const Request& chunk) {
    if (!stream_->Write(chunk)) return Failed();
    Response progress;
    if (!stream_->Read(&progress)) return Failed();
    if (progress.phase() != Response::RECEIVED) {
      return Unexpected("RECEIVED", progress);
    }
    return progress;
  }

  // Half-closes and returns the server's DONE summary.
  absl::StatusOr<Response> Close() {
    stream_->WritesDone();
    Response done;
    if (!stream_->Read(&done)) return Failed();
    if (done.phase() != Response::DONE) return Unexpected("DONE", done);
    Response extra;
    if (stream_->Read(&extra)) {
      return Unexpected("the end of the stream", extra);
    }
    finished_ = true;
    RETURN_IF_ERROR(FromGrpcStatus(stream_->Finish()));
    return done;
  }

  // Cancels the call unless it has finished.
  void Abandon() {
    if (finished_) return;
    finished_ = true;
    context_.TryCancel();
    stream_->Finish();
  }

 private:
  // The status of a stream the server has ended.
  absl::Status Failed() {
    Response ignored;
    while (stream_->Read(&ignored)) {
    }
    finished_ = true;
    absl::Status status = FromGrpcStatus(stream_->Finish());
    if (status.ok()) {
      return absl::InternalError("the server ended the import stream early");
    }
    return status;
  }

  absl::Status Unexpected(absl::string_view expected, const Response& got) {
    Abandon();
    return absl::InternalError(absl::StrCat("expected ", expected,
                                            " from the server, got phase ",
                                            Response::Phase_Name(got.phase())));
  }

  std::unique_ptr<Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  bool finished_ = false;
};

// Reads a newline-delimited JSON import file: one record per line in
// protobuf's JSON mapping (FromJsonLine), blank lines skipped. The import
// commands (StreamImport, set-indicators) read their files through it; the
// NDJSON fuzzer (tests/fuzz) feeds it arbitrary bytes.
//
//   NdjsonReader reader(in, "villages.ndjson");
//   while (reader.NextLine()) {
//     RETURN_IF_ERROR(reader.Decode(&record));
//     ...
//   }
//   RETURN_IF_ERROR(reader.status());
class NdjsonReader {
 public:
  // Reads `in`; `name` ("stdin" or the path) starts every error message.
  NdjsonReader(std::istream& in, std::string name)
      : in_(in), name_(std::move(name)) {}

  // Moves to the next line that is not blank (only ASCII whitespace).
  // False at the end of the input or when reading fails (see status()).
  bool NextLine();

  // Decodes the current line into `record`, as FromJsonLine does.
  // INVALID_ARGUMENT "<name>:<line>: <what is wrong>" when the line is not
  // a `record` in protobuf's JSON mapping (unknown fields included).
  absl::Status Decode(google::protobuf::Message* record) const;

  // The current line's number (1-based) and text, without its newline.
  int line_number() const { return line_number_; }
  const std::string& line() const { return line_; }

  // After NextLine() returned false: OK at the end of the input, DATA_LOSS
  // "<name>:<line>: read error" when reading failed.
  absl::Status status() const;

 private:
  std::istream& in_;
  std::string name_;
  std::string line_;
  int line_number_ = 0;
};

// Streams the records of `in`, one JSON record per line, through `call` in
// chunks, printing progress on stderr; returns the server's summary.
template <typename Call>
absl::StatusOr<typename Call::ResponseType> StreamImport(
    const Invocation& invocation, std::istream& in, bool validate_only,
    ImportSource* source, Call* call) {
  using Response = typename Call::ResponseType;
  typename Call::RequestType chunk;
  chunk.set_validate_only(validate_only);
  size_t chunk_bytes = 0;
  bool sent_any = false;
  auto send = [&]() -> absl::Status {
    absl::StatusOr<Response> progress = call->Send(chunk);
    if (!progress.ok()) return source->Locate(progress.status());
    std::fprintf(stderr, "%s: %lld records received\n",
                 invocation.command().c_str(),
                 static_cast<long long>(progress->records_received()));
    chunk.clear_records();
    chunk_bytes = 0;
    sent_any = true;
    return absl::OkStatus();
  };
  NdjsonReader reader(in, source->name());
  while (reader.NextLine()) {
    auto* record = chunk.add_records();
    RETURN_IF_ERROR(reader.Decode(record));
    source->AddRecord(reader.line_number());
    chunk_bytes += record->ByteSizeLong();
    if (chunk.records_size() == kImportChunkRecords ||
        chunk_bytes >= kImportChunkBytes) {
      RETURN_IF_ERROR(send());
    }
  }
  RETURN_IF_ERROR(reader.status());
  // The last chunk, and at least one so that validate_only gets there.
  if (chunk.records_size() > 0 || !sent_any) RETURN_IF_ERROR(send());
  absl::StatusOr<Response> done = call->Close();
  if (!done.ok()) return source->Locate(done.status());
  return done;
}

// An input file named on the command line, "-" meaning stdin.
class InputFile {
 public:
  // NOT_FOUND when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<InputFile>> Open(
      const std::string& path);

  std::istream& stream() { return path_ == "-" ? std::cin : file_; }
  // "stdin" or the path, for messages.
  std::string name() const { return path_ == "-" ? "stdin" : path_; }

 private:
  explicit InputFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::ifstream file_;
};

}  // namespace fivestar::cli

#endif  // FIVESTAR_TOOLS_CLI_CALL_HELPERS_H_
