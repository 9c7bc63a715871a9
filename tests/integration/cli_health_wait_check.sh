#!/usr/bin/env bash
# `fivestar health --wait`, as the container loader and scripts use it: a
# probe started before the server keeps trying and succeeds once the
# server is SERVING; with nothing listening it gives up with UNAVAILABLE
# after the wait; a bad --wait is a usage error (exit 2).
# Usage: cli_health_wait_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() { echo "cli_health_wait_check: $*" >&2; exit 1; }

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
SERVICE=fivestar.registry.v1.RegistryService

status=0
"$CLI" --deadline=200ms health --wait=-1s "$ADDRESS" >"$WORK/usage.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "--wait=-1s: want exit 2, got $status"
grep -qF -- "--wait must not be negative" "$WORK/usage.out" ||
  fail "--wait=-1s: $(cat "$WORK/usage.out")"

status=0
"$CLI" --deadline=200ms health --wait=1s "$ADDRESS" "$SERVICE" >"$WORK/none.out" 2>&1 ||
  status=$?
[[ $status == 1 ]] || fail "nothing listening: want exit 1, got $status"
grep -qF "health: UNAVAILABLE" "$WORK/none.out" ||
  fail "nothing listening: $(cat "$WORK/none.out")"

# The probe first, the server a second later.
"$CLI" --deadline=500ms health --wait=60s "$ADDRESS" "$SERVICE" >"$WORK/wait.out" 2>&1 &
PROBE=$!
sleep 1
kill -0 "$PROBE" 2>/dev/null || fail "the probe gave up before the server started: $(cat "$WORK/wait.out")"
"$CLI" new-token admin '*' check-admin >"$WORK/admin-token"
sed -n 2p "$WORK/admin-token" >"$WORK/tokens"
"$SERVER" --host=127.0.0.1 --port="$PORT" --metrics_port=-1 \
  --tokens_file="$WORK/tokens" --database="$WORK/registry.db" \
  >"$WORK/registry.log" 2>&1 &
PID=$!
status=0
wait "$PROBE" || status=$?
[[ $status == 0 ]] || fail "the waiting probe failed ($status): $(cat "$WORK/wait.out")"
[[ "$(cat "$WORK/wait.out")" == SERVING ]] || fail "the waiting probe printed: $(cat "$WORK/wait.out")"

status=0
"$CLI" --deadline=1s health "$ADDRESS" fivestar.nothing.v1.Nothing >"$WORK/unknown.out" 2>&1 ||
  status=$?
[[ $status == 1 ]] || fail "an unknown service: want exit 1, got $status"
grep -qF "NOT_FOUND" "$WORK/unknown.out" || fail "an unknown service: $(cat "$WORK/unknown.out")"
echo "cli_health_wait_check: ok"
