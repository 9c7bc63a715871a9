#!/usr/bin/env bash
# tools/datagen/generate.py at the small scale: the same seed twice gives
# byte-identical files, another seed different ones; the counts are the
# documented ones and agree with the files; and real fivestar-registry and
# fivestar-projects servers accept all three files through the CLI's
# import-registry, import-projects and set-indicators, with exactly the
# generated counts created (and nothing changed by a second import; a
# value set again in later batches ends with the last one in the file), and
# the province's 2022-09 task summary matching what was generated; and
# scoring's evaluation of 2022-09 under the default rubric gives every
# village exactly the stars the generator meant it to earn.
# Usage: datagen_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
REGISTRY_SERVER="$BUILD_DIR/services/registry/fivestar-registry"
SCORING_SERVER="$BUILD_DIR/services/scoring/fivestar-scoring"
PROJECTS_SERVER="$BUILD_DIR/services/projects/fivestar-projects"
GENERATE="$ROOT/tools/datagen/generate.py"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The servers besides the registry (PID), stopped at exit, scoring first.
EXTRA_PIDS=()
stop_extra() {
  local i pid
  for ((i = ${#EXTRA_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${EXTRA_PIDS[$i]}"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap 'stop_extra; cleanup' EXIT
fail() {
  echo "datagen_check: $*" >&2
  for log in "$WORK"/*.log; do
    [[ -f "$log" ]] && { echo "--- $log" >&2; cat "$log" >&2; }
  done
  exit 1
}
# summary <file> <key>: a value of the generator's summary.
summary() { sed -n "s/^$2: //p" "$1"; }
digest() { (cd "$1" && sha256sum registry.ndjson projects.ndjson indicators.ndjson); }

generate() {  # generate <seed> <dir>
  /usr/bin/python3 "$GENERATE" --scale=small --seed="$1" --out="$2" \
    >"$2.summary" 2>"$2.stderr" || fail "generate --seed=$1 failed: $(cat "$2.stderr")"
}
generate 1 "$WORK/a"
generate 1 "$WORK/b"
generate 2 "$WORK/c"
[[ "$(digest "$WORK/a")" == "$(digest "$WORK/b")" ]] ||
  fail "the same seed gave different files: $(digest "$WORK/a"; digest "$WORK/b")"
cmp -s "$WORK/a.summary" "$WORK/b.summary" || fail "the same seed gave different summaries"
for file in registry projects indicators; do
  if cmp -s "$WORK/a/$file.ndjson" "$WORK/c/$file.ndjson"; then
    fail "seeds 1 and 2 gave the same $file.ndjson"
  fi
done

# The documented small scale.
S="$WORK/a.summary"
expect_summary() {  # expect_summary <key> <value>
  [[ "$(summary "$S" "$1")" == "$2" ]] || fail "summary $1: want $2, got $(summary "$S" "$1")"
}
expect_summary provinces 1
expect_summary cities 2
expect_summary counties 4
expect_summary townships 20
expect_summary regions 27
expect_summary villages 400
expect_summary registry_records 427
expect_summary projects 2000
expect_summary indicator_values 6800
REPORTS="$(summary "$S" reports)"
DELIVERED="$(summary "$S" projects_delivered)"
count() { grep -c "$1" "$2" || true; }
D="$WORK/a"
[[ "$(count '"kind": "PROVINCE"' "$D/registry.ndjson")" == 1 ]] || fail "want 1 province"
[[ "$(count '"kind": "CITY"' "$D/registry.ndjson")" == 2 ]] || fail "want 2 cities"
[[ "$(count '"kind": "COUNTY"' "$D/registry.ndjson")" == 4 ]] || fail "want 4 counties"
[[ "$(count '"kind": "TOWNSHIP"' "$D/registry.ndjson")" == 20 ]] || fail "want 20 townships"
[[ "$(count '^{"village"' "$D/registry.ndjson")" == 400 ]] || fail "want 400 villages"
[[ "$(wc -l <"$D/projects.ndjson")" == 2000 ]] || fail "want 2000 project lines"
[[ "$(grep -o '"request_id"' "$D/projects.ndjson" | wc -l)" == "$REPORTS" ]] ||
  fail "want $REPORTS reports in projects.ndjson"
[[ "$(wc -l <"$D/indicators.ndjson")" == 6800 ]] || fail "want 6800 indicator lines"
# Villages earn different numbers of stars: every level 0-5 is intended.
stars="$(summary "$S" intended_stars)"
for n in 0 1 2 3 4 5; do
  [[ "$stars" =~ \"$n\":\ [1-9] ]] || fail "no village meant to earn $n stars: $stars"
done

# Real servers: the registry, and project tracking reading it as a viewer.
"$CLI" new-token admin '*' datagen-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' projects-service >"$WORK/projects-token"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/projects-token"; } >"$WORK/registry-tokens"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/projects-token"; } >"$WORK/projects-tokens"
sed -n 2p "$WORK/admin-token" >"$WORK/scoring-tokens"
FIVESTAR_TOKEN="$(sed -n 1p "$WORK/admin-token")"
export FIVESTAR_TOKEN
REGISTRY_PORT="$(free_port)"
PROJECTS_PORT="$(free_port)"
while [[ "$PROJECTS_PORT" == "$REGISTRY_PORT" ]]; do PROJECTS_PORT="$(free_port)"; done
REGISTRY="127.0.0.1:$REGISTRY_PORT"
PROJECTS="127.0.0.1:$PROJECTS_PORT"
"$REGISTRY_SERVER" --host=127.0.0.1 --port="$REGISTRY_PORT" --metrics_port=-1 \
  --tokens_file="$WORK/registry-tokens" --database="$WORK/registry.db" \
  >"$WORK/registry.log" 2>&1 &
PID=$!
FIVESTAR_REGISTRY_TOKEN="$(sed -n 1p "$WORK/projects-token")" \
  "$PROJECTS_SERVER" --host=127.0.0.1 --port="$PROJECTS_PORT" --metrics_port=-1 \
  --tokens_file="$WORK/projects-tokens" --database="$WORK/projects.db" \
  --registry="$REGISTRY" >"$WORK/projects.log" 2>&1 &
PROJECTS_PID=$!
EXTRA_PIDS+=("$PROJECTS_PID")
SCORING=""
fivestar() {
  "$CLI" --registry="$REGISTRY" --projects="$PROJECTS" ${SCORING:+--scoring="$SCORING"} "$@"
}
wait_serving() {  # wait_serving <pid> <address> <service>
  for _ in $(seq 1 150); do
    fivestar --deadline=1s health "$2" "$3" >/dev/null 2>&1 && return
    kill -0 "$1" 2>/dev/null || fail "the server for $3 exited"
    sleep 0.1
  done
  fail "$3 did not serve on $2 within 15 s"
}
wait_serving "$PID" "$REGISTRY" fivestar.registry.v1.RegistryService
wait_serving "$PROJECTS_PID" "$PROJECTS" fivestar.projects.v1.ProjectsService

run() {  # run <expected stdout> <command...>: exit 0 and exactly that output
  local want="$1" got
  shift
  got="$(fivestar "$@" 2>"$WORK/stderr")" ||
    fail "fivestar $* failed: $got $(cat "$WORK/stderr")"
  [[ "$got" == "$want" ]] || fail "fivestar $*: want \"$want\", got \"$got\""
}
run "created 427, updated 0, unchanged 0" import-registry "$D/registry.ndjson"
run "projects: created 2000, updated 0, unchanged 0; reports: created $REPORTS, unchanged 0" \
  import-projects "$D/projects.ndjson"
run "6800 values set: created 6800, updated 0, unchanged 0" set-indicators "$D/indicators.ndjson"
# A key set again in later batches (the CLI sends 1,000 values a call, two
# calls in flight, and holds back a batch that shares a key with one in
# flight) ends with its last value in the file: lines 1, 1001 and 2001 set
# the same value to v, v+1, v+2. (Whether a reordering would show here
# depends on timing, so this checks the counts and the outcome; the
# hold-back itself is tests/cli/ordered_batches_test.)
/usr/bin/python3 - "$D/indicators.ndjson" "$WORK/again.ndjson" "$WORK/last.ndjson" <<'PY'
import json, sys
# From the second line on, so that no batch repeats one sent before (a
# repeated batch is answered with its first answer).
lines = open(sys.argv[1]).read().splitlines()[1:2002]
first = json.loads(lines[0])
for line, step in ((1000, 1), (2000, 2)):
    lines[line] = json.dumps(dict(first, value=first["value"] + step))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
open(sys.argv[3], "w").write(lines[2000] + "\n")
PY
run "2001 values set: created 0, updated 2, unchanged 1999" set-indicators "$WORK/again.ndjson"
run "1 values set: created 0, updated 0, unchanged 1" set-indicators "$WORK/last.ndjson"
# Keyed data: importing it again changes nothing.
run "created 0, updated 0, unchanged 427" import-registry "$D/registry.ndjson"
run "projects: created 0, updated 0, unchanged 2000; reports: created 0, unchanged $REPORTS" \
  import-projects "$D/projects.ndjson"

# The server's view of the tasks is the generated one.
fivestar project-summary --period=2022-09 410000 >"$WORK/summary.out" 2>&1 ||
  fail "project-summary failed: $(cat "$WORK/summary.out")"
grep -q "2000 total, $DELIVERED delivered" "$WORK/summary.out" ||
  fail "want 2000 tasks, $DELIVERED delivered: $(cat "$WORK/summary.out")"
# Scoring with the default rubric: every village earns exactly the stars
# the generator meant it to (the summary's distributions).
REDIS_PORT="$(free_port)"
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
EXTRA_PIDS+=("$!")
SCORING_PORT="$(free_port)"
while [[ "$SCORING_PORT" == "$REGISTRY_PORT" || "$SCORING_PORT" == "$PROJECTS_PORT" ||
         "$SCORING_PORT" == "$REDIS_PORT" ]]; do SCORING_PORT="$(free_port)"; done
for _ in $(seq 1 50); do
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
VIEWER_TOKEN="$(sed -n 1p "$WORK/projects-token")"
FIVESTAR_REGISTRY_TOKEN="$VIEWER_TOKEN" FIVESTAR_PROJECTS_TOKEN="$VIEWER_TOKEN" \
  "$SCORING_SERVER" --host=127.0.0.1 --port="$SCORING_PORT" --metrics_port=-1 \
  --tokens_file="$WORK/scoring-tokens" --database="$WORK/scoring.db" \
  --registry="$REGISTRY" --projects="$PROJECTS" --redis="127.0.0.1:$REDIS_PORT" \
  >"$WORK/scoring.log" 2>&1 &
SCORING_PID=$!
EXTRA_PIDS+=("$SCORING_PID")
wait_serving "$SCORING_PID" "127.0.0.1:$SCORING_PORT" fivestar.scoring.v1.ScoringService
SCORING="127.0.0.1:$SCORING_PORT"
fivestar --output=json evaluate-region --per_village 410000 2022-09 \
  >"$WORK/evaluations.json" 2>"$WORK/stderr" ||
  fail "evaluate-region failed: $(cat "$WORK/stderr")"
earned="$(/usr/bin/python3 - "$WORK/evaluations.json" <<'PY'
import collections, json, sys
levels, stars = collections.Counter(), collections.Counter()
for line in open(sys.argv[1], encoding="utf-8"):
    for e in json.loads(line).get("evaluations", []):
        levels[str(e.get("stars_earned", 0))] += 1
        for s in e.get("stars", []):
            stars[s["star"]] += bool(s.get("earned"))
print(json.dumps({n: levels[n] for n in map(str, range(6))}))
print(json.dumps({s: stars[s] for s in ("BRANCH_STRONG", "INDUSTRY_THRIVING",
                                        "ECO_LIVABLE", "SAFE_LAWFUL",
                                        "CIVILIZED_HAPPY")}))
PY
)"
[[ "$(sed -n 1p <<<"$earned")" == "$(summary "$S" intended_stars)" ]] ||
  fail "stars earned per village $(sed -n 1p <<<"$earned"), intended $(summary "$S" intended_stars)"
[[ "$(sed -n 2p <<<"$earned")" == "$(summary "$S" intended_per_star)" ]] ||
  fail "villages per star $(sed -n 2p <<<"$earned"), intended $(summary "$S" intended_per_star)"

echo "datagen_check: small seed 1 is reproducible ($(digest "$WORK/a" | cut -c1-12 | tr '\n' ' '))," \
  "seed 2 differs; 427 registry records, 2000 projects with $REPORTS reports" \
  "and 6800 indicator values imported into real servers; stars earned" \
  "$(summary "$S" intended_stars) as intended"
