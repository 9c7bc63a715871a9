#!/usr/bin/env bash
# Runs scripts/demo.sh (the README's main job) against freshly built
# binaries and checks what it must show: the idempotent registry import, the
# township's 193 tasks / 145 delivered / 75.1 %, the district and village
# lines, the five named projects; scoring (a real redis-server and the
# three services as separate processes, driven by the CLI): the Huiche
# evaluation of 2022-09, the township leaderboard with its shared ranks (all
# of it, as tests/integration/expected/ has it), an
# application through the workflow, the year's incentives; and every server
# stopping cleanly.
# Usage: demo_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

if ! FIVESTAR_DEMO_NO_BUILD=1 BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/demo.sh" \
    >"$OUT" 2>&1; then
  cat "$OUT"
  echo "demo_check: scripts/demo.sh failed" >&2
  exit 1
fi

failed=0
expect() {  # expect <count> <fixed string>
  local found
  found=$(grep -cF -- "$2" "$OUT" || true)
  if [[ "$found" != "$1" ]]; then
    echo "demo_check: want $1 line(s) with \"$2\", got $found" >&2
    failed=1
  fi
}
expect 1 "created 30, updated 0, unchanged 0"
expect 1 "created 0, updated 0, unchanged 30"
expect 1 "targets (定星): four-star target: 3, three-star: 7, two-star: 9, none: 2"
expect 1 "projects: created 193, updated 0, unchanged 0; reports: created 315"
expect 1 "193 total, 145 delivered: 75.1 % complete"
expect 1 "411323-huiche-west       2022-09    30 tasks    25 delivered   83.3 %"
expect 1 "411323-huiche-west-01    2022-09    10 tasks     9 delivered   90.0 %  reporting 100.0 %"
expect 1 "780 / 780 m"
expect 1 "0 / 4000 m"
expect 4 "DELIVERED             "
expect 1 "411323-huiche 2022-09, rubric v1: 21 of 21 villages evaluated, 0 failed (recorded)"
expect 1 "411323-huiche, 2022-09, overall board: 21 villages ranked"
expect 1 "   1  411323-huiche-south-01   双河         ★★★★ 4     440  new"
expect 1 "   3  411323-huiche-east-01    黑虎庙       ★★★★ 4     400  new"
expect 1 "   3  411323-huiche-middle-01  花园         ★★★★ 4     400  new"
expect 1 "  21  411323-huiche-south-05   南管区第5村  0          140  new"
expect 1 "411323-huiche-west-01: rank 5 of 21 on 411323-huiche, 2022-09, overall board"
expect 1 "approved (审核) by xixia-county: COUNTY_APPROVED"
expect 1 "total 37,000 yuan"
expect 1 "fivestar-scoring stopped cleanly"
expect 1 "redis-server stopped"
expect 1 "fivestar-registry stopped cleanly"
expect 1 "fivestar-projects stopped cleanly"
# The whole township board, as scripts/container-test.sh also expects it
# from the containers.
BOARD="$ROOT/tests/integration/expected/huiche_leaderboard_2022-09.txt"
if ! diff -u "$BOARD" <(awk '/^==> fivestar leaderboard /{f=1; next} /^==> /{f=0} f' "$OUT" |
    sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'); then
  echo "demo_check: the leaderboard differs from $BOARD" >&2
  failed=1
fi
if [[ $failed -ne 0 ]]; then
  echo "--- demo output ---" >&2
  cat "$OUT" >&2
  exit 1
fi
echo "demo_check: the demo shows what it must"
