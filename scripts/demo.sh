#!/usr/bin/env bash
# The Huiche township demo: starts a registry server on a free loopback port
# with a fresh database and an admin token, imports the township's regions
# and villages (twice, to show the import is idempotent), prints the
# registry's summary of the township, and stops the server.
#
# It first installs what is missing (Debian 12) and builds, so it is the one
# command a fresh machine needs.
#
# Usage: scripts/demo.sh            (builds into ./build)
#        BUILD_DIR=out scripts/demo.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
DATA="$ROOT/data/huiche/registry.ndjson"

# Install what is missing and build what the demo runs (quick when done).
"$ROOT/scripts/install-deps.sh"
BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" fivestar fivestar-registry

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "admin token for the demo"
"$CLI" new-token admin '*' demo-admin >"$WORK/new-token"
TOKEN="$(sed -n 1p "$WORK/new-token")"
sed -n 2p "$WORK/new-token" >"$WORK/tokens"
echo "tokens file: $(cut -c1-16 "$WORK/tokens")… admin * demo-admin"

PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# The client, pointed at the demo server; the token travels in the
# environment, not on the command line.
fivestar() {
  FIVESTAR_TOKEN="$TOKEN" "$CLI" --registry="127.0.0.1:$PORT" "$@"
}

step "starting fivestar-registry on 127.0.0.1:$PORT"
"$SERVER" --host=127.0.0.1 --port="$PORT" --metrics_port=0 \
  --tokens_file="$WORK/tokens" --database="$WORK/registry.db" \
  >"$WORK/registry.log" 2>&1 &
SERVER_PID=$!

ready=""
for _ in $(seq 1 150); do  # 150 × 0.1 s: at most about 15 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "demo: the server exited; its log:" >&2
    cat "$WORK/registry.log" >&2
    exit 1
  fi
  if fivestar --deadline=1s health "127.0.0.1:$PORT" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  echo "demo: the server did not answer within 15 s; its log:" >&2
  cat "$WORK/registry.log" >&2
  exit 1
fi
echo "serving (pid $SERVER_PID)"

step "fivestar import-registry data/huiche/registry.ndjson"
fivestar import-registry "$DATA"

step "the same import again: nothing changes"
fivestar import-registry "$DATA"

step "fivestar registry-summary 411323-huiche"
fivestar registry-summary 411323-huiche

step "stopping the server"
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
if [[ "$status" -ne 0 ]]; then
  echo "demo: the server exited with status $status; its log:" >&2
  cat "$WORK/registry.log" >&2
  exit 1
fi
echo "stopped cleanly"
