#include "services/scoring/scoring_server.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/peer_client.h"
#include "common/sql_engine.h"
#include "common/status.h"
#include "services/scoring/redis_board_cache.h"

namespace fivestar::scoring {

absl::StatusOr<std::unique_ptr<ScoringServer>> ScoringServer::Start(
    ScoringServerOptions options) {
  if (options.authenticator == nullptr) {
    return absl::InvalidArgumentError("authenticator: required");
  }
  if (options.peers.registry.deadline <= absl::ZeroDuration() ||
      options.peers.projects.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("peer deadlines: must be positive");
  }
  if (!options.redis.sentinels.empty() && options.redis.master_name.empty()) {
    return absl::InvalidArgumentError(
        "redis.master_name: must be set when redis.sentinels are");
  }
  if (options.server.name.empty()) options.server.name = "scoring";
  std::unique_ptr<ScoringServer> server(new ScoringServer(std::move(options)));
  ScoringServer& s = *server;
  const ScoringServerOptions& o = s.options_;

  absl::Status opened = EngineOf(o.database) == SqlEngine::kPostgres
                            ? s.OpenStore<PostgresPool>()
                            : s.OpenStore<SqlitePool>();
  if (!opened.ok()) {
    return absl::Status(opened.code(),
                        absl::StrCat("database ", RedactedDatabase(o.database),
                                     ": ", opened.message()));
  }

  // One channel per peer for the life of the process.
  std::shared_ptr<grpc::Channel> registry =
      NewPeerChannel(o.registry_address, o.peer_credentials);
  std::shared_ptr<grpc::Channel> projects =
      NewPeerChannel(o.projects_address, o.peer_credentials);
  RegistryDirectoryOptions directory;
  directory.bearer_token = o.peers.registry.bearer_token;
  directory.deadline = o.peers.registry.deadline;
  directory.cache_ttl = o.registry_cache_ttl;
  directory.max_in_flight = o.peers.registry.max_in_flight;
  s.directory_ =
      std::make_unique<RegistryVillageDirectory>(registry, directory, o.clock);
  s.jurisdiction_ = std::make_unique<Jurisdiction>(s.directory_.get());
  s.inputs_ =
      std::make_unique<GrpcInputsSource>(registry, projects, o.peers, o.clock);
  if (o.redis.enabled()) {
    s.cache_ = std::make_unique<RedisBoardCache>(o.redis);
    if (o.wrap_cache) s.cache_ = o.wrap_cache(std::move(s.cache_));
    if (o.near_cache.max_entries > 0) {
      if (SharedByReplicas(EngineOf(o.database))) {
        spdlog::warn("msg={}",
                     LogValue("the board near-cache drops what this "
                              "replica's writes change, not other "
                              "replicas': run one replica on this database "
                              "or set --board_near_cache_entries=0"));
      }
      auto near =
          std::make_unique<NearBoardCache>(std::move(s.cache_), o.near_cache);
      s.near_cache_ = near.get();
      s.cache_ = std::move(near);
    }
  }

  s.rubrics_ =
      std::make_unique<RubricBook>(s.store_.get(), s.inputs_.get(), o.clock,
                                   SharedByReplicas(EngineOf(o.database)));
  RETURN_IF_ERROR(s.rubrics_->Seed(o.rubric_file));
  s.boards_ = std::make_unique<Leaderboards>(s.store_.get(), s.cache_.get(),
                                             s.jurisdiction_.get(),
                                             s.inputs_.get(), o.clock);
  s.evaluations_ = std::make_unique<Evaluations>(
      s.store_.get(), s.inputs_.get(), s.rubrics_.get(), s.boards_.get(),
      s.jurisdiction_.get(), o.clock);
  s.awards_ = std::make_unique<AwardDesk>(s.store_.get(), s.inputs_.get(),
                                          s.rubrics_.get(),
                                          s.jurisdiction_.get(), o.clock);
  if (s.cache_ != nullptr) {
    Leaderboards* boards = s.boards_.get();
    s.cache_->SetResyncCallback([boards] { return boards->Resync(); });
    s.cache_->Start();
  }
  if (o.follow_feeds) {
    FollowerOptions follow;
    follow.heartbeat = o.feed_heartbeat;
    follow.feed = "projects";
    s.projects_follower_ = std::make_unique<FeedFollower>(
        follow,
        FeedFollower::ProjectsFeed(projects, o.peers.projects,
                                   o.feed_heartbeat),
        s.evaluations_.get());
    follow.feed = "registry";
    s.registry_follower_ = std::make_unique<FeedFollower>(
        follow,
        FeedFollower::RegistryFeed(registry, o.peers.registry,
                                   o.feed_heartbeat),
        s.evaluations_.get());
  }

  s.executor_ = std::make_unique<Executor>(o.server.handler_threads,
                                           absl::StrCat(o.server.name, "-rpc"));
  s.service_ = std::make_unique<ScoringServiceImpl>(
      s.rubrics_.get(), s.evaluations_.get(), s.awards_.get(), s.boards_.get(),
      RpcRuntime{o.authenticator.get(), s.executor_.get()});
  s.audit_service_ = std::make_unique<AuditServiceImpl>(
      s.audit_store_, RpcRuntime{o.authenticator.get(), s.executor_.get()});
  const ServerAudit audit{s.audit_store_, o.authenticator.get(), o.clock,
                          ScoringWriteMethods()};
  ASSIGN_OR_RETURN(
      s.host_, ServerHost::Start(
                   o.server,
                   {{s.service_.get(), v1::ScoringService::service_full_name()},
                    {s.audit_service_.get(),
                     audit::v1::AuditService::service_full_name()}},
                   &audit));
  s.host_->metrics().Expose(s.boards_->metrics());
  if (s.near_cache_ != nullptr) {
    s.host_->metrics().Expose(s.near_cache_->metrics());
  }
  std::vector<FeedFollower*> followers;
  for (FeedFollower* follower :
       {s.projects_follower_.get(), s.registry_follower_.get()}) {
    if (follower == nullptr) continue;
    s.host_->metrics().Expose(follower->metrics());
    followers.push_back(follower);
  }
  if (!followers.empty() && SharedByReplicas(EngineOf(o.database))) {
    PostgresLeaseOptions lease;
    lease.database = o.database;
    lease.name = "fivestar.scoring.feed_followers";
    lease.check_interval = o.follower_lease_interval;
    lease.acquired = [followers] {
      for (FeedFollower* follower : followers) follower->Start();
    };
    lease.released = [followers] {
      for (FeedFollower* follower : followers) follower->Stop();
    };
    s.lease_ = std::make_unique<PostgresLease>(std::move(lease));
    s.lease_->Start();
  } else {
    for (FeedFollower* follower : followers) follower->Start();
  }
  s.host_->SetServing(true);
  spdlog::info("msg=serving database={} registry={} projects={} redis={}",
               RedactedDatabase(o.database), o.registry_address,
               o.projects_address, LogValue(DescribeRedis(o.redis)));
  return server;
}

template <typename Pool>
absl::Status ScoringServer::OpenStore() {
  ASSIGN_OR_RETURN(
      std::unique_ptr<SqlScoringStore<Pool>> store,
      SqlScoringStore<Pool>::Open(options_.database, options_.clock));
  audit_store_ = store->audit_store();
  store_ = std::move(store);
  return absl::OkStatus();
}

ScoringServer::~ScoringServer() { Stop(); }

void ScoringServer::Stop() {
  if (host_ != nullptr) {
    // The followers hold streams to the peers, not calls of ours: stop them
    // while draining, so no re-evaluation starts during the grace period.
    host_->Shutdown([this] {
      if (lease_ != nullptr) lease_->Stop();
      if (projects_follower_ != nullptr) projects_follower_->Stop();
      if (registry_follower_ != nullptr) registry_follower_->Stop();
    });
  }
  // Every call has ended; run what handlers still have queued.
  executor_.reset();
  if (cache_ != nullptr) cache_->Stop();
}

}  // namespace fivestar::scoring
