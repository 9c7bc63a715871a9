// The server side of every chunked import RPC (bidi streaming): the client
// streams chunks and half-closes; the server answers each chunk with its
// progress (phase RECEIVED) and, once everything has arrived, applies the
// whole import at once and ends with a summary (phase DONE). Header-only.
//
// All or nothing: only a clean half-close after chunks that all parsed and
// passed their checks applies anything. A chunk that does not parse (e.g. a
// string that is not UTF-8), a client that cancels, dies or runs out of
// deadline, and a server that shuts down before the end all leave the
// database untouched. The reactor reads raw bytes so that it can tell a
// chunk that does not parse from the end of the stream (gRPC's typed reads
// report both as "no more messages"); register the RPC with the generated
// WithRawCallbackMethod_<Import> wrapper.
#ifndef FIVESTAR_COMMON_IMPORT_REACTOR_H_
#define FIVESTAR_COMMON_IMPORT_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/executor.h"
#include "common/status.h"

namespace fivestar {

namespace import_reactor_internal {

// Whether Import::Finish takes a cancellation check.
template <typename Import, typename = void>
struct FinishTakesCancelled : std::false_type {};
template <typename Import>
struct FinishTakesCancelled<Import,
                            std::void_t<decltype(std::declval<Import&>().Finish(
                                std::declval<const std::function<bool()>&>()))>>
    : std::true_type {};

}  // namespace import_reactor_internal

// `Import` is a service's import session:
//   absl::Status Add(const Request& chunk);      // check and keep a chunk
//   absl::StatusOr<Counts> Finish();             // apply everything
//   int64_t records_received() const;
// An import whose Finish also takes a `const std::function<bool()>&` is
// given one that turns true once the call is cancelled or past its
// deadline, so that a long apply can give up (and roll back) midway.
// `Response` has a Phase enum with RECEIVED and DONE, and records_received.
// `summarize` copies the final counts into the DONE message.
template <typename Request, typename Response, typename Import>
class ImportReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  using Counts =
      typename decltype(std::declval<Import&>().Finish())::value_type;
  using Summarize = std::function<void(const Counts&, Response*)>;

  // Deletes itself when the call is done. Ends the call at once with the
  // error when `import` is not OK (e.g. the caller may not import). Checking
  // chunks and applying the import run on `executor`, never on a gRPC
  // thread. `context` and `executor` must outlive the call.
  ImportReactor(grpc::CallbackServerContext* context, Executor* executor,
                absl::StatusOr<std::unique_ptr<Import>> import,
                Summarize summarize)
      : context_(context),
        executor_(executor),
        summarize_(std::move(summarize)) {
    if (!import.ok()) {
      Finish(ToGrpcStatus(import.status()));
      return;
    }
    import_ = *std::move(import);
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Either the client half-closed, or the call is over (cancelled,
      // deadline passed, connection lost, server stopping). Only the first
      // may apply the import.
      executor_->Submit([this] { Apply(); });
      return;
    }
    executor_->Submit([this] { Check(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(Abandoned("the client went away"));
      return;
    }
    StartRead(&incoming_);
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override { delete this; }

 private:
  bool Cancelled() const {
    return cancelled_.load() || context_->IsCancelled() ||
           std::chrono::system_clock::now() >= context_->deadline();
  }

  static grpc::Status Abandoned(absl::string_view why) {
    return grpc::Status(
        grpc::StatusCode::CANCELLED,
        absl::StrCat("import abandoned (", why, "); nothing was written"));
  }

  // One chunk arrived: parse it, check it, acknowledge it.
  void Check() {
    ++chunks_;
    Request chunk;
    if (!grpc::SerializationTraits<Request>::Deserialize(&incoming_, &chunk)
             .ok()) {
      Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("chunk ", chunks_, " does not parse as ",
                       Request::descriptor()->full_name(),
                       " (e.g. a string that is not valid UTF-8); nothing "
                       "was written")));
      return;
    }
    incoming_.Clear();
    if (absl::Status status = import_->Add(chunk); !status.ok()) {
      Finish(ToGrpcStatus(status));
      return;
    }
    Response progress;
    progress.set_phase(Response::RECEIVED);
    progress.set_records_received(import_->records_received());
    Write(progress, /*last=*/false);
  }

  // The stream ended: apply everything, unless the call is over.
  void Apply() {
    if (Cancelled()) {
      Finish(Abandoned("the call was cancelled before the client finished"));
      return;
    }
    absl::StatusOr<Counts> counts = [&] {
      if constexpr (import_reactor_internal::FinishTakesCancelled<
                        Import>::value) {
        return import_->Finish([this] { return Cancelled(); });
      } else {
        return import_->Finish();
      }
    }();
    if (!counts.ok()) {
      Finish(ToGrpcStatus(counts.status()));
      return;
    }
    Response done;
    done.set_phase(Response::DONE);
    done.set_records_received(import_->records_received());
    summarize_(*counts, &done);
    Write(done, /*last=*/true);
  }

  void Write(const Response& response, bool last) {
    bool own_buffer = false;
    outgoing_.Clear();
    grpc::Status serialized = grpc::SerializationTraits<Response>::Serialize(
        response, &outgoing_, &own_buffer);
    GPR_ASSERT(serialized.ok());  // Our own message always serializes.
    if (last) {
      StartWriteAndFinish(&outgoing_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      StartWrite(&outgoing_);
    }
  }

  grpc::CallbackServerContext* const context_;
  Executor* const executor_;
  Summarize summarize_;
  std::unique_ptr<Import> import_;
  std::atomic<bool> cancelled_{false};
  int64_t chunks_ = 0;
  grpc::ByteBuffer incoming_;
  grpc::ByteBuffer outgoing_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_IMPORT_REACTOR_H_
