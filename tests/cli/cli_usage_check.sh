#!/usr/bin/env bash
# The scoring commands of the `fivestar` client without a scoring service:
# `fivestar help` and `fivestar --help` list each of them with its usage, each called without its
# arguments is a usage error (exit status 2), bad stars, decisions, levels,
# times and what-if overrides are usage errors before any call, and a rubric
# file that does not parse is reported as file:line:column.
# Usage: cli_usage_check.sh <path of the fivestar binary>
set -euo pipefail
CLI="$1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failed=0
fail() { echo "cli_usage_check: $*" >&2; failed=1; }

# Nothing listens on port 1: a command that got as far as calling would
# fail with exit status 1, not 2.
fivestar() { "$CLI" --scoring=127.0.0.1:1 --registry=127.0.0.1:1 --deadline=1s "$@"; }

# expect_status <status> <stderr substring> <args...>
expect_status() {
  local want="$1" message="$2" status=0
  shift 2
  fivestar "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  if [[ "$status" != "$want" ]]; then
    fail "fivestar $*: exit status $status, want $want; stderr: $(cat "$WORK/err")"
  elif ! grep -qF -- "$message" "$WORK/err"; then
    fail "fivestar $*: stderr lacks \"$message\": $(cat "$WORK/err")"
  fi
}

"$CLI" help >"$WORK/help"
# --help (Abseil's, which exits 1) shows the same command table first.
"$CLI" --help >"$WORK/flags-help" 2>&1 || true
# Each command with its synopsis, as both helps must show them.
while read -r command synopsis; do
  line="$(printf '  %-18s %s' "$command" "$synopsis" | sed 's/ *$//')"
  for help in help flags-help; do
    if ! grep -qxF -- "$line" "$WORK/$help"; then
      fail "$help lacks \"$line\""
    fi
  done
done <<'LIST'
create-rubric [--activate] [--validate_only] <file.textproto|->
list-rubrics
get-rubric [<version>]
activate-rubric <version>
evaluate [--rubric_version=N] <village-id> <YYYY-MM>
evaluate-region [--rubric_version=N] [--per_village] <region-id> <YYYY-MM>
get-evaluation <village-id> <YYYY-MM>
what-if [--rubric_version=N] <village-id> <YYYY-MM> <override>...
gap [--target_level=<1..5>] [--rubric_version=N] <village-id> <YYYY-MM>
leaderboard [--star=<star>] [--page_size=N] [--page_token=<t>] [--snapshot] <region-id> <YYYY-MM>
rank [--region=<region-id>] [--star=<star>] [--neighbours=N] <village-id> <YYYY-MM>
freeze-leaderboard [--comment=<text>] <region-id> <YYYY-MM>
apply-award [--note=<text>] [--request_id=<key>] <village-id> <star> <YYYY-MM>
review-award [--comment=<text>] [--etag=<etag>] <award-id> approve|reject
start-notice [--days=<1..60>] [--comment=<text>] [--etag=<etag>] <award-id>
confirm-award [--comment=<text>] [--etag=<etag>] <award-id>
withdraw-award --reason=<text> [--etag=<etag>] <award-id>
record-award --comment=<source> [--request_id=<key>] <village-id> <star> <RFC3339-time> township|county|city|province
get-award <award-id>
list-awards [--village=<id>] [--ancestor=<region-id>] [--star=<star>] [--state=<state>]
list-award-events [--award=<id>] [--village=<id>] [--ancestor=<region-id>]
incentives <village-id> <year>
LIST
grep -qF "indicator=<key>[@YYYY-MM]=<value> or criterion=<id>=<value>" "$WORK/help" ||
  fail "help does not explain the what-if overrides"

# Missing arguments.
for command in create-rubric activate-rubric evaluate evaluate-region \
    get-evaluation what-if gap leaderboard rank freeze-leaderboard \
    apply-award review-award start-notice confirm-award withdraw-award \
    record-award get-award incentives; do
  expect_status 2 "usage: fivestar [flags] $command" "$command"
done
expect_status 2 "takes 3 to 1000 arguments, got 2" what-if v 2022-09
expect_status 2 "takes 0 to 1 arguments, got 2" get-rubric 1 2
expect_status 2 "--long_deadline: must be positive, got -1s" --long_deadline=-1s get-rubric
expect_status 2 "--deadline: must be positive, got 0" --deadline=0s get-rubric

# Bad values, caught before any call.
expect_status 2 '<star>: must be branch_strong, industry_thriving, eco_livable, safe_lawful or civilized_happy, got "golden"' \
  apply-award v golden 2022-09
expect_status 2 '--star: must be branch_strong, industry_thriving, eco_livable, safe_lawful or civilized_happy, got "x"' \
  leaderboard --star=x r 2022-09
expect_status 2 '<decision>: must be approve or reject, got "maybe"' \
  review-award a1 maybe
expect_status 2 "--comment is required to reject" review-award a1 reject
expect_status 2 "--reason is required" withdraw-award a1
expect_status 2 '<level>: must be township, county, city or province, got "village"' \
  record-award --comment=doc v branch_strong 2021-12-28T10:00:00+08:00 village
expect_status 2 '<time>: must be RFC 3339' \
  record-award --comment=doc v branch_strong 2021-12-28 county
expect_status 2 "--comment is required" \
  record-award v BRANCH_STRONG 2021-12-28T10:00:00+08:00 county
expect_status 2 '"indicator=petitions": must be indicator=<key>[@YYYY-MM]=<value>' \
  what-if v 2022-09 indicator=petitions
expect_status 2 '<version>: must be a whole number of at least 1, got "0"' \
  activate-rubric 0
expect_status 2 '<year>: must be a whole number of at least 2000, got "22"' \
  incentives v 22
expect_status 2 "--days: must be 1..60" start-notice --days=61 a1
expect_status 2 "--neighbours: must be 0..50" rank --neighbours=51 v 2022-09
expect_status 2 "--page_size: must be 0..1000" leaderboard --page_size=1001 r 2022-09
expect_status 2 '--state: must be applied, township_reviewed' list-awards --state=open
expect_status 2 "--snapshot does not apply to this command" rank --snapshot v 2022-09

# A rubric that does not parse: file:line:column, before any call.
printf 'name: "r"\nstars {\n  pass_mark: sixty\n}\n' >"$WORK/bad.textproto"
expect_status 1 "$WORK/bad.textproto:3:14: Expected integer, got: sixty" \
  create-rubric "$WORK/bad.textproto"
expect_status 1 "INVALID_ARGUMENT" create-rubric "$WORK/bad.textproto"

# A valid command gets as far as the (absent) service.
expect_status 1 "UNAVAILABLE" evaluate v 2022-09

if [[ $failed -ne 0 ]]; then exit 1; fi
echo "cli_usage_check: every scoring command is listed and checks its usage"
