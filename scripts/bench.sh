#!/usr/bin/env bash
# The benchmark of issue 10, in one command (not part of the test command):
# builds a Release build in its own directory, generates the data set,
# starts redis-server, the three services and the Ping reference server
# (fivestar-bench serve-ping) on free loopback ports with authentication on,
# loads the data through the CLI's imports, evaluates the root region for the
# data's month, then runs every figure with fivestar-bench beside a Ping run
# in the same repetition, each repeated --repeat times, and writes
# BENCHMARKS.md: the machine, the command, the date and commit, and per
# figure calls/s, p50, p99, Ping's calls/s and the ratio (min/median/max)
# against the issue's goal.
#
# Usage: scripts/bench.sh [--scale=small] [--duration=5s] [--warmup=1s]
#          [--connections=4] [--in_flight=16] [--repeat=3]
#          [--figures=get_village,...] [--out=BENCHMARKS.md]
#   --scale     the generator's scale (small, province, national); without
#               tools/datagen/generate.py the Huiche township (data/huiche)
#   BUILD_DIR   the build directory (default build-release, Release)
#   JOBS        parallel compile jobs (default: the number of cores)
#   FIVESTAR_BENCH_NO_BUILD=1 uses the binaries already in BUILD_DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMAND="scripts/bench.sh${*:+ $*}"
SCALE=small
DURATION=5s
WARMUP=1s
CONNECTIONS=4
IN_FLIGHT=16
REPEAT=3
FIGURES=get_village,get_project,list_villages,get_summary,get_leaderboard,get_village_rank,create_progress_report
OUT="$ROOT/BENCHMARKS.md"
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
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench.sh: --repeat: must be a positive integer, got \"$REPEAT\"" >&2
  exit 2
fi

# What the build, redis-server and the generator's python3 need.
"$ROOT/scripts/install-deps.sh"

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
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '==> %s\n' "$*" >&2; }
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
if [[ -f "$ROOT/tools/datagen/generate.py" ]]; then
  step "generating data: --scale=$SCALE --seed=1"
  /usr/bin/python3 "$ROOT/tools/datagen/generate.py" --scale="$SCALE" \
    --seed=1 --out="$WORK/data"
  DATA="$WORK/data"
  DATA_NOTE="tools/datagen/generate.py --scale=$SCALE --seed=1"
else
  step "tools/datagen/generate.py is missing: using data/huiche"
  DATA="$ROOT/data/huiche"
  DATA_NOTE="data/huiche (the Huiche township; tools/datagen/generate.py missing, --scale ignored)"
fi
# Target lists and the data's month, read from the import files.
/usr/bin/python3 - "$DATA" "$WORK" <<'PY'
import json, sys
data, work = sys.argv[1], sys.argv[2]
roots, townships, villages, periods = [], [], [], set()
with open(f"{data}/registry.ndjson", encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        record = json.loads(line)
        if "region" in record:
            region = record["region"]
            if not region.get("parent_id"):
                roots.append(region["id"])
            if region.get("kind") == "TOWNSHIP":
                townships.append(region["id"])
        elif "village" in record:
            villages.append(record["village"]["id"])
with open(f"{data}/indicators.ndjson", encoding="utf-8") as f:
    for line in f:
        if line.strip():
            periods.add(json.loads(line)["period"])
if len(roots) != 1 or not townships or not villages or not periods:
    sys.exit("bench.sh: the data needs one root region, townships, villages "
             "and indicator periods")
open(f"{work}/root", "w").write(roots[0] + "\n")
open(f"{work}/period", "w").write(max(periods) + "\n")
open(f"{work}/townships.txt", "w").write("\n".join(townships) + "\n")
open(f"{work}/villages.txt", "w").write("\n".join(villages) + "\n")
print(f"{len(villages)} villages, {len(townships)} townships, "
      f"root {roots[0]}, period {max(periods)}", file=sys.stderr)
PY
ROOT_REGION="$(cat "$WORK/root")"
PERIOD="$(cat "$WORK/period")"

# Tokens: an admin for the load and the imports (every server knows it),
# and a global viewer the services present to their peers.
"$CLI" new-token admin '*' bench-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' bench-peer >"$WORK/peer-token"
export FIVESTAR_TOKEN="$(sed -n 1p "$WORK/admin-token")"
PEER_TOKEN="$(sed -n 1p "$WORK/peer-token")"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/peer-token"; } >"$WORK/tokens"

REGISTRY="127.0.0.1:$(free_port)"
PROJECTS="127.0.0.1:$(free_port)"
SCORING="127.0.0.1:$(free_port)"
PING="127.0.0.1:$(free_port)"
REDIS_PORT="$(free_port)"
fivestar() {
  "$CLI" --registry="$REGISTRY" --projects="$PROJECTS" --scoring="$SCORING" "$@"
}
# serve <name> <address> <health service> <command...>
serve() {
  local name="$1" address="$2" service="$3"
  shift 3
  "$@" --host=127.0.0.1 --port="${address##*:}" --metrics_port=0 \
    --tokens_file="$WORK/tokens" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  if ! fivestar health --wait=30s "$address" "$service" >/dev/null; then
    echo "bench.sh: $name did not turn SERVING; its log:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
  fi
}

step "starting redis-server, the services and the Ping reference"
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
serve registry "$REGISTRY" fivestar.registry.v1.RegistryService \
  "$BUILD_DIR/services/registry/fivestar-registry" --database="$WORK/registry.db"
FIVESTAR_REGISTRY_TOKEN="$PEER_TOKEN" serve projects "$PROJECTS" \
  fivestar.projects.v1.ProjectsService \
  "$BUILD_DIR/services/projects/fivestar-projects" --database="$WORK/projects.db" \
  --registry="$REGISTRY"
FIVESTAR_REGISTRY_TOKEN="$PEER_TOKEN" FIVESTAR_PROJECTS_TOKEN="$PEER_TOKEN" \
  serve scoring "$SCORING" fivestar.scoring.v1.ScoringService \
  "$BUILD_DIR/services/scoring/fivestar-scoring" --database="$WORK/scoring.db" \
  --registry="$REGISTRY" --projects="$PROJECTS" --redis="127.0.0.1:$REDIS_PORT"
serve ping "$PING" fivestar.bench.v1.PingService "$BENCH" serve-ping

step "loading the data through the CLI's imports"
fivestar import-registry "$DATA/registry.ndjson" >/dev/null
fivestar import-projects "$DATA/projects.ndjson" >/dev/null
fivestar set-indicators "$DATA/indicators.ndjson" >/dev/null
step "evaluating $ROOT_REGION for $PERIOD (the leaderboards)"
fivestar evaluate-region "$ROOT_REGION" "$PERIOD" >/dev/null

# run <figure> <address> <repetition> [fivestar-bench flags]: one JSON line.
run() {
  local figure="$1" address="$2" rep="$3"
  shift 3
  "$BENCH" --figure="$figure" --target="$address" --label="$rep" \
    --connections="$CONNECTIONS" --in_flight="$IN_FLIGHT" \
    --warmup="$WARMUP" --duration="$DURATION" "$@" >>"$WORK/results.ndjson" ||
    true  # an invalid figure is reported in the table
}
: >"$WORK/results.ndjson"
IFS=, read -r -a figures <<<"$FIGURES"
for figure in "${figures[@]}"; do
  case "$figure" in
    get_village) args=("$REGISTRY" --ids_file="$WORK/villages.txt") ;;
    list_villages) args=("$REGISTRY" --ids_file="$WORK/townships.txt") ;;
    get_project|create_progress_report)
      args=("$PROJECTS" --discover_under="$ROOT_REGION") ;;
    get_summary) args=("$PROJECTS" --ids_file="$WORK/townships.txt" --period="$PERIOD") ;;
    get_leaderboard) args=("$SCORING" --ids_file="$WORK/townships.txt" --period="$PERIOD") ;;
    get_village_rank) args=("$SCORING" --ids_file="$WORK/villages.txt" --period="$PERIOD") ;;
    *) echo "bench.sh: --figures: unknown figure \"$figure\"" >&2; exit 2 ;;
  esac
  for rep in $(seq 1 "$REPEAT"); do
    step "$figure, repetition $rep of $REPEAT (beside Ping)"
    run ping "$PING" "$figure/$rep"
    run "$figure" "${args[0]}" "$figure/$rep" "${args[@]:1}"
  done
done

DIRTY=""
PRELIMINARY=""
if [[ "$BUILD_TYPE" != Release || "$DATA" == "$ROOT/data/huiche" ]]; then
  PRELIMINARY="
**Preliminary**: not the issue's figures (a $BUILD_TYPE build, and/or the
Huiche township instead of a generated province); run
\`scripts/bench.sh --scale=province\` for those."
fi
git -C "$ROOT" diff --quiet HEAD -- . ':!BENCHMARKS.md' || DIRTY=" (with uncommitted changes)"
cat >"$WORK/header.md" <<MD
# Benchmarks

Written by \`scripts/bench.sh\` (see README.md, "Benchmarks"; issue 10).
Every figure is a ratio against the Ping reference (\`fivestar-bench
serve-ping\`: the same ServerHost, executor and authentication as the
services, an empty handler) measured in the same repetition, just before
the figure; $REPEAT repetitions, ratio min / median / max. calls/s, p50
and p99 are the medians over the repetitions; Ping calls/s is listed per
repetition. Any failed call (warm-up included) makes a figure invalid.

- Command: \`$COMMAND\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Commit: $(git -C "$ROOT" rev-parse --short HEAD)$DIRTY
- Build: $BUILD_TYPE (${BUILD_DIR#"$ROOT"/})
- Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, Linux $(uname -r), load average at start $LOADAVG
- Data: $DATA_NOTE; period $PERIOD
- Load: $CONNECTIONS connections × $IN_FLIGHT calls in flight, warm-up $WARMUP, $DURATION measured per run
$PRELIMINARY

| figure | calls/s | p50 | p99 | Ping calls/s (per repetition) | ratio to Ping (min / median / max) | goal (issue 10) |
|---|---|---|---|---|---|---|
MD
/usr/bin/python3 - "$WORK/results.ndjson" "$OUT" "$WORK/header.md" "$FIGURES" "$REPEAT" <<'PY'
import json, statistics, sys
results = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
goals = {
    "get_village": (0.85, "≥ 0.85 × Ping"),
    "get_project": (0.85, "≥ 0.85 × Ping"),
    "list_villages": (0.5, "≥ 0.5 × Ping (page 100, township)"),
    "get_summary": (0.5, "≥ 0.5 × Ping (township)"),
    "create_progress_report": (0.5, "≥ 0.5 × Ping, durability unchanged"),
    "get_leaderboard": (0.9, "≥ 0.9 × Ping (top 10)"),
    "get_village_rank": (0.9, "≥ 0.9 × Ping"),
}
by_label = {}
for r in results:
    by_label.setdefault(r["label"], {})[r["figure"]] = r
rows = []
for figure in sys.argv[4].split(","):
    reps = [by_label.get(f"{figure}/{i}", {}) for i in range(1, int(sys.argv[5]) + 1)]
    reps = [(x.get(figure), x.get("ping")) for x in reps]
    reps = [(f, p) for f, p in reps if f and p]
    if not reps:
        rows.append(f"| {figure} | not run | | | | | {goals[figure][1]} |")
        continue
    invalid = [f for f, p in reps if not f["valid"]] + [p for f, p in reps if not p["valid"]]
    ratios = sorted(f["calls_per_s"] / p["calls_per_s"] if p["calls_per_s"] else 0 for f, p in reps)
    med = lambda xs: statistics.median(xs)
    cps = med([f["calls_per_s"] for f, p in reps])
    p50 = med([f["p50_us"] for f, p in reps])
    p99 = med([f["p99_us"] for f, p in reps])
    ping = ", ".join(f"{p['calls_per_s']:.0f}" for f, p in reps)
    goal, goal_text = goals[figure]
    verdict = "holds" if ratios[0] >= goal else f"misses ({med(ratios) / goal:.2f} of the goal at the median)"
    note = ""
    if invalid:
        errors = {}
        for x in invalid:
            for code, n in x["errors"].items():
                errors[code] = errors.get(code, 0) + n
        first = next((x["first_error"] for x in invalid if x["first_error"]), "no calls")
        warmup = sum(x["warmup_errors"] for x in invalid)
        note = (f" **INVALID**: errors {errors} ({warmup} in the warm-up); "
                f"first: {first}")
        verdict = "invalid"
    rows.append(
        f"| {figure} | {cps:.0f} | {p50:.0f} µs | {p99:.0f} µs | {ping} | "
        f"{ratios[0]:.3f} / {med(ratios):.3f} / {ratios[-1]:.3f} | "
        f"{goal_text}: {verdict}{note} |")
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(open(sys.argv[3], encoding="utf-8").read())
    out.write("\n".join(rows) + "\n")
print(open(sys.argv[2], encoding="utf-8").read())
PY
