#include "common/change_feed.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace fivestar {

std::string LineagePath(absl::Span<const std::string> lineage) {
  std::string path = "/";
  for (auto it = lineage.rbegin(); it != lineage.rend(); ++it) {
    absl::StrAppend(&path, *it, "/");
  }
  return path;
}

std::string PathComponent(absl::string_view id) {
  return absl::StrCat("/", id, "/");
}

std::vector<std::string> LineageOfPath(absl::string_view path) {
  std::vector<std::string> lineage =
      absl::StrSplit(path, '/', absl::SkipEmpty());
  std::reverse(lineage.begin(), lineage.end());
  return lineage;
}

FeedNotifier::FeedNotifier(const std::string& feed, uint64_t newest)
    : metrics_(std::make_shared<prometheus::Registry>()),
      newest_gauge_(
          prometheus::BuildGauge()
              .Name("fivestar_feed_newest_sequence")
              .Help("The newest sequence committed to a change feed; a "
                    "follower's distance from it is how far behind it is.")
              .Register(*metrics_)
              .Add({{"feed", feed}})),
      newest_(newest) {
  newest_gauge_.Set(static_cast<double>(newest));
}

void FeedNotifier::Published(uint64_t newest) {
  std::vector<std::weak_ptr<ChangeWatcher>> wake;
  {
    absl::MutexLock lock(&mu_);
    newest_ = std::max(newest_, newest);
    newest_gauge_.Set(static_cast<double>(newest_));
    wake.swap(waiting_);
  }
  // Outside the lock: a woken watcher reads the store and may wait again.
  for (const std::weak_ptr<ChangeWatcher>& weak : wake) {
    if (std::shared_ptr<ChangeWatcher> watcher = weak.lock()) {
      watcher->OnNewChanges();
    }
  }
}

uint64_t FeedNotifier::newest() const {
  absl::MutexLock lock(&mu_);
  return newest_;
}

bool FeedNotifier::WaitBeyond(uint64_t scanned_through,
                              const std::shared_ptr<ChangeWatcher>& watcher) {
  absl::MutexLock lock(&mu_);
  if (closed_ || newest_ > scanned_through) return false;
  waiting_.push_back(watcher);
  return true;
}

bool FeedNotifier::Track(const std::shared_ptr<ChangeWatcher>& watcher) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  tracked_.erase(std::remove_if(tracked_.begin(), tracked_.end(),
                                [](const std::weak_ptr<ChangeWatcher>& w) {
                                  return w.expired();
                                }),
                 tracked_.end());
  tracked_.push_back(watcher);
  return true;
}

void FeedNotifier::Close() {
  std::vector<std::weak_ptr<ChangeWatcher>> everyone;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    everyone.swap(tracked_);
    waiting_.clear();
  }
  for (const std::weak_ptr<ChangeWatcher>& weak : everyone) {
    if (std::shared_ptr<ChangeWatcher> watcher = weak.lock()) {
      watcher->OnFeedClosed();
    }
  }
}

bool FeedNotifier::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

absl::Status CheckFeedCursor(absl::string_view feed_id,
                             absl::string_view requested_feed_id,
                             uint64_t after_sequence, uint64_t newest) {
  if (!requested_feed_id.empty() && requested_feed_id != feed_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "feed_id ", requested_feed_id, " is not this server's feed (", feed_id,
        "): the database was recreated; resynchronise from 0"));
  }
  if (after_sequence > newest) {
    return absl::OutOfRangeError(absl::StrCat(
        "after_sequence ", after_sequence, " is beyond the newest sequence ",
        newest,
        "; the cursor belongs to another database: resynchronise from 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseHeartbeatInterval(
    const google::protobuf::Duration& interval, absl::string_view field) {
  const bool mixed_signs = (interval.seconds() > 0 && interval.nanos() < 0) ||
                           (interval.seconds() < 0 && interval.nanos() > 0);
  if (interval.nanos() <= -1'000'000'000 || interval.nanos() >= 1'000'000'000 ||
      mixed_signs) {
    return FieldError(field, absl::StrCat("not a valid duration (seconds ",
                                          interval.seconds(), ", nanos ",
                                          interval.nanos(), ")"));
  }
  const absl::Duration duration =
      absl::Seconds(interval.seconds()) + absl::Nanoseconds(interval.nanos());
  if (duration == absl::ZeroDuration()) return duration;
  if (duration < kMinHeartbeatInterval || duration > kMaxHeartbeatInterval) {
    return FieldError(
        field, absl::StrCat("must be 0 (no heartbeats) or ",
                            absl::FormatDuration(kMinHeartbeatInterval), "..",
                            absl::FormatDuration(kMaxHeartbeatInterval),
                            ", got ", absl::FormatDuration(duration)));
  }
  return duration;
}

}  // namespace fivestar
