#!/usr/bin/env bash
# Configures (once) and builds everything with CMake + Ninja into
# ${BUILD_DIR:-build}. Extra arguments go to ninja (e.g. a target name).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two cores and heavy gRPC translation units: keep memory use sane.
ninja -C "$BUILD_DIR" -j "${JOBS:-$(nproc)}" "$@"
