#!/usr/bin/env bash
# The projects import figure (issue 10, item 4), measured side by side with
# its raw reference. Not part of the test command.
#
#   tools/bench/projects_import.sh BUILD_DIR DATA_DIR [RUNS]
#
# DATA_DIR holds registry.ndjson and projects.ndjson (tools/datagen/
# generate.py --scale=province|national). For each of RUNS (default 3)
# runs, on fresh databases: the registry is imported, then
#   raw:    fivestar-raw-insert --in=DATA_DIR/projects.ndjson --db=NEW.db
#           (the same rows in one transaction, sqlite3 C API, SQLite time only)
#   import: `fivestar import-projects DATA_DIR/projects.ndjson` end to end
#           (CLI parsing, gRPC, staging, planning, writing), while a probe
#           records the projects service's peak RSS (VmHWM) and the latency
#           of CreateProgressReport calls (`fivestar report-progress`, one at
#           a time) issued during the import.
# Prints one JSON line per run.
set -euo pipefail
BUILD_DIR="$(realpath "$1")"
DATA="$(realpath "$2")"
RUNS="${3:-3}"
CLI="$BUILD_DIR/tools/cli/fivestar"
RAW="$BUILD_DIR/tools/bench/fivestar-raw-insert"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
"$CLI" new-token admin '*' bench-admin >"$WORK/admin-token"
"$CLI" new-token viewer '*' bench-peer >"$WORK/peer-token"
export FIVESTAR_TOKEN="$(sed -n 1p "$WORK/admin-token")"
PEER_TOKEN="$(sed -n 1p "$WORK/peer-token")"
{ sed -n 2p "$WORK/admin-token"; sed -n 2p "$WORK/peer-token"; } >"$WORK/tokens"

for run in $(seq 1 "$RUNS"); do
  RUN="$WORK/run$run"
  mkdir -p "$RUN"
  REGISTRY="127.0.0.1:$(port)"
  PROJECTS="127.0.0.1:$(port)"
  "$BUILD_DIR/services/registry/fivestar-registry" --host=127.0.0.1 \
    --port="${REGISTRY##*:}" --metrics_port=0 --tokens_file="$WORK/tokens" \
    --database="$RUN/registry.db" --max_import_records=10000000 \
    >"$RUN/registry.log" 2>&1 &
  REGISTRY_PID=$!
  PIDS+=($REGISTRY_PID)
  FIVESTAR_REGISTRY_TOKEN="$PEER_TOKEN" \
    "$BUILD_DIR/services/projects/fivestar-projects" --host=127.0.0.1 \
    --port="${PROJECTS##*:}" --metrics_port=0 --tokens_file="$WORK/tokens" \
    --database="$RUN/projects.db" --registry="$REGISTRY" \
    >"$RUN/projects.log" 2>&1 &
  PROJECTS_PID=$!
  PIDS+=($PROJECTS_PID)
  fivestar() { "$CLI" --registry="$REGISTRY" --projects="$PROJECTS" "$@"; }
  fivestar health --wait=30s "$REGISTRY" fivestar.registry.v1.RegistryService >/dev/null
  fivestar health --wait=30s "$PROJECTS" fivestar.projects.v1.ProjectsService >/dev/null
  fivestar --deadline=2h import-registry "$DATA/registry.ndjson" >/dev/null

  # A project for the probe's reports, in the first village of the data.
  VILLAGE="$(/usr/bin/python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "village" in r:
        print(r["village"]["id"]); break' "$DATA/registry.ndjson")"
  printf '{"key": "probe", "project": {"village_id": "%s", "title": "probe", "star": "BRANCH_STRONG", "target_quantity": 1000000, "unit": "m", "start_date": "2022-01-01", "due_date": "2022-12-31"}}\n' \
    "$VILLAGE" >"$RUN/probe.ndjson"
  fivestar import-projects "$RUN/probe.ndjson" >/dev/null
  PROBE_PROJECT="$(fivestar --output=json list-projects --village="$VILLAGE" |
    /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    doc = json.loads(line)
    for p in doc.get("projects", [doc]):
        if p.get("title") == "probe": print(p["id"])')"

  # Its last line is the figure (opening the schema logs the migrations).
  RAW_JSON="$("$RAW" --in="$DATA/projects.ndjson" --db="$RUN/raw.db" | tail -1)"
  rm -f "$RUN"/raw.db*

  # The probe: one CreateProgressReport at a time until the import ends.
  (
    i=0
    while [[ ! -f "$RUN/done" ]]; do
      start=$(date +%s%N)
      fivestar --deadline=10m report-progress --request_id="probe-$i" \
        "$PROBE_PROJECT" 1 \
        >/dev/null 2>>"$RUN/probe.err" || echo "error" >>"$RUN/probe.err"
      echo $(( ($(date +%s%N) - start) / 1000000 )) >>"$RUN/probe.ms"
      i=$((i + 1))
      sleep 0.2
    done
  ) &
  PROBE_PID=$!
  start=$(date +%s%N)
  fivestar --deadline=2h import-projects "$DATA/projects.ndjson" \
    >"$RUN/import.out"
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  HWM_DURING="$(sed -n 's/^VmHWM:\s*//p' /proc/$PROJECTS_PID/status)"
  touch "$RUN/done"
  wait "$PROBE_PID" || true
  sleep 2
  RSS_AFTER="$(sed -n 's/^VmRSS:\s*//p' /proc/$PROJECTS_PID/status)"
  /usr/bin/python3 - "$RUN" "$elapsed_ms" "$RAW_JSON" "$HWM_DURING" \
    "$RSS_AFTER" <<'PY'
import json, statistics, sys
run, elapsed_ms, raw, hwm, rss = sys.argv[1:6]
raw = json.loads(raw)
probe = [int(x) for x in open(f"{run}/probe.ms").read().split()]
errors = open(f"{run}/probe.err").read().count("error") if __import__("os").path.exists(f"{run}/probe.err") else 0
seconds = int(elapsed_ms) / 1000
print(json.dumps({
    "import_seconds": seconds,
    "raw_seconds": raw["seconds"],
    "ratio_to_raw": round(seconds / raw["seconds"], 2),
    "rows": raw["rows"],
    "peak_rss": hwm, "rss_after": rss,
    "probe_calls": len(probe), "probe_errors": errors,
    "probe_ms_p50": statistics.median(probe) if probe else None,
    "probe_ms_max": max(probe) if probe else None,
}))
PY
  kill -TERM "$PROJECTS_PID" "$REGISTRY_PID"
  wait "$PROJECTS_PID" "$REGISTRY_PID" 2>/dev/null || true
  PIDS=()
  rm -rf "$RUN"
done
