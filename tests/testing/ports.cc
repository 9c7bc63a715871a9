#include "tests/testing/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace fivestar::testing {
namespace {

// Binds `fd` to 127.0.0.1 on a kernel-chosen port; the port, or 0.
int BindLoopback(int fd) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  return ntohs(address.sin_port);
}

}  // namespace

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError("socket() failed");
  const int port = BindLoopback(fd);
  close(fd);
  if (port == 0) return absl::UnavailableError("cannot bind a loopback port");
  return port;
}

HeldPort::HeldPort() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ >= 0) port_ = BindLoopback(fd_);
  if (port_ == 0 || listen(fd_, 64) != 0) {
    std::fprintf(stderr, "cannot hold a loopback port\n");
    std::abort();
  }
}

HeldPort::~HeldPort() {
  if (fd_ >= 0) close(fd_);
}

std::string HeldPort::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

}  // namespace fivestar::testing
