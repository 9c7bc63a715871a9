// InputsSource over the peers' gRPC APIs: one channel per peer for the
// process, a deadline and a bulkhead (PeerCallLimit) on every call.
#ifndef FIVESTAR_SERVICES_SCORING_GRPC_INPUTS_SOURCE_H_
#define FIVESTAR_SERVICES_SCORING_GRPC_INPUTS_SOURCE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/peer_client.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "services/scoring/inputs_source.h"

namespace fivestar::scoring {

// How scoring calls one peer.
struct PeerOptions {
  // Presented on every call; its principal needs the viewer role over every
  // village scoring handles (typically global scope).
  std::string bearer_token;
  // Deadline of each call.
  absl::Duration deadline = absl::Seconds(5);
  // Most calls in flight at once (see PeerCallLimit); keep it below the
  // server's handler threads.
  int max_in_flight = 8;
};

struct GrpcInputsOptions {
  PeerOptions registry;
  PeerOptions projects;
  // Villages per page of a region read (the peers' maximum is 1000). A
  // region evaluation reports progress at least once per page, and its
  // contract promises a message at least every 100 villages.
  int page_size = 100;
  // How long a region record (its kind) is reused.
  absl::Duration region_cache_ttl = absl::Seconds(60);
};

class GrpcInputsSource final : public InputsSource {
 public:
  // `clock` decides cache expiry and must outlive the source.
  GrpcInputsSource(std::shared_ptr<grpc::ChannelInterface> registry_channel,
                   std::shared_ptr<grpc::ChannelInterface> projects_channel,
                   GrpcInputsOptions options, const Clock* clock);

  absl::StatusOr<VillageInputs> ReadVillage(const std::string& village_id,
                                            const std::string& period,
                                            const InputNeeds& needs) override;
  absl::Status ReadRegion(
      const std::string& region_id, const std::string& period,
      const InputNeeds& needs,
      const std::function<absl::Status(InputsPage)>& on_page) override;
  absl::StatusOr<registry::v1::Region> GetRegion(
      const std::string& region_id) override;
  absl::StatusOr<registry::v1::Village> GetVillage(
      const std::string& village_id) override;
  absl::StatusOr<std::vector<projects::v1::IndicatorDefinition>>
  ListIndicatorDefinitions() override;

  // Calls made to each peer so far (tests check that reads are batched).
  int64_t registry_calls() const { return registry_calls_.load(); }
  int64_t projects_calls() const { return projects_calls_.load(); }

 private:
  // Starts one unary call to a peer with its token, deadline and bulkhead
  // (UNAVAILABLE when the bulkhead stays full), without waiting for it.
  // `method` is one of the stub's callback-API methods (stub->async()).
  template <typename Async, typename Request, typename Response>
  absl::Status Start(Async* async,
                     void (Async::*method)(grpc::ClientContext*, const Request*,
                                           Response*,
                                           std::function<void(grpc::Status)>),
                     Request request, bool registry, absl::string_view what,
                     PendingPeerCall<Request, Response>& call);
  // Waits for a started call: its failure as this service reports it
  // (PeerCallError), with `what` the purpose of the call.
  template <typename Request, typename Response>
  absl::Status Finish(PendingPeerCall<Request, Response>& call, bool registry,
                      absl::string_view what);
  // Start, then Finish: one call, waited for.
  template <typename Async, typename Request, typename Response>
  absl::Status Call(Async* async,
                    void (Async::*method)(grpc::ClientContext*, const Request*,
                                          Response*,
                                          std::function<void(grpc::Status)>),
                    const Request& request, Response* response, bool registry,
                    absl::string_view what);

  // [region, parent, ..., root] of a region (not cached: a region read
  // must see moves at once).
  absl::StatusOr<std::vector<std::string>> RegionPath(
      const std::string& region_id);
  // Adds to `paths` the path of each region of `page`'s villages it lacks,
  // looking several up at once.
  absl::Status ResolvePaths(
      const registry::v1::ListVillagesResponse& page,
      absl::flat_hash_map<std::string, std::vector<std::string>>& paths);

  std::unique_ptr<registry::v1::RegistryService::Stub> registry_;
  std::unique_ptr<projects::v1::ProjectsService::Stub> projects_;
  const GrpcInputsOptions options_;
  const Clock* clock_;
  PeerCallLimit registry_limit_;
  PeerCallLimit projects_limit_;
  std::atomic<int64_t> registry_calls_{0};
  std::atomic<int64_t> projects_calls_{0};

  absl::Mutex mu_;
  struct CachedRegion {
    registry::v1::Region region;
    absl::Time expires;
  };
  absl::flat_hash_map<std::string, CachedRegion> regions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_GRPC_INPUTS_SOURCE_H_
