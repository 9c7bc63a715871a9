// Prometheus metrics for every server: per-method request counts (by status
// code) and latency, served over HTTP at /metrics. A gRPC server interceptor
// records every call, so services need no code of their own for it.
#ifndef FIVESTAR_COMMON_METRICS_H_
#define FIVESTAR_COMMON_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fivestar {

// The metric families of one server, and (optionally) the HTTP endpoint that
// serves them.
class ServerMetrics {
 public:
  ServerMetrics();

  // Serves /metrics on `address` ("host:port"; port 0 picks a free one).
  absl::Status Serve(const std::string& address);
  // The port /metrics is served on, or 0 when not serving.
  int port() const;

  // Records one finished call.
  void RecordCall(const std::string& method, grpc::StatusCode code,
                  double seconds);

  // Makes the interceptor factory to install on a ServerBuilder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

  prometheus::Registry& registry() { return *registry_; }

  // Also serves `collectable` (metrics a component keeps itself, such as a
  // change feed's; see FeedNotifier::metrics) on /metrics, for as long as
  // it lives: an expired one is skipped. Whether called before or after
  // Serve(); not thread-safe against it.
  void Expose(std::weak_ptr<prometheus::Collectable> collectable);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& latency_;
  std::vector<std::weak_ptr<prometheus::Collectable>> exposed_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// "OK", "INVALID_ARGUMENT", ... as in google.rpc.Code.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_METRICS_H_
