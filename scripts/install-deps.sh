#!/usr/bin/env bash
# Installs what building and testing fivestar needs on Debian 12, from
# Debian's own archive. Installs only what is missing; safe to run again.
# Needs root (or sudo).
#
# Usage: scripts/install-deps.sh               everything: build, tests, demo
#        scripts/install-deps.sh --bench       everything and the benchmark's
#                                              own tools (scripts/bench.sh)
#        scripts/install-deps.sh --build-only  only what a build configured with
#                                              -DFIVESTAR_BUILD_TESTS=OFF needs
#                                              (the image's build stage)
set -euo pipefail

BUILD_PACKAGES=(
  # Toolchain (pkg-config: gRPC's CMake package finds RE2 through it)
  g++ cmake ninja-build pkg-config
  # Libraries the servers and the CLI link, and the protos they compile
  # (grpc-proto: grpc.health.v1, for the CLI's health probe)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # (libpq-dev: the PostgreSQL storage engine)
  libabsl-dev libsqlite3-dev libpq-dev prometheus-cpp-dev libspdlog-dev libssl-dev
  grpc-proto
  # scoring's leaderboard cache
  libhiredis-dev
)
DEVELOPMENT_PACKAGES=(
  ccache
  # Tests: GoogleTest, Google Benchmark, a real Redis, a foreign gRPC client
  googletest libgtest-dev libgmock-dev libbenchmark-dev redis-server python3 python3-grpcio python3-grpc-tools sqlite3
  # A real PostgreSQL server for the PostgreSQL stores' tests
  postgresql-15
  # Fuzzers (scripts/fuzz.sh): clang 14 with libFuzzer and the sanitizers,
  # and llvm-symbolizer for readable sanitizer stack traces
  clang-14 libclang-rt-14-dev llvm-14
)
BENCH_PACKAGES=(
  # h2load, the benchmark's second opinion on the read figures
  nghttp2-client
)

case "${1:-}" in
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${DEVELOPMENT_PACKAGES[@]}") ;;
  --bench) PACKAGES=("${BUILD_PACKAGES[@]}" "${DEVELOPMENT_PACKAGES[@]}"
                     "${BENCH_PACKAGES[@]}") ;;
  --build-only) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "usage: $0 [--build-only | --bench]" >&2; exit 2 ;;
esac

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
