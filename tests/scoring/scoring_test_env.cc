#include "tests/scoring/scoring_test_env.h"

#include <hiredis/hiredis.h>

#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "tests/testing/import_chunks.h"
#include "tests/testing/ndjson.h"
#include "tests/testing/or_die.h"
#include "tests/testing/test_tokens.h"

namespace fivestar::scoring::testing {

using ::fivestar::testing::OrDie;
using ::fivestar::testing::ReadNdjson;
using ::fivestar::testing::SourcePath;
namespace projects_v1 = ::fivestar::projects::v1;
namespace registry_v1 = ::fivestar::registry::v1;

absl::Time StartTime() {
  return absl::FromCivil(absl::CivilSecond(2022, 10, 8, 10, 0, 0),
                         ChinaStandardTime());
}

namespace {

// The Huiche tree plus a second township of the same county with one
// village, loaded through the registry's own import.
void LoadRegistry(registry::Registry& registry) {
  const Principal admin{"fixture", Role::kAdmin, "*"};
  auto import = OrDie(registry.StartImport(admin), "start registry import");
  registry_v1::ImportRegistryRequest chunk;
  for (auto& record : ReadNdjson<registry_v1::RegistryRecord>(
           SourcePath("data/huiche/registry.ndjson"))) {
    *chunk.add_records() = std::move(record);
  }
  registry_v1::RegistryRecord* other = chunk.add_records();
  other->mutable_region()->set_id(kOtherTownship);
  other->mutable_region()->set_kind(registry_v1::TOWNSHIP);
  other->mutable_region()->set_name("另一个镇");
  other->mutable_region()->set_parent_id(kCounty);
  registry_v1::Village* village = chunk.add_records()->mutable_village();
  village->set_id(kOtherVillage);
  village->set_name("另一个村");
  village->set_region_id(kOtherTownship);
  village->set_kind(registry_v1::VILLAGE);
  village->set_committee_members(5);
  OrDie(import->Add(chunk), "add registry records");
  OrDie(import->Finish().status(), "import registry records");
}

// Huiche's projects (with their reports) and 2022-09 indicators, through
// project tracking's public API.
void LoadProjects(projects_v1::ProjectsService::Stub& stub) {
  auto records = ReadNdjson<projects_v1::ProjectRecord>(
      SourcePath("data/huiche/projects.ndjson"));
  std::unique_ptr<grpc::ClientContext> context =
      fivestar::testing::NewContext(kAdminToken, absl::Seconds(60));
  projects_v1::ImportProjectsResponse response;
  auto stream = stub.ImportProjects(context.get());
  for (size_t begin = 0; begin < records.size(); begin += 50) {
    if (!stream->Write(
            fivestar::testing::ImportChunk<projects_v1::ImportProjectsRequest>(
                records, begin, begin + 50))) {
      break;
    }
  }
  stream->WritesDone();
  while (stream->Read(&response)) {
  }
  OrDie(FromGrpcStatus(stream->Finish()), "import Huiche's projects");
  projects_v1::SetIndicatorValuesRequest values;
  for (auto& value : ReadNdjson<projects_v1::IndicatorValue>(
           SourcePath("data/huiche/indicators.ndjson"))) {
    *values.add_values() = std::move(value);
  }
  values.set_request_id("huiche-2022-09");
  OrDie(ScoringTestEnv::CallOn(
            stub, &projects_v1::ProjectsService::Stub::SetIndicatorValues,
            values, kAdminToken)
            .status(),
        "set Huiche's indicator values");
}

}  // namespace

ScoringTestEnv::ScoringTestEnv(ScoringEnvOptions options)
    : options_(options), clock_(StartTime()) {
  tokens_ = std::make_shared<Authenticator>(fivestar::testing::TestTokenTable({
      {kAdminToken, "admin", "*", "province-admin"},
      {kViewerToken, "viewer", "*", "province-auditor"},
      {kServiceToken, "viewer", "*", "scoring-service"},
      {kProvinceOperatorToken, "operator", kProvince, "henan-operator"},
      {kCityOperatorToken, "operator", kCity, "nanyang-operator"},
      {kCountyOperatorToken, "operator", kCounty, "xixia-operator"},
      {kCountyAdminToken, "admin", kCounty, "xixia-admin"},
      {kHuicheOperatorToken, "operator", kHuiche, "huiche-operator"},
      {kHuicheViewerToken, "viewer", kHuiche, "huiche-viewer"},
      {kHuicheReporterToken, "reporter", kHuiche, "huiche-reporter"},
      {kHuicheAdminToken, "admin", kHuiche, "huiche-admin"},
      {kMaoheViewerToken, "viewer", kMaohe, "maohe-viewer"},
      {kNorthOperatorToken, "operator", kNorth, "north-operator"},
      {kMaoheOperatorToken, "operator", kMaohe, "maohe-operator"},
      {kOtherOperatorToken, "operator", kOtherTownship, "other-operator"},
  }));
  if (options_.redis_sentinel) {
    redis_failover_ = std::make_unique<fivestar::testing::RedisFailoverGroup>(
        OrDie(fivestar::testing::RedisFailoverGroup::Start(kRedisMasterName),
              "start redis master, replica and sentinel"));
  } else if (options_.redis) {
    StartRedis();
  }
  registry_ = std::make_unique<fivestar::testing::RegistryHost>(
      databases_.Get("registry"), tokens_, Clock::System());
  LoadRegistry(registry_->registry());
  projects_ = std::make_unique<fivestar::testing::ProjectsHost>(
      databases_.Get("projects"), registry_->address(), kServiceToken, tokens_,
      &clock_);
  projects_stub_ =
      projects_v1::ProjectsService::NewStub(projects_->NewChannel());
  registry_stub_ =
      registry_v1::RegistryService::NewStub(registry_->NewChannel());
  if (options_.load_projects) LoadProjects(*projects_stub_);
  StartScoring(nullptr);
}

ScoringTestEnv::~ScoringTestEnv() {
  stub_.reset();
  scoring_.reset();
  projects_stub_.reset();
  registry_stub_.reset();
  projects_.reset();
  registry_.reset();
  redis_.reset();
  redis_failover_.reset();
}

void ScoringTestEnv::StartScoring(
    const fivestar::testing::ScoringHost::Adjust& adjust) {
  const bool follow = options_.follow_feeds;
  const int sentinel_port =
      redis_failover_ != nullptr ? redis_failover_->sentinel->port() : 0;
  scoring_ = std::make_unique<fivestar::testing::ScoringHost>(
      databases_.Get("scoring"), registry_->address(), projects_->address(),
      kServiceToken, options_.redis && sentinel_port == 0 ? redis_port_ : 0,
      tokens_, &clock_,
      [follow, sentinel_port, &adjust](ScoringServerOptions& options) {
        options.follow_feeds = follow;
        if (sentinel_port != 0) {
          options.redis.sentinels = {{"127.0.0.1", sentinel_port}};
          options.redis.master_name = kRedisMasterName;
          options.redis.probe_interval = absl::Milliseconds(100);
          options.redis.command_timeout = absl::Milliseconds(300);
        }
        if (adjust) adjust(options);
      });
  stub_ = v1::ScoringService::NewStub(scoring_->NewChannel());
}

void ScoringTestEnv::RestartScoring(
    const fivestar::testing::ScoringHost::Adjust& adjust) {
  StopScoring();
  StartScoring(adjust);
}

void ScoringTestEnv::StopScoring() {
  stub_.reset();
  scoring_.reset();
}

void ScoringTestEnv::RestartProjects() {
  const int port = projects_->server().port();
  projects_stub_.reset();
  projects_.reset();
  projects_ = std::make_unique<fivestar::testing::ProjectsHost>(
      databases_.Get("projects"), registry_->address(), kServiceToken, tokens_,
      &clock_, [port](projects::ProjectsServerOptions& options) {
        options.server.listen_address = "127.0.0.1:" + std::to_string(port);
      });
  projects_stub_ =
      projects_v1::ProjectsService::NewStub(projects_->NewChannel());
}

void ScoringTestEnv::StopRedis() {
  if (redis_ != nullptr) redis_->Stop();
}

void ScoringTestEnv::StartRedis() {
  redis_.reset();
  fivestar::testing::RedisServerOptions options;
  options.port = redis_port_;  // 0 the first time; then the same port again
  redis_ = OrDie(fivestar::testing::RedisServer::Start(options),
                 "start redis-server");
  redis_port_ = redis_->port();
}

void ScoringTestEnv::FlushRedis() {
  redisContext* context = redisConnect("127.0.0.1", redis_port_);
  OrDie(context != nullptr && context->err == 0
            ? absl::OkStatus()
            : absl::UnavailableError("cannot connect to redis-server"),
        "connect to redis-server");
  auto* reply = static_cast<redisReply*>(redisCommand(context, "FLUSHALL"));
  const bool ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(context);
  OrDie(ok ? absl::OkStatus() : absl::InternalError("FLUSHALL failed"),
        "flush redis-server");
}

absl::StatusOr<v1::Evaluation> ScoringTestEnv::Evaluate(
    const std::string& village, const std::string& period,
    const std::string& token) {
  v1::EvaluateRequest request;
  request.set_village_id(village);
  request.set_period(period);
  return Call(&v1::ScoringService::Stub::Evaluate, request, token);
}

absl::StatusOr<std::vector<v1::EvaluateRegionResponse>>
ScoringTestEnv::EvaluateRegion(const std::string& region,
                               const std::string& period,
                               bool include_evaluations,
                               const std::string& token) {
  v1::EvaluateRegionRequest request;
  request.set_region_id(region);
  request.set_period(period);
  request.set_include_evaluations(include_evaluations);
  std::unique_ptr<grpc::ClientContext> context =
      fivestar::testing::NewContext(token, absl::Seconds(60));
  auto reader = stub_->EvaluateRegion(context.get(), request);
  std::vector<v1::EvaluateRegionResponse> messages;
  v1::EvaluateRegionResponse message;
  while (reader->Read(&message)) messages.push_back(message);
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return messages;
}

absl::StatusOr<v1::GetLeaderboardResponse> ScoringTestEnv::Leaderboard(
    const std::string& region, const std::string& period,
    fivestar::common::v1::Star star, int page_size, const std::string& token) {
  v1::GetLeaderboardRequest request;
  request.set_region_id(region);
  request.set_period(period);
  request.set_star(star);
  request.set_page_size(page_size);
  return Call(&v1::ScoringService::Stub::GetLeaderboard, request, token);
}

absl::Status ScoringTestEnv::SetIndicator(const std::string& village,
                                          const std::string& key,
                                          const std::string& period,
                                          double value) {
  projects_v1::SetIndicatorValuesRequest request;
  projects_v1::IndicatorValue* v = request.add_values();
  v->set_village_id(village);
  v->set_indicator_key(key);
  v->set_period(period);
  v->set_value(value);
  return CallOn(*projects_stub_,
                &projects_v1::ProjectsService::Stub::SetIndicatorValues,
                request, kAdminToken)
      .status();
}

uint64_t ScoringTestEnv::ProjectsNewest() {
  projects_v1::WatchChangesRequest request;
  request.set_after_sequence(0);
  request.mutable_heartbeat_interval()->set_seconds(1);
  std::unique_ptr<grpc::ClientContext> context =
      fivestar::testing::NewContext(kAdminToken, absl::Seconds(20));
  auto reader = projects_stub().WatchChanges(context.get(), request);
  projects_v1::Change change;
  uint64_t newest = 0;
  while (reader->Read(&change)) {
    newest = change.newest_sequence();
    if (change.kind() == projects_v1::HEARTBEAT) break;
  }
  context->TryCancel();
  reader->Finish();
  return newest;
}

}  // namespace fivestar::scoring::testing
