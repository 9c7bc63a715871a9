#!/usr/bin/env bash
# The Huiche township demo, across two services: starts the village registry
# and project tracking on free loopback ports, each with a fresh database and
# authentication on; imports the township's regions and villages (twice, to
# show the import is idempotent), its 193 practical tasks with their weekly
# progress reports, and its 2022-09 indicator values; prints the registry's
# summary of the township, the township's task summary for 2022-09 (193
# tasks, 145 delivered, 75.1 %), one line per management district and the
# five named projects of Dangziling (垱子岭); then stops both servers.
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
REGISTRY_SERVER="$BUILD_DIR/services/registry/fivestar-registry"
PROJECTS_SERVER="$BUILD_DIR/services/projects/fivestar-projects"
DATA="$ROOT/data/huiche"
TOWNSHIP=411323-huiche
DANGZILING=411323-huiche-west-01
PERIOD=2022-09

# Install what is missing and build what the demo runs (quick when done).
# FIVESTAR_DEMO_NO_BUILD=1 skips both (the test suite runs the demo against
# binaries it has just built).
if [[ -z "${FIVESTAR_DEMO_NO_BUILD:-}" ]]; then
  "$ROOT/scripts/install-deps.sh"
  BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" \
    fivestar fivestar-registry fivestar-projects
fi

WORK="$(mktemp -d)"
REGISTRY_PID=""
PROJECTS_PID=""
stop_quietly() {
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop_quietly "$PROJECTS_PID"
  stop_quietly "$REGISTRY_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

step "tokens for the demo"
# An admin for the demo's own calls (known to both servers), and a global
# viewer that project tracking presents to the registry.
"$CLI" new-token admin '*' demo-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' projects-service >"$WORK/projects-token"
TOKEN="$(sed -n 1p "$WORK/admin-token")"
PROJECTS_REGISTRY_TOKEN="$(sed -n 1p "$WORK/projects-token")"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/projects-token"; } \
  >"$WORK/registry-tokens"
sed -n 2p "$WORK/admin-token" >"$WORK/projects-tokens"
echo "registry tokens: admin * demo-admin, viewer * projects-service"
echo "projects tokens: admin * demo-admin"

REGISTRY_PORT="$(free_port)"
PROJECTS_PORT="$(free_port)"
while [[ "$PROJECTS_PORT" == "$REGISTRY_PORT" ]]; do PROJECTS_PORT="$(free_port)"; done
REGISTRY_ADDRESS="127.0.0.1:$REGISTRY_PORT"
PROJECTS_ADDRESS="127.0.0.1:$PROJECTS_PORT"

# The client, pointed at the demo servers; the token travels in the
# environment, not on the command line.
fivestar() {
  FIVESTAR_TOKEN="$TOKEN" "$CLI" --registry="$REGISTRY_ADDRESS" \
    --projects="$PROJECTS_ADDRESS" "$@"
}

# wait_for <pid> <address> <health service name> <log>
wait_for() {
  for _ in $(seq 1 150); do  # 150 × 0.1 s: at most about 15 s
    if ! kill -0 "$1" 2>/dev/null; then
      echo "demo: the server at $2 exited; its log:" >&2
      cat "$4" >&2
      exit 1
    fi
    if fivestar --deadline=1s health "$2" "$3" >/dev/null 2>&1; then
      echo "$3 serving on $2 (pid $1)"
      return
    fi
    sleep 0.1
  done
  echo "demo: the server at $2 did not answer within 15 s; its log:" >&2
  cat "$4" >&2
  exit 1
}

step "starting fivestar-registry and fivestar-projects"
"$REGISTRY_SERVER" --host=127.0.0.1 --port="$REGISTRY_PORT" --metrics_port=0 \
  --tokens_file="$WORK/registry-tokens" --database="$WORK/registry.db" \
  >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
FIVESTAR_REGISTRY_TOKEN="$PROJECTS_REGISTRY_TOKEN" \
  "$PROJECTS_SERVER" --host=127.0.0.1 --port="$PROJECTS_PORT" \
  --metrics_port=0 --tokens_file="$WORK/projects-tokens" \
  --database="$WORK/projects.db" --registry="$REGISTRY_ADDRESS" \
  >"$WORK/projects.log" 2>&1 &
PROJECTS_PID=$!
wait_for "$REGISTRY_PID" "$REGISTRY_ADDRESS" fivestar.registry.v1.RegistryService \
  "$WORK/registry.log"
wait_for "$PROJECTS_PID" "$PROJECTS_ADDRESS" fivestar.projects.v1.ProjectsService \
  "$WORK/projects.log"

step "fivestar import-registry data/huiche/registry.ndjson"
fivestar import-registry "$DATA/registry.ndjson"

step "the same import again: nothing changes"
fivestar import-registry "$DATA/registry.ndjson"

step "fivestar registry-summary $TOWNSHIP"
fivestar registry-summary "$TOWNSHIP"

step "fivestar import-projects data/huiche/projects.ndjson"
fivestar import-projects "$DATA/projects.ndjson"

step "fivestar set-indicators data/huiche/indicators.ndjson"
fivestar set-indicators "$DATA/indicators.ndjson"

step "fivestar project-summary --period=$PERIOD $TOWNSHIP"
fivestar project-summary --period="$PERIOD" "$TOWNSHIP"

step "per management district (管区), $PERIOD"
fivestar list-regions --ancestor="$TOWNSHIP" --kind=district |
  while read -r district _; do
    fivestar project-summary --period="$PERIOD" --brief "$district"
  done

step "fivestar village-summaries --period=$PERIOD $TOWNSHIP-west"
fivestar village-summaries --period="$PERIOD" "$TOWNSHIP-west"

step "the five named projects of 垱子岭 ($DANGZILING)"
fivestar list-projects --village="$DANGZILING" |
  grep -E '灌河东一期|八迭河|老君店'

step "stopping the servers (SIGTERM)"
# stop <pid> <name> <log>: SIGTERM, then the exit status must be 0.
stop() {
  kill -TERM "$1"
  local status=0
  wait "$1" || status=$?
  if [[ "$status" -ne 0 ]]; then
    echo "demo: $2 exited with status $status; its log:" >&2
    cat "$3" >&2
    exit 1
  fi
  echo "$2 stopped cleanly"
}
# Project tracking first: it is the registry's client.
stop "$PROJECTS_PID" fivestar-projects "$WORK/projects.log"
PROJECTS_PID=""
stop "$REGISTRY_PID" fivestar-registry "$WORK/registry.log"
REGISTRY_PID=""
