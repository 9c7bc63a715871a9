// Scoring's composition root: builds the store, the peers (registry and
// project tracking, one channel each), the Redis board cache, the logic,
// the change-feed followers, the gRPC service and the server from one
// options struct, and stops them in order. main.cc turns flags into
// options; tests start scoring through the same factory.
#ifndef FIVESTAR_SERVICES_SCORING_SCORING_SERVER_H_
#define FIVESTAR_SERVICES_SCORING_SCORING_SERVER_H_

#include <grpcpp/security/credentials.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/audit_service.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/postgres_lease.h"
#include "common/registry_client/jurisdiction.h"
#include "common/registry_client/registry_village_directory.h"
#include "common/server.h"
#include "services/scoring/award_desk.h"
#include "services/scoring/board_cache.h"
#include "services/scoring/evaluations.h"
#include "services/scoring/feed_follower.h"
#include "services/scoring/grpc_inputs_source.h"
#include "services/scoring/leaderboards.h"
#include "services/scoring/near_board_cache.h"
#include "services/scoring/rubric_book.h"
#include "services/scoring/scoring_service.h"
#include "services/scoring/sql_scoring_store.h"

namespace fivestar::scoring {

struct ScoringServerOptions {
  // Listen addresses, metrics, drain and grace periods, handler threads.
  ServerConfig server;
  // Where scoring keeps its records: an SQLite file's path (created when
  // missing) or a PostgreSQL URI ("postgresql://..."; see
  // common/sql_engine.h).
  std::string database = "scoring.db";
  // Required: who may call.
  std::shared_ptr<const Authenticator> authenticator;
  // Time for stored timestamps, "the current month" and cache expiry; must
  // outlive the server.
  const Clock* clock = Clock::System();
  // The rubric file stored as version 1 when the database has none; empty
  // means the built-in default (data/rubrics/default.textproto).
  std::string rubric_file;
  // The peers and how to call them.
  std::string registry_address = "127.0.0.1:50051";
  std::string projects_address = "127.0.0.1:50052";
  GrpcInputsOptions peers;
  // Transport security of the calls to both peers; plaintext when null.
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials;
  // How long the registry's answers used for permission checks are reused.
  absl::Duration registry_cache_ttl = absl::Seconds(60);
  // The leaderboard cache; an empty host and no sentinels run without Redis
  // (every board read is computed from the database and marked degraded).
  RedisOptions redis;
  // The in-process near-cache of board reads in front of Redis
  // (near_board_cache.h); max_entries 0 (the default) leaves it off. Off by
  // default because it changes one promise: a read while Redis hangs
  // unnoticed is answered from memory (right, but not marked degraded)
  // where the existing contract (startup_test) expects a degraded answer.
  NearCacheOptions near_cache = NearCacheOptions{0};
  // Test seam: when set, wraps the Redis cache (called once, with it) and
  // the result is used instead, e.g. to hold a write-through at a chosen
  // moment. Production leaves it unset. The near-cache goes in front of
  // what it returns.
  std::function<std::unique_ptr<BoardCache>(std::unique_ptr<BoardCache>)>
      wrap_cache;
  // Follow the peers' change feeds (tests of other things may turn it off).
  // On a PostgreSQL database (replicas) one replica at a time follows
  // them: the one holding the followers' lease (common/postgres_lease.h),
  // which the others try to take every `follower_lease_interval`.
  bool follow_feeds = true;
  absl::Duration follower_lease_interval = absl::Seconds(1);
  absl::Duration feed_heartbeat = absl::Seconds(5);
};

class ScoringServer {
 public:
  // Opens the database (migrations, the rubric file stored when no rubric
  // exists), connects the cache, starts the feed followers and serves.
  // INVALID_ARGUMENT for bad options or a rubric file that does not parse
  // or breaks a rule (naming the line or field); UNAVAILABLE when the
  // address cannot be bound. Neither the peers nor Redis need be up.
  static absl::StatusOr<std::unique_ptr<ScoringServer>> Start(
      ScoringServerOptions options);
  ~ScoringServer();

  int port() const { return host_->port(); }
  ServerHost& host() { return *host_; }
  ScoringStore& store() { return *store_; }
  // The board cache the leaderboards use: the near-cache in front of Redis
  // (or Redis alone when the near-cache is off); null without Redis.
  BoardCache* cache() { return cache_.get(); }
  // The near-cache; null when off or without Redis.
  NearBoardCache* near_cache() { return near_cache_; }
  FeedFollower* projects_follower() { return projects_follower_.get(); }
  FeedFollower* registry_follower() { return registry_follower_.get(); }
  // Whether this replica follows the feeds now (holds their lease on a
  // PostgreSQL database; always, when following, on SQLite).
  bool following() const {
    return lease_ != nullptr ? lease_->held() : projects_follower_ != nullptr;
  }
  GrpcInputsSource& inputs() { return *inputs_; }

  // NOT_SERVING and the drain; the followers stop; then no new calls and
  // the grace period; then the handler threads finish and the cache
  // closes. Idempotent; blocks until done.
  void Stop();

 private:
  explicit ScoringServer(ScoringServerOptions options)
      : options_(std::move(options)) {}

  // Opens store_ (and audit_store_) on options_.database through `Pool`.
  template <typename Pool>
  absl::Status OpenStore();

  // Members in the order they are built; destroyed in reverse.
  ScoringServerOptions options_;
  std::unique_ptr<ScoringStore> store_;
  AuditStore* audit_store_ = nullptr;  // Kept in store_'s database.
  std::unique_ptr<RegistryVillageDirectory> directory_;
  std::unique_ptr<Jurisdiction> jurisdiction_;
  std::unique_ptr<GrpcInputsSource> inputs_;
  std::unique_ptr<BoardCache> cache_;
  NearBoardCache* near_cache_ = nullptr;  // cache_ when it is the near-cache
  std::unique_ptr<RubricBook> rubrics_;
  std::unique_ptr<Leaderboards> boards_;
  std::unique_ptr<Evaluations> evaluations_;
  std::unique_ptr<AwardDesk> awards_;
  std::unique_ptr<FeedFollower> projects_follower_;
  std::unique_ptr<FeedFollower> registry_follower_;
  // The followers' lease, on a database replicas share (null otherwise).
  std::unique_ptr<PostgresLease> lease_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ScoringServiceImpl> service_;
  std::unique_ptr<AuditServiceImpl> audit_service_;
  std::unique_ptr<ServerHost> host_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_SCORING_SERVER_H_
