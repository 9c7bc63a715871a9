#!/usr/bin/env bash
# The Huiche township demo, across the three services: starts the village
# registry and project tracking on free loopback ports, each with a fresh
# database and authentication on; imports the township's regions and villages (twice, to
# show the import is idempotent), its 193 practical tasks with their weekly
# progress reports, and its 2022-09 indicator values; prints the registry's
# summary of the township, the township's task summary for 2022-09 (193
# tasks, 145 delivered, 75.1 %), one line per management district and the
# five named projects of Dangziling (垱子岭). Then it starts redis-server
# (the leaderboard cache, its own temporary directory) and scoring, and
# shows 摘星: the township evaluated for
# 2022-09 (target 定星 against stars earned per village), its leaderboard,
# Dangziling's evaluation explained, stars recorded from before the system,
# an application through the award workflow up to the public notice, the
# audit trail, and a three-star village's incentives for 2022; then stops
# every server.
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
SCORING_SERVER="$BUILD_DIR/services/scoring/fivestar-scoring"
DATA="$ROOT/data/huiche"
TOWNSHIP=411323-huiche
DANGZILING=411323-huiche-west-01
PERIOD=2022-09
HUAYUAN=411323-huiche-middle-01  # 花园: target four stars
COUNTY=411323

# Install what is missing and build what the demo runs (quick when done).
# FIVESTAR_DEMO_NO_BUILD=1 skips both (the test suite runs the demo against
# binaries it has just built).
if [[ -z "${FIVESTAR_DEMO_NO_BUILD:-}" ]]; then
  "$ROOT/scripts/install-deps.sh"
  targets=(fivestar fivestar-registry fivestar-projects fivestar-scoring)
  BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/build.sh" "${targets[@]}"
fi

WORK="$(mktemp -d)"
REGISTRY_PID=""
PROJECTS_PID=""
SCORING_PID=""
REDIS_PID=""
stop_quietly() {
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop_quietly "$SCORING_PID"
  stop_quietly "$REDIS_PID"
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
# Scoring reads both peers as a global viewer. The award workflow's
# principals: Dangziling's branch applies, the township reviews (初审),
# the county approves (审核) and starts the public notice (公示).
"$CLI" new-token viewer '*' scoring-service >"$WORK/scoring-peer-token"
"$CLI" new-token operator "$DANGZILING" dangziling-branch >"$WORK/village-token"
"$CLI" new-token operator "$TOWNSHIP" huiche-township >"$WORK/township-token"
"$CLI" new-token operator "$COUNTY" xixia-county >"$WORK/county-token"
SCORING_PEER_TOKEN="$(sed -n 1p "$WORK/scoring-peer-token")"
VILLAGE_TOKEN="$(sed -n 1p "$WORK/village-token")"
TOWNSHIP_TOKEN="$(sed -n 1p "$WORK/township-token")"
COUNTY_TOKEN="$(sed -n 1p "$WORK/county-token")"
sed -n 2p "$WORK/scoring-peer-token" >>"$WORK/registry-tokens"
sed -n 2p "$WORK/scoring-peer-token" >>"$WORK/projects-tokens"
for principal in admin village township county; do
  sed -n 2p "$WORK/$principal-token"
done >"$WORK/scoring-tokens"
echo "registry and projects tokens also: viewer * scoring-service"
echo "scoring tokens: admin * demo-admin, operator $DANGZILING" \
  "dangziling-branch, operator $TOWNSHIP huiche-township, operator" \
  "$COUNTY xixia-county"

REGISTRY_PORT="$(free_port)"
PROJECTS_PORT="$(free_port)"
while [[ "$PROJECTS_PORT" == "$REGISTRY_PORT" ]]; do PROJECTS_PORT="$(free_port)"; done
REGISTRY_ADDRESS="127.0.0.1:$REGISTRY_PORT"
PROJECTS_ADDRESS="127.0.0.1:$PROJECTS_PORT"
SCORING_ADDRESS=""

# The client, pointed at the demo servers; the token travels in the
# environment, not on the command line.
fivestar() {
  fivestar_as "$TOKEN" "$@"
}
# fivestar_as <token> <command> [args]: the client as another principal.
fivestar_as() {
  local token="$1"
  shift
  FIVESTAR_TOKEN="$token" "$CLI" --registry="$REGISTRY_ADDRESS" \
    --projects="$PROJECTS_ADDRESS" ${SCORING_ADDRESS:+--scoring="$SCORING_ADDRESS"} \
    "$@"
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

# json_field <python expression over j>: reads one JSON document on stdin.
json_field() {
  /usr/bin/python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# 摘星: scoring on the same data, with redis-server as its leaderboard
# cache.
scoring_demo() {
  step "starting redis-server (the leaderboard cache) and fivestar-scoring"
  local redis_port scoring_port
  redis_port="$(free_port)"
  mkdir -p "$WORK/redis"
  # Nothing persisted: the cache is rebuilt from scoring's database.
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do  # at most about 5 s
    if redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  echo "redis-server on 127.0.0.1:$redis_port (pid $REDIS_PID)"
  scoring_port="$(free_port)"
  while [[ "$scoring_port" == "$REGISTRY_PORT" ||
           "$scoring_port" == "$PROJECTS_PORT" ]]; do
    scoring_port="$(free_port)"
  done
  SCORING_ADDRESS="127.0.0.1:$scoring_port"
  FIVESTAR_REGISTRY_TOKEN="$SCORING_PEER_TOKEN" \
    FIVESTAR_PROJECTS_TOKEN="$SCORING_PEER_TOKEN" \
    "$SCORING_SERVER" --host=127.0.0.1 --port="$scoring_port" \
    --metrics_port=0 --tokens_file="$WORK/scoring-tokens" \
    --database="$WORK/scoring.db" --registry="$REGISTRY_ADDRESS" \
    --projects="$PROJECTS_ADDRESS" --redis="127.0.0.1:$redis_port" \
    >"$WORK/scoring.log" 2>&1 &
  SCORING_PID=$!
  wait_for "$SCORING_PID" "$SCORING_ADDRESS" fivestar.scoring.v1.ScoringService \
    "$WORK/scoring.log"

  step "fivestar evaluate-region --per_village $TOWNSHIP $PERIOD (定星 vs 摘星)"
  fivestar evaluate-region --per_village "$TOWNSHIP" "$PERIOD"

  step "fivestar leaderboard $TOWNSHIP $PERIOD"
  fivestar leaderboard "$TOWNSHIP" "$PERIOD"

  step "fivestar rank --neighbours=2 $DANGZILING $PERIOD"
  fivestar rank --neighbours=2 "$DANGZILING" "$PERIOD"

  step "fivestar get-evaluation $DANGZILING $PERIOD: why each star is earned or not"
  fivestar get-evaluation "$DANGZILING" "$PERIOD"

  step "stars 花园 ($HUAYUAN) held before the system (record-award)"
  local star
  for star in branch_strong industry_thriving eco_livable; do
    fivestar record-award --comment="西峡县命名文件 2022-03 (demo)" \
      "$HUAYUAN" "$star" 2022-03-31T10:00:00+08:00 county |
      grep -E '^(id|star|state|recognised_at|award_time):'
  done

  step "an application through the workflow: 申报 → 初审 → 审核 → 公示"
  # The first star Dangziling earned in its recorded 2022-09 evaluation.
  star="$(fivestar --output=json get-evaluation "$DANGZILING" "$PERIOD" |
    json_field 'next((s["star"] for s in j.get("stars", []) if s.get("earned")), "")')"
  if [[ -z "$star" ]]; then
    echo "垱子岭 earned no star in $PERIOD: nothing to apply for"
  else
    local award
    award="$(fivestar_as "$VILLAGE_TOKEN" --output=json apply-award \
      --note="垱子岭 applies for $star ($PERIOD)" "$DANGZILING" "$star" "$PERIOD" |
      json_field 'j["id"]')"
    echo "applied (申报): award $award, $star, as dangziling-branch"
    fivestar_as "$TOWNSHIP_TOKEN" review-award --comment="初审: materials complete" \
      "$award" approve | sed -n 's/^state: */reviewed (初审) by huiche-township: /p'
    fivestar_as "$COUNTY_TOKEN" review-award --comment="审核: approved" \
      "$award" approve | sed -n 's/^state: */approved (审核) by xixia-county: /p'
    fivestar_as "$COUNTY_TOKEN" start-notice --comment="公示 on the county site" \
      "$award" | grep -E '^(state|public_notice_days|public notice)'
    # The notice runs in real time (the rubric's default of 7 days), so
    # confirm-award (命名) cannot run in the demo; it fails before the end.
    echo "confirm-award (命名) can follow once the 7-day public notice has ended"

    step "fivestar list-award-events --village=$DANGZILING (the audit trail)"
    fivestar list-award-events --village="$DANGZILING"
  fi

  step "fivestar incentives $HUAYUAN 2022"
  fivestar incentives "$HUAYUAN" 2022

  step "stopping fivestar-scoring and redis-server"
  stop "$SCORING_PID" fivestar-scoring "$WORK/scoring.log"
  SCORING_PID=""
  kill -TERM "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
  echo "redis-server stopped"
}

scoring_demo

step "stopping the servers (SIGTERM)"
# Project tracking first: it is the registry's client.
stop "$PROJECTS_PID" fivestar-projects "$WORK/projects.log"
PROJECTS_PID=""
stop "$REGISTRY_PID" fivestar-registry "$WORK/registry.log"
REGISTRY_PID=""
