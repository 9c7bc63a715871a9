#!/usr/bin/env bash
# The real fivestar-registry binary, as an operator starts it:
#  - refuses to start (exit 2, saying why) with plaintext gRPC on a
#    non-loopback --host unless --allow_plaintext_remote, and with a tokens
#    file that others may write or that lists no principal;
#  - re-reads its tokens file on SIGHUP: a valid new version is in force for
#    the next call, an invalid one is refused and logged while the tokens in
#    force stay; and is not stopped by SIGHUP;
#  - exits 0 on SIGTERM.
# Usage: server_safety_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() {
  echo "server_safety_check: $*" >&2
  [[ -f "$WORK/registry.log" ]] && cat "$WORK/registry.log" >&2
  exit 1
}

"$CLI" new-token admin '*' first-admin >"$WORK/first"
"$CLI" new-token admin '*' second-admin >"$WORK/second"
FIRST="$(sed -n 1p "$WORK/first")"
SECOND="$(sed -n 1p "$WORK/second")"
sed -n 2p "$WORK/first" >"$WORK/tokens"
chmod 0644 "$WORK/tokens"

# expect_refusal <message> <flags...>: exit 2 and the message in the log.
expect_refusal() {
  local want="$1" status=0
  shift
  "$SERVER" --port=0 --metrics_port=-1 --database="$WORK/refused.db" "$@" \
    >"$WORK/refused.log" 2>&1 || status=$?
  [[ $status == 2 ]] || fail "$*: want exit 2, got $status: $(cat "$WORK/refused.log")"
  grep -qF -- "$want" "$WORK/refused.log" ||
    fail "$*: want \"$want\" in: $(cat "$WORK/refused.log")"
}
expect_refusal "host: 0.0.0.0 is not a loopback address and TLS is off" \
  --host=0.0.0.0 --tokens_file="$WORK/tokens"
cp "$WORK/tokens" "$WORK/open-tokens"
chmod 0666 "$WORK/open-tokens"
expect_refusal "others may write it (mode 0666); chmod o-w it" \
  --tokens_file="$WORK/open-tokens"
: >"$WORK/empty-tokens"
expect_refusal "lists no principal" --tokens_file="$WORK/empty-tokens"

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
# Only SIGHUP reloads here, so each step is deterministic.
"$SERVER" --host=127.0.0.1 --port="$PORT" --metrics_port=-1 \
  --tokens_file="$WORK/tokens" --tokens_reload_interval=0 \
  --database="$WORK/registry.db" >"$WORK/registry.log" 2>&1 &
PID=$!
"$CLI" --deadline=1s health --wait=15s "$ADDRESS" >/dev/null || fail "not SERVING"

# as <token> <expected exit>: a call that needs a known token.
as() {
  local status=0
  FIVESTAR_TOKEN="$1" "$CLI" --registry="$ADDRESS" --deadline=5s list-regions \
    >"$WORK/call.out" 2>&1 || status=$?
  [[ $status == "$2" ]] || fail "want exit $2, got $status: $(cat "$WORK/call.out")"
}
# hangup <log line count to wait for> <fixed string>
hangup() {
  kill -HUP "$PID"
  for _ in $(seq 1 100); do
    [[ $(grep -cF -- "$2" "$WORK/registry.log") -ge $1 ]] && return
    kill -0 "$PID" 2>/dev/null || fail "SIGHUP stopped the server"
    sleep 0.1
  done
  fail "no \"$2\" in the log after SIGHUP"
}
as "$FIRST" 0
as "$SECOND" 1
grep -qF "unknown bearer token" "$WORK/call.out" || fail "$(cat "$WORK/call.out")"

# A valid new version: the second admin only.
sed -n 2p "$WORK/second" >"$WORK/tokens.next"
mv "$WORK/tokens.next" "$WORK/tokens"
hangup 1 "msg=tokens_reloaded principals=1"
as "$SECOND" 0
as "$FIRST" 1

# An invalid version: refused, the second admin still in force.
echo "not-a-hash admin * mallory" >"$WORK/tokens"
hangup 1 "msg=tokens_reload_refused"
grep -F "msg=tokens_reload_refused" "$WORK/registry.log" | grep -qF "line 1" ||
  fail "the refusal does not name the line"
as "$SECOND" 0

kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=""
[[ $status == 0 ]] || fail "exit status $status on SIGTERM"
echo "server_safety_check: ok"
