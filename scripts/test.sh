#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs what is
# missing, builds, runs every test (unit, gRPC-level, cross-service, and the
# foreign-client check) with ctest, then each fuzzer for 5 seconds
# (scripts/fuzz.sh, its own clang build in build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${JOBS:-$(nproc)}"
./scripts/fuzz.sh 5
