// The clients' side of a load test: what each client was told about its
// writes, and what the final state must therefore be.
//
// Every write is conditional on an etag (or a create), so the acknowledged
// writes of one resource form a single history: the create, then each
// acknowledged update or delete made on the etag the previous one returned.
// AcknowledgedWrites rebuilds that history from the responses the clients
// recorded, in whatever order they recorded them, and reports what cannot
// be: two acknowledged writes on the same etag (a lost update), an
// acknowledged write that is not on the history (lost), a write refused as
// stale (ABORTED) whose etag is that of the final version (it was current,
// so the refusal was wrong), or a resource that NOT_FOUND was answered for
// although it was never deleted. Check() then compares the state read back
// after the load with the end of each history.
//
// A key has one life: created at most once (server-assigned ids, or a
// client-chosen id that is not deleted while a create of it may still be
// in flight).
//
// RunClients runs the clients: a fixed number of operations each, on their
// own threads, with an overall deadline that is only a hang guard.
#ifndef FIVESTAR_TESTS_TESTING_ACKNOWLEDGED_WRITES_H_
#define FIVESTAR_TESTS_TESTING_ACKNOWLEDGED_WRITES_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fivestar::testing {

// One version of a resource as a client saw it: its etag and a fingerprint
// of the fields the test cares about (the same function of a response and
// of a read-back resource).
struct Version {
  std::string etag;
  std::string fingerprint;
};

class AcknowledgedWrites {
 public:
  // Thread-safe recorders, one per response a client got.
  // An acknowledged create of `key`.
  void Created(const std::string& key, const Version& version);
  // An acknowledged update of `key` made on etag `on`, answered `version`.
  void Updated(const std::string& key, const std::string& on,
               const Version& version);
  // An acknowledged delete of `key` made on etag `on`.
  void Deleted(const std::string& key, const std::string& on);
  // A write on etag `on` refused with `code` (ABORTED, FAILED_PRECONDITION,
  // NOT_FOUND...): it must have changed nothing.
  void Refused(const std::string& key, const std::string& on,
               absl::StatusCode code);
  // The answer to a conditional write of `key` on etag `on`: when `status`
  // is OK, an update to `version` (a delete when nullopt); ABORTED,
  // FAILED_PRECONDITION and NOT_FOUND as refusals; any other code as
  // unexpected (`what` names the call).
  void Answered(const std::string& what, const std::string& key,
                const std::string& on, const absl::Status& status,
                const std::optional<Version>& version);
  // Any other answer a client did not expect, kept as an error.
  void Unexpected(const std::string& what, const absl::Status& status);

  // The newest etag any client was told for `key` (perhaps stale by now),
  // or nullopt when none was or the key was deleted.
  std::optional<std::string> LastSeen(const std::string& key) const;
  // The keys created so far.
  std::vector<std::string> Keys() const;
  // Refusals recorded with `code`.
  int Refusals(absl::StatusCode code) const;
  // Acknowledged writes (creates, updates, deletes).
  int Acknowledged() const;
  // "creates=N updates=N deletes=N refused: ABORTED=N ...", for the log.
  std::string Tally() const;

  // Every inconsistency of the recorded answers (see the file comment) and
  // every difference between `actual` (each existing key with its version,
  // read back after the load) and the end of each key's history: a missing
  // or extra key, another etag or fingerprint. Empty when they agree.
  std::vector<std::string> Check(
      const std::map<std::string, Version>& actual) const;

 private:
  struct Write {
    std::string on;                  // the etag it was made on
    std::optional<Version> version;  // nullopt: a delete
  };
  struct History {
    std::vector<Version> creates;
    std::vector<Write> writes;
    std::vector<std::pair<std::string, absl::StatusCode>> refused;
    std::optional<std::string> last_seen;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, History> histories_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unexpected_ ABSL_GUARDED_BY(mu_);
};

// Runs `clients` threads; client c calls operation(c, i) for i = 0 ..
// operations - 1 in order. A client that is still running at `hang_guard`
// starts no more operations. Returns how many operations did not run (0
// when every client finished).
int RunClients(int clients, int operations,
               const std::function<void(int client, int op)>& operation,
               absl::Duration hang_guard = absl::Seconds(90));

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_ACKNOWLEDGED_WRITES_H_
