#include "common/audit.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/time_util.h>
#include <prometheus/family.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status.h"

namespace fivestar {
namespace {

using audit::v1::AuditEvent;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// Longest value kept of a target field or request id: enough for every id
// the services accept, and a bound on what a hostile request can store.
constexpr size_t kMaxValueBytes = 128;
// The most events one commit holds.
constexpr size_t kMaxBatch = 256;

std::string Bounded(std::string value) {
  if (value.size() <= kMaxValueBytes) return value;
  // Cut on a UTF-8 boundary so the stored text stays valid UTF-8.
  size_t cut = kMaxValueBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  value.resize(cut);
  return value + "…";
}

// `name` names a resource only in a request itself (AIP-131); inside the
// resource a request carries it is a display name (Region.name).
bool IsTargetField(absl::string_view name, int depth) {
  if (name == "request_id") return false;
  return name == "id" || (name == "name" && depth == 0) || name == "parent" ||
         name == "period" || name == "version" || absl::EndsWith(name, "_id") ||
         absl::EndsWith(name, "_version");
}

// The value of a singular scalar field as text; empty when unset or not a
// string or integer.
std::string ScalarText(const Message& message, const FieldDescriptor* field) {
  const Reflection* reflection = message.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return reflection->GetString(message, field);
    case FieldDescriptor::CPPTYPE_INT32: {
      const int32_t value = reflection->GetInt32(message, field);
      return value == 0 ? std::string() : absl::StrCat(value);
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t value = reflection->GetInt64(message, field);
      return value == 0 ? std::string() : absl::StrCat(value);
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      const uint32_t value = reflection->GetUInt32(message, field);
      return value == 0 ? std::string() : absl::StrCat(value);
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t value = reflection->GetUInt64(message, field);
      return value == 0 ? std::string() : absl::StrCat(value);
    }
    default:
      return std::string();
  }
}

void AddTargets(const Message& message, const std::string& prefix, int depth,
                AuditEvent* event) {
  const google::protobuf::Descriptor* descriptor = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) continue;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      // One level into the resource a request carries (region.id,
      // village.region_id), never into well-known types.
      if (depth == 0 && reflection->HasField(message, field) &&
          !absl::StartsWith(field->message_type()->full_name(),
                            "google.protobuf.")) {
        AddTargets(reflection->GetMessage(message, field),
                   absl::StrCat(prefix, field->name(), "."), depth + 1, event);
      }
      continue;
    }
    if (!IsTargetField(field->name(), depth)) continue;
    std::string value = ScalarText(message, field);
    if (value.empty()) continue;
    (*event->mutable_target())[absl::StrCat(prefix, field->name())] =
        Bounded(std::move(value));
  }
}

class AuditInterceptor : public grpc::experimental::Interceptor {
 public:
  AuditInterceptor(ServerRpcInfo* info, const AuditPolicy* policy)
      : info_(info),
        policy_(policy),
        // Imports read raw bytes (common/import_reactor.h): count their
        // chunks rather than describe them.
        typed_request_(info->type() == ServerRpcInfo::Type::UNARY ||
                       info->type() == ServerRpcInfo::Type::SERVER_STREAMING) {
    event_.set_method(info->method());
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (void* request = methods->GetRecvMessage(); request != nullptr) {
        if (typed_request_) {
          // The callback API hands interceptors the generated request
          // object, which derives from Message alone, so the cast is exact.
          DescribeAuditedRequest(*static_cast<const Message*>(request),
                                 &event_);
        } else {
          messages_.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Complete(methods->GetSendStatus());
      // The status leaves only once the event is durable: the log calls
      // Proceed() from its writer thread.
      policy_->log->Record(std::move(event_),
                           [methods] { methods->Proceed(); });
      return;
    }
    methods->Proceed();
  }

 private:
  void Complete(const grpc::Status& status) {
    *event_.mutable_event_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            absl::ToUnixMicros(policy_->clock->Now()));
    grpc::ServerContextBase* context = info_->server_context();
    // The same check the handler made; only its result is kept, never the
    // metadata it read.
    if (absl::StatusOr<Principal> principal =
            policy_->authenticator->Authenticate(*context);
        principal.ok()) {
      event_.set_principal(principal->name);
      event_.set_role(std::string(RoleName(principal->role)));
      event_.set_scope(principal->scope);
    }
    event_.set_peer(context->peer());
    event_.set_request_messages(messages_.load(std::memory_order_relaxed));
    event_.set_outcome_code(StatusCodeName(status.error_code()));
    event_.set_outcome_message(status.error_message());
    event_.set_server_request_id(ServerRequestIdOf(status));
  }

  ServerRpcInfo* const info_;
  const AuditPolicy* const policy_;
  const bool typed_request_;
  std::atomic<int64_t> messages_{0};
  AuditEvent event_;
};

class AuditInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuditInterceptorFactory(AuditPolicy policy)
      : policy_(std::move(policy)) {
    FIVESTAR_CHECK(
        policy_.log != nullptr && policy_.authenticator != nullptr &&
            policy_.clock != nullptr,
        "the audit policy needs a log, an authenticator and a clock");
    for (const std::string& method : policy_.write_methods) {
      // "/pkg.Service/Method" is "pkg.Service.Method" in the descriptors.
      FIVESTAR_CHECK(
          google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
              absl::StrReplaceAll(absl::StripPrefix(method, "/"),
                                  {{"/", "."}})) != nullptr,
          "every audited write method is a method of a generated service");
    }
  }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      ServerRpcInfo* info) override {
    if (info->method() == nullptr ||
        !policy_.write_methods.contains(info->method())) {
      return nullptr;
    }
    return new AuditInterceptor(info, &policy_);
  }

 private:
  const AuditPolicy policy_;
};

}  // namespace

void DescribeAuditedRequest(const Message& request, AuditEvent* event) {
  AddTargets(request, "", 0, event);
  const FieldDescriptor* request_id =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (request_id != nullptr && !request_id->is_repeated() &&
      request_id->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    event->set_request_id(
        Bounded(request.GetReflection()->GetString(request, request_id)));
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewAuditInterceptorFactory(AuditPolicy policy) {
  return std::make_unique<AuditInterceptorFactory>(std::move(policy));
}

std::optional<grpc::StatusCode> StatusCodeFromName(absl::string_view name) {
  for (int code = grpc::OK; code <= grpc::UNAUTHENTICATED; ++code) {
    if (name == StatusCodeName(static_cast<grpc::StatusCode>(code))) {
      return static_cast<grpc::StatusCode>(code);
    }
  }
  return std::nullopt;
}

AuditLog::AuditLog(AuditStore* store, prometheus::Registry& metrics)
    : store_(store),
      failures_(prometheus::BuildCounter()
                    .Name("fivestar_audit_write_failures_total")
                    .Help("Audit events that could not be stored (each is "
                          "logged as msg=audit_write_failed)")
                    .Register(metrics)
                    .Add({})) {
  writer_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() { Stop(); }

void AuditLog::Record(AuditEvent event, std::function<void()> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(event), std::move(done)});
      return;
    }
  }
  std::vector<Pending> alone;
  alone.push_back(Pending{std::move(event), std::move(done)});
  Write(alone);
}

void AuditLog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  writer_.join();
}

int64_t AuditLog::write_failures() const {
  return static_cast<int64_t>(failures_.Value());
}

void AuditLog::Run() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
            return log->stopping_ || !log->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // Stopping, and everything is written.
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Write(batch);
  }
}

void AuditLog::Write(std::vector<Pending>& batch) {
  std::vector<AuditEvent> events;
  events.reserve(batch.size());
  for (const Pending& pending : batch) events.push_back(pending.event);
  if (absl::Status status = store_->Append(events); !status.ok()) {
    // The calls' outcomes already happened and their statuses go out as
    // they are: the failure is the operator's to see, loudly.
    failures_.Increment(static_cast<double>(batch.size()));
    for (const AuditEvent& event : events) {
      spdlog::error("msg=audit_write_failed event={} error={}",
                    LogValue(event.ShortDebugString()),
                    LogValue(status.message()));
    }
  }
  for (Pending& pending : batch) pending.done();
}

}  // namespace fivestar
