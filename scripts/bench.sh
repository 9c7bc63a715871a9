#!/usr/bin/env bash
# The benchmark of issue 10, in one command (not part of the test command).
#
# Builds a Release build in its own directory, generates the data set,
# starts redis-server, the three services and the Ping reference server
# (fivestar-bench serve-ping) on free loopback ports with authentication on,
# and then measures, writing every measurement as one JSON line and finally
# BENCHMARKS.md (tools/bench/report.py):
#   1. the loads: the registry import, the projects import, the indicator
#      values, and scoring's evaluation of every root region (the province;
#      at --scale=national, each of the 31) with its boards,
#      each timed beside its raw references (tools/bench/sqlite_reference.sh:
#      the same rows inserted by the sqlite3 shell in one transaction;
#      tools/bench/board_reference.py: the same boards as pipelined variadic
#      ZADDs through `redis-cli --pipe`), with every service's peak and
#      current RSS after it and Redis's longest latency event during it;
#   2. while each load runs, latency probes (1 call in flight, started
#      5 ms apart at most, so that they take little of the machine) on every
#      service's health and on reads unrelated to the load, against the same
#      probes on the idle system;
#   3. region summaries of the province and of counties, one call at a time,
#      against a Ping's p50, also with the probes running;
#   4. start-up to SERVING of each service on its loaded database, and
#      scoring's re-sync of every board into an emptied Redis;
#   5. every read and write figure under load (connections × in flight)
#      beside Ping in the same repetition, --repeat times;
#   6. h2load (nghttp2-client) as a second opinion on the read figures.
#
# With --engines=sqlite,postgres it compares the storage engines instead:
# one stack per engine (its own redis-server and three services; for
# PostgreSQL, a cluster of its own on a free loopback port, in a temporary
# directory on disk, stopped at the end), the same loads into each, timed,
# and every figure's repetitions interleaved across the engines (sqlite,
# postgres, sqlite, ...) so that the machine's noise falls on both. Only
# the loads and the figures run; the table is the section "Storage
# engines" (tools/bench/report.py).
#
# Usage: scripts/bench.sh [--scale=province] [--duration=5s] [--warmup=1s]
#          [--connections=4] [--in_flight=16] [--repeat=3]
#          [--figures=get_village,...] [--out=BENCHMARKS.md] [--skip=h2load,...]
#          [--include=OTHER.ndjson ...] [--notes=NOTES.md]
#          [--engines=sqlite,postgres]
#   --scale     the generator's scale (small, province, national)
#   --skip      parts to leave out: loads-reference, probes, summaries,
#               startup, figures, h2load (the loads themselves always run)
#   --out       the table; the measurements go beside it, as .ndjson
#   --include   an earlier run's .ndjson (e.g. --scale=national) whose
#               tables follow this run's, under their own heading
#   --notes     Markdown appended to the table (what limits each miss;
#               default docs/benchmark-notes.md, --notes= for none)
#   --board_near_cache_entries  scoring's flag (default here 200000; the
#               service's own default is 0, off)
#   --summary_cache_villages  projects' flag (default: the service's own);
#               a tenth of the province's villages stands in for a nation,
#               whose villages are ten times the default
#   --engines   compare storage engines (sqlite, postgres; the first is
#               the one the others are divided by); --out then defaults to
#               BENCHMARKS-engines.md, to --include in BENCHMARKS.md
#   FIVESTAR_POSTGRES_BINDIR  PostgreSQL's server programs (default
#               /usr/lib/postgresql/15/bin)
#   BUILD_DIR   the build directory (default build-release, Release)
#   JOBS        parallel compile jobs (default: the number of cores)
#   FIVESTAR_BENCH_NO_BUILD=1 uses the binaries already in BUILD_DIR
#   FIVESTAR_BENCH_KEEP=1 keeps the work directory (databases, logs, the
#                         JSON lines; PostgreSQL's cluster) and prints where
#                         it is
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND="scripts/bench.sh${*:+ $*}"
SCALE=province
DURATION=5s
WARMUP=1s
CONNECTIONS=4
IN_FLIGHT=16
REPEAT=3
FIGURES=get_village,get_project,list_villages,get_summary,get_leaderboard,get_village_rank,create_progress_report
OUT=""
SKIP=","
# Empty: the usual run, on SQLite; else the engines to compare.
ENGINES_FLAG=""
# Scoring's near-cache of board reads (off by default; see README.md).
NEAR_CACHE=200000
# Projects' bound on kept summary figures; empty: the service's default.
SUMMARY_CACHE=""
INCLUDES=()
# What limits each figure that misses its goal, kept beside the code.
NOTES="$ROOT/docs/benchmark-notes.md"
for arg in "$@"; do
  case "$arg" in
    --scale=*) SCALE="${arg#*=}" ;;
    --duration=*) DURATION="${arg#*=}" ;;
    --warmup=*) WARMUP="${arg#*=}" ;;
    --connections=*) CONNECTIONS="${arg#*=}" ;;
    --in_flight=*) IN_FLIGHT="${arg#*=}" ;;
    --repeat=*) REPEAT="${arg#*=}" ;;
    --figures=*) FIGURES="${arg#*=}" ;;
    --out=*) OUT="${arg#*=}" ;;
    --skip=*) SKIP=",${arg#*=}," ;;
    --board_near_cache_entries=*) NEAR_CACHE="${arg#*=}" ;;
    --summary_cache_villages=*) SUMMARY_CACHE="${arg#*=}" ;;
    --include=*) INCLUDES+=("${arg#*=}") ;;
    --notes=*) NOTES="${arg#*=}" ;;
    --engines=*) ENGINES_FLAG="${arg#*=}" ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench.sh: --repeat: must be a positive integer, got \"$REPEAT\"" >&2
  exit 2
fi
for part in ${SKIP//,/ }; do
  case "$part" in
    loads-reference|probes|summaries|startup|figures|h2load) ;;
    *) echo "bench.sh: --skip: unknown part \"$part\" (see --help)" >&2; exit 2 ;;
  esac
done
# ENGINES: one stack each; COMPARE: whether this run compares them.
ENGINES=(sqlite)
COMPARE=""
if [[ -n "$ENGINES_FLAG" ]]; then
  IFS=, read -r -a ENGINES <<<"$ENGINES_FLAG"
  declare -A seen_engine=()
  for engine in "${ENGINES[@]}"; do
    case "$engine" in
      sqlite|postgres) ;;
      *) echo "bench.sh: --engines: unknown engine \"$engine\" (sqlite, postgres)" >&2; exit 2 ;;
    esac
    if [[ -n "${seen_engine[$engine]:-}" ]]; then
      echo "bench.sh: --engines: \"$engine\" named twice" >&2
      exit 2
    fi
    seen_engine[$engine]=1
  done
  COMPARE=1
  # The other parts measure against SQLite's own references and Ping.
  SKIP+="loads-reference,probes,summaries,startup,h2load,"
fi
if [[ -z "$OUT" ]]; then
  OUT="$ROOT/BENCHMARKS${COMPARE:+-engines}.md"
fi
skipped() { [[ "$SKIP" == *",$1,"* ]]; }

# What the build, redis-server, the generator's python3, sqlite3 and h2load
# need.
"$ROOT/scripts/install-deps.sh" --bench

BUILD_DIR="${BUILD_DIR:-build-release}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
if [[ -z "${FIVESTAR_BENCH_NO_BUILD:-}" ]]; then
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFIVESTAR_BUILD_TESTS=OFF
  fi
  ninja -C "$BUILD_DIR" -j "${JOBS:-$(nproc)}" fivestar fivestar-bench \
    fivestar-registry fivestar-projects fivestar-scoring
fi
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
CLI="$BUILD_DIR/tools/cli/fivestar"
BENCH="$BUILD_DIR/tools/bench/fivestar-bench"

LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
WORK="$(mktemp -d)"
RESULTS="$WORK/results.ndjson"
: >"$RESULTS"
declare -A SERVICE_PID=()
PROBE_PIDS=()
# PostgreSQL's cluster (--engines=...,postgres): its directory, outside
# $WORK since the server runs as another user when this runs as root, and
# its postmaster's pid.
PG_BIN="${FIVESTAR_POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
PG_DIR=""
PG_PID=""
PG_PORT=""
cleanup() {
  local pid
  for pid in "${PROBE_PIDS[@]}" "${SERVICE_PID[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  stop_postgres
  if [[ -n "${FIVESTAR_BENCH_KEEP:-}" ]]; then
    echo "bench.sh: kept $WORK${PG_DIR:+ and $PG_DIR}" >&2
  else
    rm -rf "$WORK"
    [[ -z "$PG_DIR" ]] || rm -rf "$PG_DIR"
  fi
}
# stop_postgres: a fast shutdown of the cluster's postmaster, by its pid
# (also one that pg_ctl started but did not see come up); SIGKILL after
# 30 s.
stop_postgres() {
  local pid="$PG_PID"
  if [[ -z "$pid" && -n "$PG_DIR" && -f "$PG_DIR/data/postmaster.pid" ]]; then
    pid="$(head -1 "$PG_DIR/data/postmaster.pid")"
  fi
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "bench.sh: PostgreSQL (pid $pid) did not stop in 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
trap cleanup EXIT
# A signal ends the run through the EXIT trap too (once the step in the
# foreground ends), so that nothing it started is left running.
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '==> %s\n' "$*" >&2; }
now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
USED_PORTS=" "
free_port() {
  local port
  while :; do
    port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    if [[ "$USED_PORTS" != *" $port "* ]]; then
      USED_PORTS+="$port "
      echo "$port"
      return
    fi
  done
}

# The data set.
step "generating data: --scale=$SCALE --seed=1"
/usr/bin/python3 "$ROOT/tools/datagen/generate.py" --scale="$SCALE" \
  --seed=1 --out="$WORK/data"
DATA="$WORK/data"
# Target lists and the data's month, read from the import files.
/usr/bin/python3 - "$DATA" "$WORK" <<'PY'
import json, sys
data, work = sys.argv[1], sys.argv[2]
roots, counties, townships, villages, periods = [], [], [], [], set()
with open(f"{data}/registry.ndjson", encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        record = json.loads(line)
        if "region" in record:
            region = record["region"]
            if not region.get("parent_id"):
                roots.append(region["id"])
            if region.get("kind") == "COUNTY":
                counties.append(region["id"])
            if region.get("kind") == "TOWNSHIP":
                townships.append(region["id"])
        elif "village" in record:
            villages.append(record["village"]["id"])
with open(f"{data}/indicators.ndjson", encoding="utf-8") as f:
    for line in f:
        if line.strip():
            periods.add(json.loads(line)["period"])
if not roots or not counties or not townships or not villages or not periods:
    sys.exit("bench.sh: the data needs root regions, counties, townships, "
             "villages and indicator periods")
# The first root (a province) stands for "the province" in the summaries
# and the figures; the evaluation load covers every root.
open(f"{work}/root", "w").write(roots[0] + "\n")
open(f"{work}/roots.txt", "w").write("\n".join(roots) + "\n")
open(f"{work}/period", "w").write(max(periods) + "\n")
open(f"{work}/counties.txt", "w").write("\n".join(counties) + "\n")
open(f"{work}/townships.txt", "w").write("\n".join(townships) + "\n")
open(f"{work}/villages.txt", "w").write("\n".join(villages) + "\n")
print(f"{len(villages)} villages, {len(townships)} townships, "
      f"{len(counties)} counties, {len(roots)} root(s), first {roots[0]}, "
      f"period {max(periods)}",
      file=sys.stderr)
PY
ROOT_REGION="$(cat "$WORK/root")"
PERIOD="$(cat "$WORK/period")"
FIRST_TOWNSHIP="$(sed -n 1p "$WORK/townships.txt")"

# Tokens: an admin for the load and the imports (every server knows it),
# and a global viewer the services present to their peers.
"$CLI" new-token admin '*' bench-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' bench-peer >"$WORK/peer-token"
export FIVESTAR_TOKEN="$(sed -n 1p "$WORK/admin-token")"
PEER_TOKEN="$(sed -n 1p "$WORK/peer-token")"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/peer-token"; } >"$WORK/tokens"

# One stack per engine: its own redis-server and three services, with their
# databases and logs in $WORK/<engine>. STACK, ADDRESS[registry|projects|
# scoring] and REDIS_PORT are the current stack's (use_stack); the Ping
# reference (the usual run only) belongs to none.
declare -A ADDRESS=() STACK_ADDRESS=() STACK_REDIS_PORT=()
[[ -n "$COMPARE" ]] || ADDRESS[ping]="127.0.0.1:$(free_port)"
for engine in "${ENGINES[@]}"; do
  mkdir -p "$WORK/$engine"
  for name in registry projects scoring; do
    STACK_ADDRESS[$engine/$name]="127.0.0.1:$(free_port)"
  done
  STACK_REDIS_PORT[$engine]="$(free_port)"
done
use_stack() {
  local name
  STACK="$1"
  for name in registry projects scoring; do
    ADDRESS[$name]="${STACK_ADDRESS[$1/$name]}"
  done
  REDIS_PORT="${STACK_REDIS_PORT[$1]}"
}
# each_engine <command...>: the command on every engine's stack in turn.
each_engine() {
  local engine
  for engine in "${ENGINES[@]}"; do
    use_stack "$engine"
    "$@"
  done
}
use_stack "${ENGINES[0]}"
redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
fivestar() {
  "$CLI" --registry="${ADDRESS[registry]}" --projects="${ADDRESS[projects]}" \
    --scoring="${ADDRESS[scoring]}" "$@"
}

# database <service>: the current stack's --database for it.
database() {
  case "$STACK" in
    sqlite) echo "$WORK/sqlite/$1.db" ;;
    postgres) echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1" ;;
  esac
}
# log_file <service>: where its output goes.
log_file() {
  if [[ "$1" == ping ]]; then echo "$WORK/ping.log"; else echo "$WORK/$STACK/$1.log"; fi
}

# start <service>: starts it in the background on its address and database.
start() {
  local name="$1" port="${ADDRESS[$1]##*:}" log
  log="$(log_file "$1")"
  local common=(--host=127.0.0.1 --port="$port" --metrics_port=0
                --tokens_file="$WORK/tokens")
  case "$name" in
    registry)
      "$BUILD_DIR/services/registry/fivestar-registry" "${common[@]}" \
        --database="$(database registry)" >>"$log" 2>&1 & ;;
    projects)
      FIVESTAR_REGISTRY_TOKEN="$PEER_TOKEN" \
        "$BUILD_DIR/services/projects/fivestar-projects" "${common[@]}" \
        --database="$(database projects)" --registry="${ADDRESS[registry]}" \
        ${SUMMARY_CACHE:+--summary_cache_villages="$SUMMARY_CACHE"} \
        >>"$log" 2>&1 & ;;
    scoring)
      FIVESTAR_REGISTRY_TOKEN="$PEER_TOKEN" FIVESTAR_PROJECTS_TOKEN="$PEER_TOKEN" \
        "$BUILD_DIR/services/scoring/fivestar-scoring" "${common[@]}" \
        --database="$(database scoring)" --registry="${ADDRESS[registry]}" \
        --projects="${ADDRESS[projects]}" --redis="127.0.0.1:$REDIS_PORT" \
        --board_near_cache_entries="$NEAR_CACHE" >>"$log" 2>&1 & ;;
    ping) "$BENCH" serve-ping "${common[@]}" >>"$log" 2>&1 & ;;
  esac
  if [[ "$name" == ping ]]; then SERVICE_PID[ping]=$!; else SERVICE_PID[$STACK/$name]=$!; fi
}
# wait_serving <service> <since_ns> [label]: waits for SERVING; with a label,
# records the start-up time.
wait_serving() {
  local line
  if ! line="$("$BENCH" wait-serving --target="${ADDRESS[$1]}" --since_ns="$2" \
      --label="${3:-}" --wait_timeout=120s)"; then
    echo "bench.sh: $1 did not turn SERVING; its log:" >&2
    tail -50 "$(log_file "$1")" >&2
    exit 1
  fi
  if [[ -n "${3:-}" ]]; then
    printf '{"kind":"startup","service":"%s","line":%s}\n' "$1" "$line" >>"$RESULTS"
  fi
}
stop() {
  local pid="${SERVICE_PID[$STACK/$1]}"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}
# rss: every service's peak (VmHWM) and current (VmRSS) resident set, kB.
rss() {
  local name pid sep="" out="{"
  for name in registry projects scoring; do
    pid="${SERVICE_PID[$STACK/$name]}"
    out+="$sep\"$name\":{\"hwm_kb\":$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status"),\"rss_kb\":$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")}"
    sep=","
  done
  echo "$out}"
}
# redis_latency: Redis's latency events since the last reset as JSON
# members, then resets the monitor: "redis_latency_max_ms" (the longest
# event's ms, 0 when none reached the 1 ms threshold) and
# "redis_latency_events" (each event's name, e.g. command, fast-command,
# expire-cycle, with its longest ms), so that a long one is attributed.
redis_latency() {
  # Four lines an event: name, time, latest ms, longest ms.
  redis LATENCY LATEST | awk '
    NR % 4 == 1 { name = $1 }
    NR % 4 == 0 { events = events sep "\"" name "\":" $1; sep = ",";
                  if ($1 > max) max = $1 }
    END { printf "\"redis_latency_max_ms\":%d,\"redis_latency_events\":{%s}",
                 max + 0, events }'
  redis LATENCY RESET >/dev/null
}

# as_postgres <program> <args...>: PostgreSQL's server programs refuse to
# run as root; as root they run as the postgres user (in the cluster's
# directory, which that user can enter).
as_postgres() {
  if [[ "$EUID" -eq 0 ]]; then
    (cd "$PG_DIR" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}
# start_postgres: a cluster of its own on a free loopback port, in a
# directory on disk (not /dev/shm, so that its commits' fsyncs cost what
# SQLite's do in $WORK), with PostgreSQL's default settings, and one
# database per service.
start_postgres() {
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/fivestar-bench-postgres.XXXXXX")"
  [[ "$EUID" -ne 0 ]] || chown postgres: "$PG_DIR"
  PG_PORT="$(free_port)"
  step "starting PostgreSQL in $PG_DIR on 127.0.0.1:$PG_PORT"
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-instructions >"$WORK/postgres-initdb.log" 2>&1 || {
    echo "bench.sh: initdb failed:" >&2; cat "$WORK/postgres-initdb.log" >&2; exit 1; }
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
      -w -t 60 -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" \
      start >/dev/null; then
    echo "bench.sh: PostgreSQL did not start; its log:" >&2
    tail -50 "$PG_DIR/postgres.log" >&2
    exit 1
  fi
  PG_PID="$(head -1 "$PG_DIR/data/postmaster.pid")"
  local name
  for name in registry projects scoring; do
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$name"
  done
}
# psql_value <query>: one value from the cluster.
psql_value() {
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtc "$1"
}
# file_system <dir>: what the directory is on, e.g. "ext4 on /dev/vda".
file_system() { findmnt -n -o FSTYPE,SOURCE -T "$1" | awk '{ print $1 " on " $2 }'; }
# start_stack: the current stack's redis-server and services.
start_stack() {
  local name
  step "starting redis-server and the services on $STACK"
  mkdir -p "$WORK/$STACK/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --latency-monitor-threshold 1 --dir "$WORK/$STACK/redis" \
    >"$WORK/$STACK/redis.log" 2>&1 &
  SERVICE_PID[$STACK/redis]=$!
  for _ in $(seq 1 50); do
    redis ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  for name in registry projects scoring; do
    start "$name"
    wait_serving "$name" "$(now_ns)"
  done
}

STORAGE="SQLite: WAL, synchronous=FULL, files on $(file_system "$WORK")"
if [[ " ${ENGINES[*]} " == *" postgres "* ]]; then
  start_postgres
  STORAGE+="; PostgreSQL $(psql_value 'SHOW server_version'): a cluster of"
  STORAGE+=" its own on $(file_system "$PG_DIR"), default settings"
  STORAGE+=" (fsync=$(psql_value 'SHOW fsync'),"
  STORAGE+=" synchronous_commit=$(psql_value 'SHOW synchronous_commit'),"
  STORAGE+=" shared_buffers=$(psql_value 'SHOW shared_buffers')),"
  STORAGE+=" over TCP on loopback"
fi
each_engine start_stack
use_stack "${ENGINES[0]}"
if [[ -z "$COMPARE" ]]; then
  step "starting the Ping reference"
  start ping
  wait_serving ping "$(now_ns)"
fi

# --- Latency probes: one call in flight, on each service's health and on
# reads unrelated to the load; idle first, then while each load runs.
PROBES="health/registry health/projects health/scoring"
# A probe starts a call 5 ms after the previous one started (or when it
# ends, if later): enough calls for a p99, a small share of the machine.
# Unpaced, the four probes took most of a core beside each load.
PROBE_INTERVAL=5ms
# probe_args <probe>: the figure, target and flags of a probe.
probe_args() {
  case "$1" in
    health/*) echo "--figure=health --target=${ADDRESS[${1#health/}]}" ;;
    get_village) echo "--figure=get_village --target=${ADDRESS[registry]} --ids_file=$WORK/villages.txt" ;;
    get_project) echo "--figure=get_project --target=${ADDRESS[projects]} --discover_under=$FIRST_TOWNSHIP" ;;
    get_leaderboard) echo "--figure=get_leaderboard --target=${ADDRESS[scoring]} --ids_file=$WORK/townships.txt --period=$PERIOD" ;;
  esac
}
# idle_probe <probe>: the probe alone for 5 s (about 1,000 calls).
idle_probe() {
  skipped probes && return 0
  step "idle latency: $1"
  # shellcheck disable=SC2046
  "$BENCH" $(probe_args "$1") --label="idle/$1" --connections=1 --in_flight=1 \
    --interval="$PROBE_INTERVAL" --warmup=0.5s --duration=5s \
    >>"$RESULTS" 2>>"$WORK/probes.log" || true
}
# probes_start <phase> / probes_stop: every probe of $PROBES in the
# background for as long as the phase runs.
probes_start() {
  skipped probes && return 0
  local probe
  PROBE_PIDS=()
  for probe in $PROBES; do
    # shellcheck disable=SC2046
    "$BENCH" $(probe_args "$probe") --label="$1/$probe" --connections=1 \
      --in_flight=1 --interval="$PROBE_INTERVAL" --warmup=0s --duration=24h \
      --until_signal >>"$RESULTS" 2>>"$WORK/probes.log" &
    PROBE_PIDS+=($!)
  done
  sleep 0.5  # the probes' channels connected before the load starts
}
probes_stop() {
  local pid
  for pid in "${PROBE_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PROBE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PROBE_PIDS=()
}
for probe in $PROBES; do idle_probe "$probe"; done

# load <name> <service> <command...>: one load on the current stack, timed,
# with the probes, its raw SQLite reference over <service>'s database, RSS
# and Redis latency.
load() {
  local name="$1" service="$2" start_ns seconds reference='null' boards='null'
  shift 2
  mkdir -p "$WORK/ref"
  if ! skipped loads-reference; then
    sqlite3 "$(database "$service")" ".backup '$WORK/ref/before.db'"
  fi
  redis LATENCY RESET >/dev/null
  probes_start "$name"
  step "load: $name ($STACK)"
  start_ns="$(now_ns)"
  "$@" >"$WORK/$STACK/$name.out"
  seconds="$(seconds_since "$start_ns")"
  probes_stop
  local memory redis_ms
  memory="$(rss)"
  redis_ms="$(redis_latency)"
  if ! skipped loads-reference; then
    step "raw SQLite reference of $name"
    sqlite3 "$(database "$service")" ".backup '$WORK/ref/after.db'"
    reference="$("$ROOT/tools/bench/sqlite_reference.sh" "$WORK/ref/before.db" \
      "$WORK/ref/after.db" "$WORK/ref/work")"
    if [[ "$service" == scoring ]]; then
      step "raw Redis reference of $name (redis-cli --pipe)"
      local counts pipe_ns
      counts="$(/usr/bin/python3 "$ROOT/tools/bench/board_reference.py" \
        --port="$REDIS_PORT" --out="$WORK/ref/boards.resp")"
      pipe_ns="$(now_ns)"
      redis --pipe <"$WORK/ref/boards.resp" >"$WORK/ref/pipe.out"
      boards="{\"seconds\":$(seconds_since "$pipe_ns"),\"counts\":$counts}"
      /usr/bin/python3 "$ROOT/tools/bench/board_reference.py" \
        --port="$REDIS_PORT" --cleanup >/dev/null
    fi
    rm -f "$WORK/ref/"*.db "$WORK/ref/boards.resp"
  fi
  printf '{"kind":"load","load":"%s","service":"%s","engine":"%s","seconds":%s,"reference":%s,"boards_reference":%s,"rss":%s,%s}\n' \
    "$name" "$service" "$STACK" "$seconds" "$reference" "$boards" "$memory" \
    "$redis_ms" >>"$RESULTS"
}

# Each load on every engine's stack in turn (the usual run has one).
each_engine load import-registry registry fivestar import-registry "$DATA/registry.ndjson"
PROBES+=" get_village"
idle_probe get_village
each_engine load import-projects projects fivestar import-projects "$DATA/projects.ndjson"
each_engine load set-indicators projects fivestar set-indicators "$DATA/indicators.ndjson"
PROBES+=" get_project"
idle_probe get_project
# evaluate_roots: evaluates every root region in turn, as an operator would.
evaluate_roots() {
  local root
  while read -r root; do
    fivestar evaluate-region "$root" "$PERIOD" || return 1
  done <"$WORK/roots.txt"
}
each_engine load evaluate-region scoring evaluate_roots
PROBES+=" get_leaderboard"
idle_probe get_leaderboard

# run <figure> <address> <label> [fivestar-bench flags]: one JSON line.
run() {
  local figure="$1" address="$2" label="$3"
  shift 3
  "$BENCH" --figure="$figure" --target="$address" --label="$label" \
    --connections="$CONNECTIONS" --in_flight="$IN_FLIGHT" \
    --warmup="$WARMUP" --duration="$DURATION" "$@" >>"$RESULTS" ||
    true  # an invalid figure is reported in the table
}

# --- Region summaries, one call at a time, against a Ping's p50.
if ! skipped summaries; then
  step "region summaries: a Ping's p50, then the province and the counties"
  "$BENCH" --figure=ping --target="${ADDRESS[ping]}" --label=summaries/ping \
    --connections=1 --in_flight=1 --warmup=0.5s --duration=3s >>"$RESULTS" || true
  probes_start province-summary
  "$BENCH" --figure=get_summary --target="${ADDRESS[projects]}" \
    --label=summaries/province --ids_file="$WORK/root" --period="$PERIOD" \
    --connections=1 --in_flight=1 --warmup=0s --duration=15s >>"$RESULTS" || true
  probes_stop
  "$BENCH" --figure=get_summary --target="${ADDRESS[projects]}" \
    --label=summaries/county --ids_file="$WORK/counties.txt" --period="$PERIOD" \
    --connections=1 --in_flight=1 --warmup=0.5s --duration=5s >>"$RESULTS" || true
fi

# --- Start-up on the loaded databases; scoring re-syncs an emptied Redis.
if ! skipped startup; then
  for name in registry projects; do
    step "start-up: $name"
    stop "$name"
    since="$(now_ns)"
    start "$name"
    wait_serving "$name" "$since" "startup/$name"
  done
  step "start-up: scoring, with Redis emptied (a re-sync of every board)"
  stop scoring
  boards_before="$(redis DBSIZE)"
  redis FLUSHALL >/dev/null
  redis LATENCY RESET >/dev/null
  since="$(now_ns)"
  start scoring
  wait_serving scoring "$since" "startup/scoring"
  resync=""
  for _ in $(seq 1 1200); do
    if [[ "$(redis DBSIZE)" -ge "$boards_before" ]]; then
      resync="$(seconds_since "$since")"
      break
    fi
    sleep 0.1
  done
  printf '{"kind":"resync","keys":%s,"seconds":%s,%s,"rss":%s}\n' \
    "$boards_before" "${resync:-null}" "$(redis_latency)" "$(rss)" >>"$RESULTS"
fi

# --- The figures under load, each beside Ping in the same repetition; or,
# comparing engines, each repetition on every engine in turn.
# figure_args <figure>: sets args to the current stack's target address of
# the figure, then its fivestar-bench flags.
figure_args() {
  case "$1" in
    get_village) args=("${ADDRESS[registry]}" --ids_file="$WORK/villages.txt") ;;
    list_villages) args=("${ADDRESS[registry]}" --ids_file="$WORK/townships.txt") ;;
    get_project|create_progress_report)
      args=("${ADDRESS[projects]}" --discover_under="$ROOT_REGION") ;;
    get_summary) args=("${ADDRESS[projects]}" --ids_file="$WORK/townships.txt" --period="$PERIOD") ;;
    get_leaderboard) args=("${ADDRESS[scoring]}" --ids_file="$WORK/townships.txt" --period="$PERIOD") ;;
    get_village_rank) args=("${ADDRESS[scoring]}" --ids_file="$WORK/villages.txt" --period="$PERIOD") ;;
    *) echo "bench.sh: --figures: unknown figure \"$1\"" >&2; exit 2 ;;
  esac
}
# run_on_stack <figure> <repetition>: the figure on the current stack,
# labelled <figure>/<repetition>/<engine>.
run_on_stack() {
  figure_args "$1"
  run "$1" "${args[0]}" "$1/$2/$STACK" "${args[@]:1}"
}
if ! skipped figures; then
  IFS=, read -r -a figures <<<"$FIGURES"
  for figure in "${figures[@]}"; do
    figure_args "$figure"  # an unknown figure stops the run here
    for rep in $(seq 1 "$REPEAT"); do
      if [[ -n "$COMPARE" ]]; then
        step "$figure, repetition $rep of $REPEAT (${ENGINES[*]})"
        each_engine run_on_stack "$figure" "$rep"
      else
        step "$figure, repetition $rep of $REPEAT (beside Ping)"
        run ping "${ADDRESS[ping]}" "$figure/$rep"
        run "$figure" "${args[0]}" "$figure/$rep" "${args[@]:1}"
      fi
    done
  done
fi

# --- h2load's second opinion: the same reads, pre-framed request bodies.
if ! skipped h2load; then
  # body <proto file> <message> <text format>: a gRPC frame (uncompressed,
  # 4-byte big-endian length) around the message.
  body() {
    local out="$WORK/h2load-$2.bin"
    protoc -I "$ROOT/protos" -I "$ROOT/tools/bench" -I /usr/include \
      --encode="$2" "$1" <<<"$3" >"$WORK/message.bin"
    /usr/bin/python3 -c 'import sys, struct; m = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(b"\0" + struct.pack(">I", len(m)) + m)' \
      "$WORK/message.bin" "$out"
    echo "$out"
  }
  VILLAGE="$(sed -n 1p "$WORK/villages.txt")"
  declare -A H2_BODY=(
    [ping]="$(body bench_ping.proto fivestar.bench.v1.PingRequest '')"
    [get_village]="$(body fivestar/registry/v1/registry.proto fivestar.registry.v1.GetVillageRequest "id: \"$VILLAGE\"")"
    [get_leaderboard]="$(body fivestar/scoring/v1/scoring.proto fivestar.scoring.v1.GetLeaderboardRequest "region_id: \"$FIRST_TOWNSHIP\" period: \"$PERIOD\" page_size: 10")"
    [get_village_rank]="$(body fivestar/scoring/v1/scoring.proto fivestar.scoring.v1.GetVillageRankRequest "village_id: \"$VILLAGE\" period: \"$PERIOD\"")"
  )
  declare -A H2_PATH=(
    [ping]="${ADDRESS[ping]}/fivestar.bench.v1.PingService/Ping"
    [get_village]="${ADDRESS[registry]}/fivestar.registry.v1.RegistryService/GetVillage"
    [get_leaderboard]="${ADDRESS[scoring]}/fivestar.scoring.v1.ScoringService/GetLeaderboard"
    [get_village_rank]="${ADDRESS[scoring]}/fivestar.scoring.v1.ScoringService/GetVillageRank"
  )
  # milliseconds <duration>: "5s", "1.5s" or "500ms" as whole milliseconds,
  # the unit h2load takes.
  milliseconds() {
    awk -v d="$1" 'BEGIN { if (d ~ /ms$/) print int(d); else print int(d * 1000) }'
  }
  h2() {
    local figure="$1" label="$2" output
    output="$(h2load -c "$CONNECTIONS" -m "$IN_FLIGHT" -t 1 \
      -D "$(milliseconds "$DURATION")ms" \
      --warm-up-time="$(milliseconds "$WARMUP")ms" \
      -H 'content-type: application/grpc' -H 'te: trailers' \
      -H "authorization: Bearer $FIVESTAR_TOKEN" \
      -d "${H2_BODY[$figure]}" "http://${H2_PATH[$figure]}" 2>&1)" || true
    printf '%s\n' "$output" >"$WORK/h2load.out"
    /usr/bin/python3 - "$figure" "$label" "$WORK/h2load.out" >>"$RESULTS" <<'PY' || true
import json, re, sys
text = open(sys.argv[3]).read()
rate = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text)
done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", text)
mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", text)
print(json.dumps({"kind": "h2load", "figure": sys.argv[1], "label": sys.argv[2],
                  "calls_per_s": float(rate.group(1)) if rate else 0,
                  "succeeded": int(done.group(2)) if done else 0,
                  "failed": int(done.group(3)) if done else -1,
                  "mean": mean.group(1) if mean else "",
                  "output": "" if rate else text[-400:]}))
PY
  }
  # h2load sees HTTP/2 only, and a gRPC error also arrives with HTTP status
  # 200: each body is first sent once through a gRPC client, which must
  # answer OK.
  for figure in ping get_village get_leaderboard get_village_rank; do
    /usr/bin/python3 - "${H2_PATH[$figure]}" "${H2_BODY[$figure]}" <<'PY'
import os, sys, grpc
address, _, method = sys.argv[1].partition("/")
message = open(sys.argv[2], "rb").read()[5:]
call = grpc.insecure_channel(address).unary_unary("/" + method)
call(message, timeout=10,
     metadata=[("authorization", "Bearer " + os.environ["FIVESTAR_TOKEN"])])
PY
  done
  for figure in get_village get_leaderboard get_village_rank; do
    for rep in $(seq 1 "$REPEAT"); do
      step "h2load: $figure, repetition $rep of $REPEAT (beside Ping)"
      h2 ping "$figure/$rep"
      h2 "$figure" "$figure/$rep"
    done
  done
fi

DIRTY=""
git -C "$ROOT" diff --quiet HEAD -- . ':!BENCHMARKS*' || DIRTY=" (with uncommitted changes)"
# The run's context first, then its measurements, beside the table.
MEASUREMENTS="${OUT%.md}.ndjson"
{
  /usr/bin/python3 - <<PY
import json
print(json.dumps({"kind": "context", "command": """$COMMAND""",
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "commit": "$(git -C "$ROOT" rev-parse --short HEAD)$DIRTY",
  "build": "$BUILD_TYPE (${BUILD_DIR#"$ROOT"/})",
  "machine": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r), load average at start $LOADAVG",
  "data": "tools/datagen/generate.py --scale=$SCALE --seed=1; period $PERIOD",
  "scale": "$SCALE", "connections": $CONNECTIONS, "in_flight": $IN_FLIGHT,
  "warmup": "$WARMUP", "duration": "$DURATION", "repeat": $REPEAT,
  "figures": "$FIGURES", "board_near_cache_entries": $NEAR_CACHE,
  "summary_cache_villages": ${SUMMARY_CACHE:-None},
  "engines": "$ENGINES_FLAG", "storage": "$STORAGE"},
  ensure_ascii=False))
PY
  cat "$RESULTS"
} >"$MEASUREMENTS"
REPORT_ARGS=(--results="$MEASUREMENTS")
for include in "${INCLUDES[@]}"; do REPORT_ARGS+=(--results="$include"); done
[[ -z "$NOTES" || ! -f "$NOTES" ]] || REPORT_ARGS+=(--notes="$NOTES")
/usr/bin/python3 "$ROOT/tools/bench/report.py" "${REPORT_ARGS[@]}" --out="$OUT"
