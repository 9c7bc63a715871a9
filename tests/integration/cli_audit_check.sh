#!/usr/bin/env bash
# The audit log through the CLI against a real fivestar-registry: a write
# the client was told succeeded is in the log even when the server is
# killed (SIGKILL) right after answering; a refused write is logged with its
# outcome; `fivestar audit` filters, prints text and JSON, is refused to a
# township admin, and no token text reaches the log or the database files.
# Usage: cli_audit_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() { echo "cli_audit_check: $*" >&2; cat "$WORK/registry.log" >&2; exit 1; }

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
"$CLI" new-token admin '*' check-admin >"$WORK/admin"
"$CLI" new-token admin 411323-huiche huiche-admin >"$WORK/huiche"
sed -n 2p "$WORK/admin" >"$WORK/tokens"
sed -n 2p "$WORK/huiche" >>"$WORK/tokens"
ADMIN_TOKEN="$(sed -n 1p "$WORK/admin")"
HUICHE_TOKEN="$(sed -n 1p "$WORK/huiche")"

start_registry() {
  "$SERVER" --host=127.0.0.1 --port="$PORT" --metrics_port=-1 \
    --tokens_file="$WORK/tokens" --database="$WORK/registry.db" \
    >>"$WORK/registry.log" 2>&1 &
  PID=$!
  disown "$PID"  # Killed on purpose below; no job report for it.
  for _ in $(seq 1 150); do
    "$CLI" --registry="$ADDRESS" --deadline=1s health "$ADDRESS" \
      fivestar.registry.v1.RegistryService >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || fail "the registry exited"
    sleep 0.1
  done
  fail "the registry did not become SERVING"
}
fivestar() { "$CLI" --registry="$ADDRESS" "$@"; }

start_registry
grep '"region"' "$ROOT/data/huiche/registry.ndjson" >"$WORK/regions.ndjson"
# Told OK, then killed at once: no drain, no chance to write anything later.
FIVESTAR_TOKEN="$ADMIN_TOKEN" fivestar import-registry "$WORK/regions.ndjson" \
  >"$WORK/import.out" 2>&1 || fail "the import failed: $(cat "$WORK/import.out")"
kill -KILL "$PID"
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
PID=""
start_registry

# The township admin may not import the county's regions: refused, logged.
if FIVESTAR_TOKEN="$HUICHE_TOKEN" fivestar import-registry \
  "$WORK/regions.ndjson" >"$WORK/denied.out" 2>&1; then
  fail "a township admin imported regions outside its scope"
fi

export FIVESTAR_TOKEN="$ADMIN_TOKEN"
fivestar --output=json audit --service=registry --oldest_first >"$WORK/all.json" ||
  fail "audit failed: $(cat "$WORK/all.json")"
[[ "$(wc -l <"$WORK/all.json")" == 2 ]] ||
  fail "want 2 events, got: $(cat "$WORK/all.json")"
head -1 "$WORK/all.json" | grep -q '"principal":"check-admin"' ||
  fail "the import killed after its OK is not logged: $(cat "$WORK/all.json")"
head -1 "$WORK/all.json" | grep -q '"outcome_code":"OK"' ||
  fail "the first event is not OK: $(head -1 "$WORK/all.json")"
head -1 "$WORK/all.json" | grep -q '"method":"/fivestar.registry.v1.RegistryService/ImportRegistry"' ||
  fail "the first event is not the import: $(head -1 "$WORK/all.json")"

fivestar audit --service=registry --outcome=PERMISSION_DENIED >"$WORK/denied.txt" ||
  fail "audit --outcome failed: $(cat "$WORK/denied.txt")"
[[ "$(wc -l <"$WORK/denied.txt")" == 1 ]] ||
  fail "want 1 refused event, got: $(cat "$WORK/denied.txt")"
grep -q "huiche-admin (admin 411323-huiche)  ImportRegistry messages=1  from ipv4:127.0.0.1:" \
  "$WORK/denied.txt" || fail "unexpected text line: $(cat "$WORK/denied.txt")"
grep -q "PERMISSION_DENIED: " "$WORK/denied.txt" ||
  fail "the outcome is missing: $(cat "$WORK/denied.txt")"
fivestar audit --service=registry --method=ImportRegistry --principal=nobody \
  >"$WORK/none.txt" || fail "audit with filters failed"
[[ ! -s "$WORK/none.txt" ]] || fail "a filter matched: $(cat "$WORK/none.txt")"

status=0
FIVESTAR_TOKEN="$HUICHE_TOKEN" fivestar audit --service=registry \
  >"$WORK/refused.out" 2>&1 || status=$?
[[ "$status" == 1 ]] || fail "a township admin read the log (exit $status)"
grep -q "PERMISSION_DENIED" "$WORK/refused.out" ||
  fail "not PERMISSION_DENIED: $(cat "$WORK/refused.out")"
status=0
fivestar audit --service=billing >"$WORK/usage.out" 2>&1 || status=$?
[[ "$status" == 2 ]] || fail "a bad --service is not a usage error (exit $status)"
grep -q -- "--service: must be registry, projects or scoring" "$WORK/usage.out" ||
  fail "the usage error does not name --service: $(cat "$WORK/usage.out")"

for token in "$ADMIN_TOKEN" "$HUICHE_TOKEN"; do
  if grep -qF -- "$token" "$WORK/all.json" "$WORK/denied.txt" \
    "$WORK"/registry.db*; then
    fail "a token is stored or printed"
  fi
done
echo "cli_audit_check: an OK survived SIGKILL in the log; refusals logged; no token stored"
