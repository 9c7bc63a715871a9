#include "common/tokens_file_watcher.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/logging.h"

namespace fivestar {

bool TokensFileWatcher::Stamp::operator==(const Stamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified.tv_sec == other.modified.tv_sec &&
         modified.tv_nsec == other.modified.tv_nsec &&
         changed.tv_sec == other.changed.tv_sec &&
         changed.tv_nsec == other.changed.tv_nsec;
}

TokensFileWatcher::Stamp TokensFileWatcher::StampOf(const std::string& path) {
  Stamp stamp;
  struct stat info;
  // stat follows symlinks: a Secret volume swaps the link, not the file.
  if (stat(path.c_str(), &info) != 0) return stamp;
  stamp.device = info.st_dev;
  stamp.inode = info.st_ino;
  stamp.size = info.st_size;
  stamp.modified = info.st_mtim;
  stamp.changed = info.st_ctim;
  return stamp;
}

TokensFileWatcher::TokensFileWatcher(std::string path,
                                     std::shared_ptr<TokenStore> store,
                                     absl::Duration interval)
    : path_(std::move(path)),
      store_(std::move(store)),
      interval_(interval),
      stamp_(StampOf(path_)) {
  if (interval_ > absl::ZeroDuration())
    thread_ = std::thread([this] { Run(); });
}

TokensFileWatcher::~TokensFileWatcher() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::Status TokensFileWatcher::ReloadNow() { return Reload(StampOf(path_)); }

int TokensFileWatcher::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

int TokensFileWatcher::refusals() const {
  absl::MutexLock lock(&mu_);
  return refusals_;
}

void TokensFileWatcher::Run() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    const Stamp stamp = StampOf(path_);
    {
      absl::MutexLock lock(&mu_);
      if (stamp == stamp_) continue;
    }
    Reload(stamp).IgnoreError();  // Logged by Reload.
  }
}

absl::Status TokensFileWatcher::Reload(const Stamp& stamp) {
  absl::StatusOr<TokenTable> tokens = TokenTable::Load(path_);
  absl::MutexLock lock(&mu_);
  // A refused version is not retried until the file changes again.
  stamp_ = stamp;
  if (!tokens.ok()) {
    ++refusals_;
    spdlog::warn("msg=tokens_reload_refused error={} kept_principals={}",
                 LogValue(tokens.status().message()), store_->Get()->size());
    return tokens.status();
  }
  ++reloads_;
  const size_t principals = tokens->size();
  store_->Set(*std::move(tokens));
  spdlog::info("msg=tokens_reloaded principals={} path={}", principals,
               LogValue(path_));
  return absl::OkStatus();
}

}  // namespace fivestar
