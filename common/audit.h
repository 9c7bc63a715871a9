// The audit log every server keeps of its writes (see SECURITY.md, "Audit
// log"): who asked, what, when, from which peer address, with which request
// ids, and how it ended. Never a token.
//
// The pieces: AuditStore (where events are kept, append-only; SqlAuditStore
// in common/sql_audit.h keeps them in the service's own database),
// AuditLog (a dedicated writer thread that group-commits events), and the
// server interceptor that captures one event per write call (the methods a
// service lists as writes; reads are not recorded).
//
// Durability: the interceptor holds the call's status (the
// PRE_SEND_STATUS batch) until the writer thread has committed the call's
// event, and only then lets gRPC send it, by calling
// InterceptorBatchMethods::Proceed() from the writer thread. A client told
// OK therefore finds its event even after the server is killed right after
// the response. No gRPC callback thread and no handler thread waits on the
// audit write: the interceptor only queues the event. The price is latency:
// a write's answer waits for one more commit (shared by every event queued
// meanwhile, and by the service's own writes in the same SqlitePool batch).
// When the event cannot be stored, the call's outcome already happened; the
// status goes out unchanged, the failure is logged in full
// (msg=audit_write_failed) and counted (fivestar_audit_write_failures_total).
#ifndef FIVESTAR_COMMON_AUDIT_H_
#define FIVESTAR_COMMON_AUDIT_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/auth.h"
#include "common/clock.h"
#include "fivestar/audit/v1/audit.pb.h"

namespace fivestar {

// Which audit events a List reads, in which order, from where.
struct AuditQuery {
  // Exact matches; empty matches every value.
  std::string principal;
  std::string method;
  std::string outcome_code;
  // [start, end); unset bounds are open.
  std::optional<absl::Time> start;
  std::optional<absl::Time> end;
  // Ascending sequence when true, descending otherwise.
  bool oldest_first = false;
  // Only events after this sequence in the chosen order (0: from the
  // first event in that order).
  int64_t after_sequence = 0;
  // At most this many events.
  int limit = 100;
};

// Where audit events are kept. Append-only: there is no way to change or
// remove an event. Thread-safe.
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Stores `events` (their sequence is ignored and assigned in order) in one
  // transaction: all are durable when this returns OK, none otherwise.
  virtual absl::Status Append(
      absl::Span<const audit::v1::AuditEvent> events) = 0;
  // The events matching `query`, in its order, at most query.limit.
  virtual absl::StatusOr<std::vector<audit::v1::AuditEvent>> List(
      const AuditQuery& query) = 0;
};

// Writes audit events on a thread of its own, committing whatever has queued
// up as one batch, and tells each event's caller when its batch is done.
class AuditLog {
 public:
  // `store` must outlive the log. The failure counter is registered in
  // `metrics` (fivestar_audit_write_failures_total).
  AuditLog(AuditStore* store, prometheus::Registry& metrics);
  // Stops (see Stop).
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `event`; `done` runs on the writer thread once the event's batch
  // was committed or failed (a failure is logged and counted here, never
  // reported to `done`). After Stop, writes and runs `done` on the caller's
  // thread.
  void Record(audit::v1::AuditEvent event, std::function<void()> done);

  // Writes what is queued, then ends the writer thread. Idempotent. Call
  // once no more calls can end with a held status (after the gRPC server
  // has stopped), since their events are then written on their own threads.
  void Stop();

  // Events that could not be stored so far.
  int64_t write_failures() const;

 private:
  struct Pending {
    audit::v1::AuditEvent event;
    std::function<void()> done;
  };

  void Run();
  // Stores the batch (logging and counting a failure), then runs each done.
  void Write(std::vector<Pending>& batch);

  AuditStore* const store_;
  prometheus::Counter& failures_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

// What the audit interceptor needs. Nothing is owned; all outlive the
// server.
struct AuditPolicy {
  AuditLog* log = nullptr;
  // Tells who the caller is, exactly as the handlers do.
  const Authenticator* authenticator = nullptr;
  // The time of each event.
  const Clock* clock = Clock::System();
  // Full names of the methods that are writes, e.g.
  // "/fivestar.registry.v1.RegistryService/CreateVillage". Only these are
  // recorded.
  absl::flat_hash_set<std::string> write_methods;
};

// The server interceptor that records one AuditEvent per call of a method in
// policy.write_methods (see the file comment for when the status is sent).
// Register it after the interceptors that rewrite the status (so the event
// holds what the client receives) and before the metrics, whose latency then
// includes the audit write. Dies (FIVESTAR_CHECK) when a write method is not
// a method known to the generated descriptor pool, so a typo cannot silently
// leave a write unaudited.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewAuditInterceptorFactory(AuditPolicy policy);

// The target and request id of a request message: see AuditEvent.target
// and AuditEvent.request_id in fivestar/audit/v1/audit.proto. Sets only
// those two fields of `event`.
void DescribeAuditedRequest(const google::protobuf::Message& request,
                            audit::v1::AuditEvent* event);

// The google.rpc.Code of a name such as "PERMISSION_DENIED", or nullopt.
std::optional<grpc::StatusCode> StatusCodeFromName(absl::string_view name);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_AUDIT_H_
