#!/usr/bin/env bash
# fivestar-bench against `fivestar-bench serve-ping` (authentication on): a
# one-second Ping figure prints one JSON line with calls and no errors and
# exits 0; with a token the server does not know every call fails
# UNAUTHENTICATED, the line says invalid and the exit status is 1; an unknown
# figure and a figure without targets are usage errors (exit 2) naming the
# flag. Asserts outcomes only, never speeds.
# Usage: bench_ping_check.sh <fivestar-bench> <fivestar>
set -euo pipefail
BENCH="$1"
CLI="$2"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
fail() { echo "bench_ping_check: $*" >&2; exit 1; }

"$CLI" new-token admin '*' bench-check >"$WORK/admin-token"
"$CLI" new-token admin '*' stranger >"$WORK/stranger-token"
sed -n 2p "$WORK/admin-token" >"$WORK/tokens"
TOKEN="$(sed -n 1p "$WORK/admin-token")"
STRANGER="$(sed -n 1p "$WORK/stranger-token")"
ADDRESS="127.0.0.1:$(free_port)"
"$BENCH" serve-ping --host=127.0.0.1 --port="${ADDRESS##*:}" \
  --metrics_port=-1 --tokens_file="$WORK/tokens" >"$WORK/ping.log" 2>&1 &
PID=$!
"$CLI" health --wait=30s "$ADDRESS" fivestar.bench.v1.PingService >/dev/null ||
  fail "serve-ping did not turn SERVING: $(cat "$WORK/ping.log")"

# json <file> <python expression over j>
json() {
  /usr/bin/python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($2)" "$1"
}

status=0
FIVESTAR_TOKEN="$TOKEN" "$BENCH" --figure=ping --target="$ADDRESS" \
  --connections=2 --in_flight=4 --warmup=200ms --duration=1s --label=check \
  >"$WORK/ok.json" 2>"$WORK/ok.err" || status=$?
[[ $status == 0 ]] || fail "ping: want exit 0, got $status: $(cat "$WORK/ok.err")"
[[ "$(wc -l <"$WORK/ok.json")" == 1 ]] || fail "ping: want one line: $(cat "$WORK/ok.json")"
[[ "$(json "$WORK/ok.json" 'j["calls"] > 0')" == True ]] ||
  fail "ping: no calls counted: $(cat "$WORK/ok.json")"
[[ "$(json "$WORK/ok.json" 'j["errors"] == {} and j["warmup_errors"] == 0 and j["valid"] and j["figure"] == "ping" and j["label"] == "check" and j["connections"] == 2 and j["in_flight"] == 4')" == True ]] ||
  fail "ping: unexpected line: $(cat "$WORK/ok.json")"
[[ "$(json "$WORK/ok.json" '0 < j["p50_us"] <= j["p99_us"]')" == True ]] ||
  fail "ping: p50 and p99 out of order: $(cat "$WORK/ok.json")"

status=0
"$BENCH" --figure=ping --target="$ADDRESS" --token="$STRANGER" \
  --connections=1 --in_flight=2 --warmup=0s --duration=200ms \
  >"$WORK/denied.json" 2>"$WORK/denied.err" || status=$?
[[ $status == 1 ]] || fail "unknown token: want exit 1, got $status"
[[ "$(json "$WORK/denied.json" 'j["calls"] == 0 and not j["valid"] and list(j["errors"]) == ["UNAUTHENTICATED"] and j["first_error"].startswith("UNAUTHENTICATED")')" == True ]] ||
  fail "unknown token: unexpected line: $(cat "$WORK/denied.json")"

status=0
"$BENCH" --figure=nope --target="$ADDRESS" >"$WORK/usage.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "--figure=nope: want exit 2, got $status"
grep -qF -- '--figure: must be one of ping, get_village' "$WORK/usage.out" ||
  fail "--figure=nope: $(cat "$WORK/usage.out")"

status=0
"$BENCH" --figure=get_summary --target="$ADDRESS" >"$WORK/ids.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "get_summary without ids: want exit 2, got $status"
grep -qF -- '--ids_file or --discover_under: get_summary needs region ids, got none' \
  "$WORK/ids.out" || fail "get_summary without ids: $(cat "$WORK/ids.out")"
echo "bench_ping_check: ok"
