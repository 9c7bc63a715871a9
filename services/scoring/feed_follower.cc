#include "services/scoring/feed_follower.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/peer_client.h"
#include "common/status.h"
#include "fivestar/projects/v1/projects.grpc.pb.h"
#include "fivestar/registry/v1/registry.grpc.pb.h"
#include "google/protobuf/duration.pb.h"
#include "spdlog/spdlog.h"

namespace fivestar::scoring {
namespace {

namespace projects_v1 = ::fivestar::projects::v1;
namespace registry_v1 = ::fivestar::registry::v1;

// A WatchChanges stream of either peer: `Change` is the peer's message,
// `translate` says what it asks of scoring.
template <typename Change>
class GrpcFeedStream final : public FeedStream {
 public:
  using Translate = std::function<void(const Change&, FeedMessage*)>;

  GrpcFeedStream(const PeerOptions& peer, Translate translate,
                 const char* peer_name)
      : translate_(std::move(translate)), peer_name_(peer_name) {
    // A followed stream has no deadline: it lives until it fails or is
    // cancelled. Only the token is set.
    if (!peer.bearer_token.empty()) {
      context_.AddMetadata("authorization",
                           absl::StrCat("Bearer ", peer.bearer_token));
    }
  }

  grpc::ClientContext* context() { return &context_; }
  void set_reader(std::unique_ptr<grpc::ClientReader<Change>> reader) {
    reader_ = std::move(reader);
  }

  bool Read(FeedMessage* message) override {
    Change change;
    if (!reader_->Read(&change)) return false;
    *message = FeedMessage();
    message->sequence = change.sequence();
    message->newest_sequence = change.newest_sequence();
    message->feed_id = change.feed_id();
    translate_(change, message);
    return true;
  }

  absl::Status Finish() override {
    grpc::Status status = reader_->Finish();
    if (status.ok()) return absl::UnavailableError("the feed ended");
    if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE ||
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      // The cursor belongs to another database of the peer.
      return absl::OutOfRangeError(status.error_message());
    }
    return PeerCallError(status, peer_name_, "follow the change feed");
  }

  void Cancel() override { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<Change>> reader_;
  Translate translate_;
  const char* peer_name_;
};

template <typename Request>
Request WatchRequest(const FeedCursor& after, absl::Duration heartbeat) {
  Request request;
  request.set_after_sequence(after.sequence);
  request.set_feed_id(after.feed_id);
  request.mutable_heartbeat_interval()->set_seconds(
      std::max<int64_t>(1, absl::ToInt64Seconds(heartbeat)));
  return request;
}

void TranslateProjects(const projects_v1::Change& change,
                       FeedMessage* message) {
  switch (change.kind()) {
    case projects_v1::HEARTBEAT:
      message->heartbeat = true;
      break;
    case projects_v1::INDICATOR_CHANGED:
      // A value of month M is in the windows of M and later months.
      message->village_id = change.village_id();
      message->from_period = change.period();
      break;
    default:
      // A project or a report may change any month's task figures (reports
      // can be dated back): every recorded month.
      message->village_id = change.village_id();
      break;
  }
}

void TranslateRegistry(const registry_v1::Change& change,
                       FeedMessage* message) {
  switch (change.kind()) {
    case registry_v1::HEARTBEAT:
      message->heartbeat = true;
      break;
    case registry_v1::VILLAGE_CHANGED:
    case registry_v1::VILLAGE_MOVED:
    case registry_v1::VILLAGE_DELETED:
      // Committee, industries, target and region are read as they are now:
      // every recorded month changes; a deleted village loses its
      // standings.
      message->village_id = change.entity_id();
      break;
    case registry_v1::REGION_MOVED:
      // Every village below it now sits on other boards.
      message->region_id = change.entity_id();
      break;
    default:
      // Created villages have nothing recorded yet; region renames and
      // creations change no board.
      break;
  }
}

}  // namespace

FeedFollower::Open FeedFollower::ProjectsFeed(
    std::shared_ptr<grpc::ChannelInterface> channel, PeerOptions peer,
    absl::Duration heartbeat) {
  auto stub = std::shared_ptr<projects_v1::ProjectsService::Stub>(
      projects_v1::ProjectsService::NewStub(channel));
  return [stub, peer, heartbeat](const FeedCursor& after) {
    auto stream = std::make_unique<GrpcFeedStream<projects_v1::Change>>(
        peer, TranslateProjects, "project tracking");
    stream->set_reader(stub->WatchChanges(
        stream->context(),
        WatchRequest<projects_v1::WatchChangesRequest>(after, heartbeat)));
    return std::unique_ptr<FeedStream>(std::move(stream));
  };
}

FeedFollower::Open FeedFollower::RegistryFeed(
    std::shared_ptr<grpc::ChannelInterface> channel, PeerOptions peer,
    absl::Duration heartbeat) {
  auto stub = std::shared_ptr<registry_v1::RegistryService::Stub>(
      registry_v1::RegistryService::NewStub(channel));
  return [stub, peer, heartbeat](const FeedCursor& after) {
    auto stream = std::make_unique<GrpcFeedStream<registry_v1::Change>>(
        peer, TranslateRegistry, "the village registry");
    stream->set_reader(stub->WatchChanges(
        stream->context(),
        WatchRequest<registry_v1::WatchChangesRequest>(after, heartbeat)));
    return std::unique_ptr<FeedStream>(std::move(stream));
  };
}

FeedFollower::FeedFollower(FollowerOptions options, Open open,
                           Evaluations* evaluations)
    : options_(std::move(options)),
      open_(std::move(open)),
      evaluations_(evaluations),
      metrics_(std::make_shared<prometheus::Registry>()),
      lag_(prometheus::BuildGauge()
               .Name("fivestar_feed_follower_lag")
               .Help("Changes of a followed feed not yet applied: the newest "
                     "sequence the peer reported minus the last applied.")
               .Register(*metrics_)
               .Add({{"feed", options_.feed}})),
      applied_gauge_(prometheus::BuildGauge()
                         .Name("fivestar_feed_follower_applied_sequence")
                         .Help("The last sequence of a followed feed whose "
                               "changes are applied and stored.")
                         .Register(*metrics_)
                         .Add({{"feed", options_.feed}})),
      reconnects_(prometheus::BuildCounter()
                      .Name("fivestar_feed_follower_reconnects_total")
                      .Help("Times a followed feed's stream failed and was "
                            "opened again.")
                      .Register(*metrics_)
                      .Add({{"feed", options_.feed}})) {}

FeedFollower::~FeedFollower() { Stop(); }

void FeedFollower::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void FeedFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (stream_ != nullptr) stream_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

void FeedFollower::Run() {
  std::mt19937_64 random(std::random_device{}());
  absl::Duration backoff = options_.min_backoff;
  while (!stopping()) {
    absl::StatusOr<FeedCursor> stored =
        evaluations_->store()->GetCursor(options_.feed);
    absl::Status status = stored.status();
    if (stored.ok()) {
      applied_.store(stored->sequence);
      applied_gauge_.Set(static_cast<double>(stored->sequence));
      const uint64_t before = stored->sequence;
      status = FollowOnce(*stored);
      if (stored->sequence > before) backoff = options_.min_backoff;
    }
    if (stopping()) break;
    if (absl::IsOutOfRange(status)) {
      // The peer's database is not the one the cursor came from: start
      // over from its first change (re-evaluating is idempotent).
      spdlog::warn("msg={} feed={} error={}",
                   LogValue("followed feed does not know our cursor; "
                            "starting over"),
                   options_.feed, LogValue(status.message()));
      (void)evaluations_->store()->SetCursor(
          {options_.feed, FeedCursor{}, std::nullopt});
      continue;
    }
    reconnects_.Increment();
    spdlog::info("msg={} feed={} error={} retry_in_ms={}",
                 LogValue("followed feed interrupted"), options_.feed,
                 LogValue(status.message()),
                 absl::ToInt64Milliseconds(backoff));
    // Jittered: half to all of the backoff.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    const absl::Duration wait = backoff * jitter(random);
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::Status FeedFollower::FollowOnce(FeedCursor& cursor) {
  std::unique_ptr<FeedStream> stream = open_(cursor);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      stream->Cancel();
    }
    stream_ = stream.get();
  }
  std::vector<FeedMessage> batch;
  FeedMessage message;
  absl::Status status = absl::OkStatus();
  while (status.ok() && stream->Read(&message)) {
    lag_.Set(static_cast<double>(message.newest_sequence) -
             static_cast<double>(cursor.sequence));
    if (!message.heartbeat) batch.push_back(message);
    const bool caught_up =
        message.heartbeat || message.sequence >= message.newest_sequence;
    if (!batch.empty() &&
        (caught_up || static_cast<int>(batch.size()) >= options_.max_batch)) {
      FeedCursor next{message.feed_id, batch.back().sequence};
      status = Apply(batch, cursor, next);
      if (status.ok()) {
        cursor = next;
        batch.clear();
        applied_.store(cursor.sequence);
        applied_gauge_.Set(static_cast<double>(cursor.sequence));
        lag_.Set(static_cast<double>(message.newest_sequence) -
                 static_cast<double>(cursor.sequence));
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }
  if (!status.ok()) {
    stream->Cancel();
    (void)stream->Finish();
    return status;
  }
  return stream->Finish();
}

absl::Status FeedFollower::Apply(const std::vector<FeedMessage>& batch,
                                 const FeedCursor& began,
                                 const FeedCursor& cursor) {
  // Village → the earliest month to re-evaluate from ("" = all).
  absl::btree_map<std::string, std::string> from;
  // "" sorts before every month, so the minimum is also "all months".
  auto want = [&from](const std::string& village, const std::string& period) {
    auto [it, inserted] = from.emplace(village, period);
    if (!inserted && period < it->second) it->second = period;
  };
  for (const FeedMessage& message : batch) {
    if (!message.village_id.empty()) {
      want(message.village_id, message.from_period);
    }
    if (!message.region_id.empty()) {
      ASSIGN_OR_RETURN(
          std::vector<std::string> villages,
          evaluations_->store()->VillagesWithStandings(message.region_id));
      for (const std::string& village : villages) want(village, "");
    }
  }
  std::vector<Reevaluation> work;
  for (const auto& [village, first] : from) {
    ASSIGN_OR_RETURN(std::vector<std::string> periods,
                     evaluations_->RecordedPeriods(village));
    Reevaluation item{village, {}};
    for (const std::string& period : periods) {
      if (period >= first) item.periods.push_back(period);
    }
    if (!item.periods.empty()) work.push_back(std::move(item));
  }
  return evaluations_->Reevaluate(work,
                                  CursorUpdate{options_.feed, cursor, began});
}

}  // namespace fivestar::scoring
