// The server side of every chunked import RPC (bidi streaming): the client
// streams chunks and half-closes; the server answers each chunk with its
// progress (phase RECEIVED) and, once everything has arrived, applies the
// whole import at once and ends with a summary (phase DONE). Header-only.
#ifndef FIVESTAR_COMMON_IMPORT_REACTOR_H_
#define FIVESTAR_COMMON_IMPORT_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "common/status.h"

namespace fivestar {

// `Import` is a service's import session:
//   absl::Status Add(const Request& chunk);      // check and keep a chunk
//   absl::StatusOr<Counts> Finish();             // apply everything
//   int64_t records_received() const;
// `Response` has a Phase enum with RECEIVED and DONE, and records_received.
// `summarize` copies the final counts into the DONE message.
template <typename Request, typename Response, typename Import>
class ImportReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  using Counts =
      typename decltype(std::declval<Import&>().Finish())::value_type;
  using Summarize = std::function<void(const Counts&, Response*)>;

  // Deletes itself when the call is done. Ends the call at once with the
  // error when `import` is not OK (e.g. the caller may not import).
  ImportReactor(absl::StatusOr<std::unique_ptr<Import>> import,
                Summarize summarize)
      : summarize_(std::move(summarize)) {
    if (!import.ok()) {
      this->Finish(ToGrpcStatus(import.status()));
      return;
    }
    import_ = *std::move(import);
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client half-closed: everything has arrived.
      absl::StatusOr<Counts> counts = import_->Finish();
      if (!counts.ok()) {
        this->Finish(ToGrpcStatus(counts.status()));
        return;
      }
      response_.Clear();
      response_.set_phase(Response::DONE);
      response_.set_records_received(import_->records_received());
      summarize_(*counts, &response_);
      this->StartWriteAndFinish(&response_, grpc::WriteOptions(),
                                grpc::Status::OK);
      return;
    }
    if (absl::Status status = import_->Add(request_); !status.ok()) {
      this->Finish(ToGrpcStatus(status));
      return;
    }
    response_.Clear();
    response_.set_phase(Response::RECEIVED);
    response_.set_records_received(import_->records_received());
    this->StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                                "import abandoned: the client went away"));
      return;
    }
    this->StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  Summarize summarize_;
  std::unique_ptr<Import> import_;
  Request request_;
  Response response_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_IMPORT_REACTOR_H_
