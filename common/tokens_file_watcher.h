// Keeps a server's tokens in step with its tokens file, without a restart:
// the file is checked every interval (its inode, size and times, so a
// Kubernetes Secret's symlink swap and an editor's rename both count) and
// re-read on demand (SIGHUP). A valid new version replaces the tokens in
// force; an invalid one is refused, logged with the reason, and the tokens
// in force stay.
#ifndef FIVESTAR_COMMON_TOKENS_FILE_WATCHER_H_
#define FIVESTAR_COMMON_TOKENS_FILE_WATCHER_H_

#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/auth.h"

namespace fivestar {

class TokensFileWatcher {
 public:
  // Watches `path`, whose current contents `store` holds, checking it every
  // `interval` on a thread of its own; a zero interval checks only when
  // ReloadNow() is called.
  TokensFileWatcher(std::string path, std::shared_ptr<TokenStore> store,
                    absl::Duration interval);
  // Stops the thread.
  ~TokensFileWatcher();

  TokensFileWatcher(const TokensFileWatcher&) = delete;
  TokensFileWatcher& operator=(const TokensFileWatcher&) = delete;

  // Re-reads the file now, changed or not. OK when the new tokens are in
  // force; otherwise the error (the tokens in force stay).
  absl::Status ReloadNow();

  // How many times a new version was put in force, and refused.
  int reloads() const;
  int refusals() const;

 private:
  // What identifies one version of the file.
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    timespec modified{};
    timespec changed{};
    bool operator==(const Stamp& other) const;
  };
  static Stamp StampOf(const std::string& path);

  void Run();
  absl::Status Reload(const Stamp& stamp);

  const std::string path_;
  const std::shared_ptr<TokenStore> store_;
  const absl::Duration interval_;
  mutable absl::Mutex mu_;
  Stamp stamp_ ABSL_GUARDED_BY(mu_);
  int reloads_ ABSL_GUARDED_BY(mu_) = 0;
  int refusals_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_TOKENS_FILE_WATCHER_H_
