// Loopback ports for tests: one that was free a moment ago (for servers that
// cannot bind port 0 themselves, such as redis-server), and one held open
// by a socket that listens but never accepts, which is both a busy port and
// a peer that never answers (a hung service).
#ifndef FIVESTAR_TESTS_TESTING_PORTS_H_
#define FIVESTAR_TESTS_TESTING_PORTS_H_

#include <string>

#include "absl/status/statusor.h"

namespace fivestar::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
absl::StatusOr<int> PickFreePort();

// A TCP socket listening on 127.0.0.1 at a kernel-chosen port, without
// SO_REUSEPORT, so nobody else can bind that port while it lives. It never
// accepts: a client's TCP handshake completes (the kernel's backlog) and
// then nothing ever answers, as with a hung process.
class HeldPort {
 public:
  HeldPort();
  ~HeldPort();
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_PORTS_H_
