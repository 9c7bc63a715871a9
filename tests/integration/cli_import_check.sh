#!/usr/bin/env bash
# The CLI against a real fivestar-registry: an import file with a malformed
# line far into it (line 2,504, after two chunks have been sent and
# acknowledged) makes `fivestar import-registry` exit non-zero and write
# nothing; with a --long_deadline too short for it the import fails
# DEADLINE_EXCEEDED and writes nothing; the same file without the bad line
# then imports every record, with a --deadline (calls) far too short for
# the import's stream.
# Usage: cli_import_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() { echo "cli_import_check: $*" >&2; cat "$WORK/registry.log" >&2; exit 1; }

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
"$CLI" new-token admin '*' check-admin >"$WORK/admin-token"
sed -n 2p "$WORK/admin-token" >"$WORK/tokens"
export FIVESTAR_TOKEN="$(sed -n 1p "$WORK/admin-token")"
"$SERVER" --host=127.0.0.1 --port="$PORT" --metrics_port=-1 \
  --tokens_file="$WORK/tokens" --database="$WORK/registry.db" \
  >"$WORK/registry.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do
  "$CLI" --registry="$ADDRESS" --deadline=1s health "$ADDRESS" \
    fivestar.registry.v1.RegistryService >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || fail "the registry exited"
  sleep 0.1
done
fivestar() { "$CLI" --registry="$ADDRESS" "$@"; }

# The Huiche regions (22 lines), then villages of the west district.
grep '"region"' "$ROOT/data/huiche/registry.ndjson" >"$WORK/good.ndjson"
regions=$(wc -l <"$WORK/good.ndjson")
for i in $(seq 1 3000); do
  printf '{"village": {"id": "411323-huiche-west-x%04d", "name": "村%d", "region_id": "411323-huiche-west", "kind": "VILLAGE"}}\n' "$i" "$i"
done >>"$WORK/good.ndjson"
total=$(wc -l <"$WORK/good.ndjson")
# Line 2,504 broken: two chunks of 1,000 records have gone out by then.
sed '2504s/.*/{"village": {"id": "broken"/' "$WORK/good.ndjson" >"$WORK/bad.ndjson"

if fivestar import-registry "$WORK/bad.ndjson" >"$WORK/bad.out" 2>&1; then
  fail "an import with a malformed line succeeded"
fi
grep -q "2504" "$WORK/bad.out" || fail "the error does not name line 2504: $(cat "$WORK/bad.out")"
grep -q "2000 records received" "$WORK/bad.out" ||
  fail "two chunks were not acknowledged first: $(cat "$WORK/bad.out")"
exported=$(fivestar export-registry | wc -l)
[[ "$exported" == 0 ]] || fail "the failed import left $exported records behind"

# An import's stream has the long deadline, never --deadline: a 1 ms
# --long_deadline ends it (nothing written), a 1 ms --deadline does not.
if fivestar --long_deadline=1ms import-registry "$WORK/good.ndjson" \
    >"$WORK/short.out" 2>&1; then
  fail "an import with --long_deadline=1ms succeeded"
fi
grep -q "DEADLINE_EXCEEDED" "$WORK/short.out" ||
  fail "--long_deadline=1ms: want DEADLINE_EXCEEDED: $(cat "$WORK/short.out")"
exported=$(fivestar export-registry | wc -l)
[[ "$exported" == 0 ]] || fail "the import past its deadline left $exported records behind"
fivestar --deadline=1ms import-registry "$WORK/good.ndjson" >"$WORK/good.out" 2>&1 ||
  fail "the good import failed: $(cat "$WORK/good.out")"
exported=$(fivestar --deadline=1ms export-registry | wc -l)
[[ "$exported" == "$total" ]] || fail "want $total records exported, got $exported"
echo "cli_import_check: a malformed line wrote nothing; the clean file imported $total records ($regions regions)"
