#include "tests/testing/acknowledged_writes.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fivestar::testing {

void AcknowledgedWrites::Created(const std::string& key,
                                 const Version& version) {
  absl::MutexLock lock(&mu_);
  History& history = histories_[key];
  history.creates.push_back(version);
  history.last_seen = version.etag;
}

void AcknowledgedWrites::Updated(const std::string& key, const std::string& on,
                                 const Version& version) {
  absl::MutexLock lock(&mu_);
  History& history = histories_[key];
  history.writes.push_back({on, version});
  history.last_seen = version.etag;
}

void AcknowledgedWrites::Deleted(const std::string& key,
                                 const std::string& on) {
  absl::MutexLock lock(&mu_);
  History& history = histories_[key];
  history.writes.push_back({on, std::nullopt});
  history.last_seen.reset();
}

void AcknowledgedWrites::Refused(const std::string& key, const std::string& on,
                                 absl::StatusCode code) {
  absl::MutexLock lock(&mu_);
  histories_[key].refused.emplace_back(on, code);
}

void AcknowledgedWrites::Answered(const std::string& what,
                                  const std::string& key, const std::string& on,
                                  const absl::Status& status,
                                  const std::optional<Version>& version) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      if (version.has_value()) {
        Updated(key, on, *version);
      } else {
        Deleted(key, on);
      }
      return;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
      Refused(key, on, status.code());
      return;
    default:
      Unexpected(absl::StrCat(what, " ", key, " on etag ", on), status);
  }
}

void AcknowledgedWrites::Unexpected(const std::string& what,
                                    const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  unexpected_.push_back(absl::StrCat(what, ": ", status.ToString()));
}

std::optional<std::string> AcknowledgedWrites::LastSeen(
    const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = histories_.find(key);
  if (it == histories_.end()) return std::nullopt;
  return it->second.last_seen;
}

std::vector<std::string> AcknowledgedWrites::Keys() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  for (const auto& [key, history] : histories_) {
    if (!history.creates.empty()) keys.push_back(key);
  }
  return keys;
}

int AcknowledgedWrites::Refusals(absl::StatusCode code) const {
  absl::MutexLock lock(&mu_);
  int count = 0;
  for (const auto& [key, history] : histories_) {
    for (const auto& [on, refused] : history.refused) count += refused == code;
  }
  return count;
}

int AcknowledgedWrites::Acknowledged() const {
  absl::MutexLock lock(&mu_);
  int count = 0;
  for (const auto& [key, history] : histories_) {
    count += static_cast<int>(history.creates.size() + history.writes.size());
  }
  return count;
}

std::string AcknowledgedWrites::Tally() const {
  absl::MutexLock lock(&mu_);
  int creates = 0, updates = 0, deletes = 0;
  std::map<absl::StatusCode, int> refused;
  for (const auto& [key, history] : histories_) {
    creates += static_cast<int>(history.creates.size());
    for (const Write& write : history.writes) {
      ++(write.version.has_value() ? updates : deletes);
    }
    for (const auto& [on, code] : history.refused) ++refused[code];
  }
  std::string out = absl::StrCat("creates=", creates, " updates=", updates,
                                 " deletes=", deletes, " refused:");
  for (const auto& [code, count] : refused) {
    absl::StrAppend(&out, " ", absl::StatusCodeToString(code), "=", count);
  }
  absl::StrAppend(&out, " unexpected=", unexpected_.size());
  return out;
}

std::vector<std::string> AcknowledgedWrites::Check(
    const std::map<std::string, Version>& actual) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> errors = unexpected_;
  for (const auto& [key, history] : histories_) {
    const std::string where = absl::StrCat(key, ": ");
    if (history.creates.size() > 1) {
      errors.push_back(
          absl::StrCat(where, history.creates.size(), " acknowledged creates"));
    }
    // Walk the history from the create; each step is the one acknowledged
    // write made on the current etag.
    std::optional<Version> head;
    if (!history.creates.empty()) head = history.creates.front();
    std::vector<bool> used(history.writes.size(), false);
    while (head.has_value()) {
      int next = -1;
      for (size_t i = 0; i < history.writes.size(); ++i) {
        if (used[i] || history.writes[i].on != head->etag) continue;
        if (next >= 0) {
          errors.push_back(absl::StrCat(
              where, "two acknowledged writes on etag ", head->etag));
        }
        next = static_cast<int>(i);
      }
      if (next < 0) break;
      used[next] = true;
      head = history.writes[next].version;
    }
    for (size_t i = 0; i < history.writes.size(); ++i) {
      if (!used[i]) {
        errors.push_back(absl::StrCat(
            where, "acknowledged ",
            history.writes[i].version ? "update" : "delete", " on etag ",
            history.writes[i].on, " is not in the history (lost)"));
      }
    }
    for (const auto& [on, code] : history.refused) {
      if (code == absl::StatusCode::kAborted && head.has_value() &&
          on == head->etag) {
        errors.push_back(
            absl::StrCat(where, "refused as stale on etag ", on,
                         ", which is the final version's (it was current)"));
      }
      if (code == absl::StatusCode::kNotFound && head.has_value()) {
        errors.push_back(
            absl::StrCat(where, "answered NOT_FOUND but never deleted"));
      }
    }
    auto it = actual.find(key);
    if (history.creates.empty()) {
      if (it != actual.end()) {
        errors.push_back(absl::StrCat(where,
                                      "exists but no create was "
                                      "acknowledged"));
      }
      continue;
    }
    if (!head.has_value()) {
      if (it != actual.end()) {
        errors.push_back(absl::StrCat(where,
                                      "exists although its delete was "
                                      "acknowledged"));
      }
      continue;
    }
    if (it == actual.end()) {
      errors.push_back(absl::StrCat(where, "missing; expected etag ",
                                    head->etag, " ", head->fingerprint));
      continue;
    }
    if (it->second.etag != head->etag ||
        it->second.fingerprint != head->fingerprint) {
      errors.push_back(absl::StrCat(where, "is etag ", it->second.etag, " ",
                                    it->second.fingerprint, "; expected etag ",
                                    head->etag, " ", head->fingerprint));
    }
  }
  for (const auto& [key, version] : actual) {
    if (histories_.count(key) == 0) {
      errors.push_back(absl::StrCat(key, ": exists but no client created it"));
    }
  }
  return errors;
}

int RunClients(int clients, int operations,
               const std::function<void(int client, int op)>& operation,
               absl::Duration hang_guard) {
  const absl::Time deadline = absl::Now() + hang_guard;
  std::atomic<int> skipped{0};
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < operations; ++i) {
        if (absl::Now() > deadline) {
          skipped.fetch_add(operations - i);
          return;
        }
        operation(c, i);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return skipped.load();
}

}  // namespace fivestar::testing
