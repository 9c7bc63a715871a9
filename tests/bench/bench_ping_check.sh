#!/usr/bin/env bash
# fivestar-bench against `fivestar-bench serve-ping` (authentication on): a
# one-second Ping figure prints one JSON line with calls and no errors and
# exits 0; with a token the server does not know every call fails
# UNAUTHENTICATED, the line says invalid and the exit status is 1; an unknown
# figure and a figure without targets are usage errors (exit 2) naming the
# flag. The health figure, --until_signal (the window ends at SIGINT),
# --interval (paced calls) and wait-serving work against the same server,
# and tools/bench/report.py turns a set of measurements into the tables
# with the right verdicts (also a comparison of the storage engines).
# Asserts outcomes only, never speeds.
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
grep -qF -- '--figure: must be one of ping, health, get_village' "$WORK/usage.out" ||
  fail "--figure=nope: $(cat "$WORK/usage.out")"

status=0
"$BENCH" --figure=get_summary --target="$ADDRESS" >"$WORK/ids.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "get_summary without ids: want exit 2, got $status"
grep -qF -- '--ids_file or --discover_under: get_summary needs region ids, got none' \
  "$WORK/ids.out" || fail "get_summary without ids: $(cat "$WORK/ids.out")"
# health: the server's overall health, no targets needed.
status=0
"$BENCH" --figure=health --target="$ADDRESS" --connections=1 --in_flight=1 \
  --warmup=0s --duration=300ms >"$WORK/health.json" 2>"$WORK/health.err" || status=$?
[[ $status == 0 ]] || fail "health: want exit 0, got $status: $(cat "$WORK/health.err")"
[[ "$(json "$WORK/health.json" 'j["calls"] > 0 and j["valid"] and j["p99_us"] <= j["max_us"]')" == True ]] ||
  fail "health: unexpected line: $(cat "$WORK/health.json")"

# interrupted <name> <flags...>: a 60 s Ping window with --until_signal and
# `flags`, ended by SIGINT after about a second; exits 0, line in
# $WORK/<name>.json.
interrupted() {
  local name="$1" status=0 pid
  shift
  FIVESTAR_TOKEN="$TOKEN" "$BENCH" --figure=ping --target="$ADDRESS" \
    --connections=1 --in_flight=1 --warmup=0s --duration=60s --until_signal \
    "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" &
  pid=$!
  sleep 1
  kill -INT "$pid"
  wait "$pid" || status=$?
  [[ $status == 0 ]] || fail "$name: want exit 0, got $status: $(cat "$WORK/$name.err")"
}

# --until_signal: the window ends at SIGINT.
interrupted until
[[ "$(json "$WORK/until.json" 'j["calls"] > 0 and j["valid"] and 0 < j["seconds"] < 30')" == True ]] ||
  fail "--until_signal: the window did not end at SIGINT: $(cat "$WORK/until.json")"

# --interval paces each slot: with one call in flight, 100 ms apart, the
# window holds at most 10 calls a second of it, plus one at each end
# (unpaced, thousands), and the alarm waiting for the next call does not
# keep the tool from ending.
interrupted paced --interval=100ms
[[ "$(json "$WORK/paced.json" '0 < j["calls"] <= j["seconds"] * 10 + 2 and j["valid"] and j["interval_ms"] == 100 and 0 < j["seconds"] < 30')" == True ]] ||
  fail "--interval=100ms: not paced: $(cat "$WORK/paced.json")"

status=0
"$BENCH" --figure=ping --target="$ADDRESS" --interval=-1ms >"$WORK/interval.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "--interval=-1ms: want exit 2, got $status"
grep -qF -- '--interval: must be 0s..60s, got -1ms' "$WORK/interval.out" ||
  fail "--interval=-1ms: $(cat "$WORK/interval.out")"

# wait-serving: SERVING at once; nothing listening fails naming the target.
status=0
"$BENCH" wait-serving --target="$ADDRESS" --since_ns="$(date +%s%N)" \
  --label=check >"$WORK/wait.json" 2>"$WORK/wait.err" || status=$?
[[ $status == 0 ]] || fail "wait-serving: want exit 0, got $status: $(cat "$WORK/wait.json")"
[[ "$(json "$WORK/wait.json" 'j["label"] == "check" and j["serving_after_ms"] >= 0')" == True ]] ||
  fail "wait-serving: unexpected line: $(cat "$WORK/wait.json")"
NOBODY="127.0.0.1:$(free_port)"
status=0
"$BENCH" wait-serving --target="$NOBODY" --wait_timeout=300ms \
  >"$WORK/nobody.out" 2>&1 || status=$?
[[ $status == 2 ]] || fail "wait-serving, nothing listening: want exit 2, got $status"
grep -qF "$NOBODY did not turn SERVING within --wait_timeout (300ms)" \
  "$WORK/nobody.out" || fail "wait-serving, nothing listening: $(cat "$WORK/nobody.out")"

# report.py: one measurement of each kind, each on a known side of its goal.
REPORT="$(dirname "${BASH_SOURCE[0]}")/../../tools/bench/report.py"
figure() {  # figure <figure> <label> <calls/s> <p50> <p99> [valid]
  printf '{"figure":"%s","label":"%s","calls":10,"calls_per_s":%s,"p50_us":%s,"p99_us":%s,"max_us":%s,"errors":{},"warmup_errors":0,"first_error":"","valid":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$5" "${6:-true}"
}
{
  echo '{"kind": "context", "command": "scripts/bench.sh", "date": "today", "commit": "abc", "build": "Release (build-release)", "machine": "test", "data": "test", "scale": "small", "connections": 4, "in_flight": 16, "warmup": "1s", "duration": "5s", "repeat": 1, "figures": "get_village,get_leaderboard"}'
  figure ping get_village/1 1000 100 200
  figure get_village get_village/1 900 110 220
  figure ping get_leaderboard/1 1000 100 200
  figure get_leaderboard get_leaderboard/1 500 200 400
  figure ping summaries/ping 1000 100 200
  figure get_summary summaries/province 1 4000 6000
  figure get_summary summaries/county 1 600 900
  figure health idle/health/registry 1000 100 200
  figure health import-registry/health/registry 1000 100 2500
  echo '{"kind":"load","load":"import-registry","service":"registry","seconds":3.0,"reference":{"seconds":2.5,"rows":100,"tables":{"villages":100}},"boards_reference":null,"rss":{"registry":{"hwm_kb":300000,"rss_kb":100000},"projects":{"hwm_kb":1,"rss_kb":1},"scoring":{"hwm_kb":1,"rss_kb":1}},"redis_latency_max_ms":0}'
  echo '{"kind":"load","load":"evaluate-region","service":"scoring","seconds":4.0,"reference":{"seconds":2.0,"rows":100,"tables":{"standings":100}},"boards_reference":{"seconds":1.0,"counts":{"boards":2,"members":200,"commands":2}},"rss":{"registry":{"hwm_kb":1,"rss_kb":1},"projects":{"hwm_kb":300000,"rss_kb":200000},"scoring":{"hwm_kb":102400,"rss_kb":51200}},"redis_latency_max_ms":3}'
  echo '{"kind":"startup","service":"registry","line":{"serving_after_ms":150.5}}'
  echo '{"kind":"h2load","figure":"ping","label":"get_village/1","calls_per_s":1000,"succeeded":10,"failed":0,"mean":"1ms","output":""}'
  echo '{"kind":"h2load","figure":"get_village","label":"get_village/1","calls_per_s":880,"succeeded":10,"failed":0,"mean":"1ms","output":""}'
} >"$WORK/results.ndjson"
sed 's/"scale": "small"/"scale": "national"/' "$WORK/results.ndjson" \
  >"$WORK/national.ndjson"
/usr/bin/python3 "$REPORT" --results="$WORK/results.ndjson" \
  --results="$WORK/national.ndjson" --out="$WORK/report.md" >/dev/null ||
  fail "report.py failed"
expect() {
  grep -qF -- "$1" "$WORK/report.md" || fail "report.py: no line with \"$1\": $(cat "$WORK/report.md")"
}
expect '| get_village | 900 | 110 µs | 220 µs | 1000 | 0.900 / 0.900 / 0.900 | ≥ 0.85 × Ping: **holds** |'
expect '| get_leaderboard | 500 | 200 µs | 400 µs | 1000 | 0.500 / 0.500 / 0.500 | ≥ 0.9 × Ping (top 10): **misses** (0.56 of the goal at the median) |'
expect '| get_village | 880 | 1000 | 0.880 / 0.880 / 0.880 | ≥ 0.85 × Ping: **holds** |'
expect '| province | 10 | 4,000 µs | 6,000 µs | 40.0 | ≤ 50 × Ping'"'"'s p50: **holds** |'
expect '| county | 10 | 600 µs | 900 µs | 6.0 | ≤ 5 × Ping'"'"'s p50: **misses** (1.2 × the bound) |'
expect '| registry import (ImportRegistry) | 3.00 | 2.50 s (100) | 1.20 | **holds** | 293 MiB (98 MiB) | **misses** (1.1 × the bound) | under 1 ms |'
# Another service's larger peak is named and decides the RSS verdict.
expect '| evaluation of every root region with its boards | 4.00 | 2.00 s (100) + 1.00 s (200 members of 2 boards) | 1.33 | **holds** | 100 MiB (50 MiB); projects 293 MiB (195 MiB) | **misses** (1.1 × the bound) | 3 ms |'
expect '| import-registry | health/registry | 10 | 2,500 µs | 200 µs | 12.5 | 2,500 µs | **misses** (1.2 × the bound) |'
expect '| registry | 150.5 ms | **holds** | 0 MiB |'
expect '## At national scale'
expect '### Loads'

# An engines run (bench.sh --engines=sqlite,postgres), included: each
# engine's figures and the ratio to the first engine's per repetition; a
# failed call marks the figure invalid.
{
  echo '{"kind": "context", "command": "scripts/bench.sh --engines=sqlite,postgres", "date": "today", "commit": "abc", "build": "Release (build-release)", "machine": "test", "data": "test", "scale": "small", "connections": 4, "in_flight": 16, "warmup": "1s", "duration": "3s", "repeat": 2, "figures": "get_village,create_progress_report", "engines": "sqlite,postgres", "storage": "SQLite: test; PostgreSQL: test"}'
  figure get_village get_village/1/sqlite 1000 100 200
  figure get_village get_village/1/postgres 400 250 500
  figure get_village get_village/2/sqlite 800 120 300
  figure get_village get_village/2/postgres 400 260 600
  figure create_progress_report create_progress_report/1/sqlite 100 1000 2000
  figure create_progress_report create_progress_report/1/postgres 10 9000 9000 false
  echo '{"kind":"load","load":"import-registry","service":"registry","engine":"sqlite","seconds":1.0,"reference":null,"boards_reference":null,"rss":{},"redis_latency_max_ms":0}'
  echo '{"kind":"load","load":"import-registry","service":"registry","engine":"postgres","seconds":2.5,"reference":null,"boards_reference":null,"rss":{},"redis_latency_max_ms":0}'
} >"$WORK/engines.ndjson"
/usr/bin/python3 "$REPORT" --results="$WORK/results.ndjson" \
  --results="$WORK/engines.ndjson" --out="$WORK/report.md" >/dev/null ||
  fail "report.py failed on an engines run"
expect '## Storage engines: SQLite and PostgreSQL'
expect '- Storage: SQLite: test; PostgreSQL: test'
expect '| figure | SQLite calls/s | p50 | p99 | PostgreSQL calls/s | p50 | p99 | PostgreSQL / SQLite calls/s (min / median / max) |'
expect '| get_village | 900 | 110 µs | 250 µs | 400 | 255 µs | 550 µs | 0.400 / 0.450 / 0.500 |'
expect '| create_progress_report | 100 | 1,000 µs | 2,000 µs | 10 | 9,000 µs | 9,000 µs | 0.100 / 0.100 / 0.100 **invalid**'
expect '| registry import (ImportRegistry) | 1.00 | 2.50 | 2.50 |'
echo "bench_ping_check: ok"
