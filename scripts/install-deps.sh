#!/usr/bin/env bash
# Installs what building and testing fivestar needs on Debian 12, from
# Debian's own archive. Installs only what is missing; safe to run again.
# Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  # Toolchain
  g++ cmake ninja-build pkg-config ccache
  # Libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libsqlite3-dev prometheus-cpp-dev libspdlog-dev
  libssl-dev
  # Tests: GoogleTest, Google Benchmark, a real Redis, a foreign gRPC client
  googletest libgtest-dev libgmock-dev libbenchmark-dev redis-server
  python3 python3-grpcio python3-grpc-tools grpc-proto sqlite3
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  --no-install-recommends "${missing[@]}"
