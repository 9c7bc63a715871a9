#!/usr/bin/env bash
# The raw SQLite reference of issue 10 for an import-like step: the same
# rows the step wrote, inserted by the sqlite3 shell in one transaction
# (WAL, synchronous=FULL, as the services run) into a copy of the database
# as it was before the step. Prints the reference's seconds and the rows on
# stdout as JSON: {"seconds": S, "rows": N, "tables": {...}}.
#
# Usage: sqlite_reference.sh <before.db> <after.db> <work dir>
#   before.db, after.db  copies of the service's database (sqlite3 .backup)
#                        taken just before and just after the step
#   The rows of the step are, per table, `after EXCEPT before` (new rows and
#   the new versions of changed rows; INSERT OR REPLACE puts the latter).
#   The audit log and the migrations' own bookkeeping are left out.
set -euo pipefail
BEFORE="$1" AFTER="$2" WORK="$3"
mkdir -p "$WORK"
SQL="$WORK/reference.sql"
REF="$WORK/reference.db"

tables="$(sqlite3 "$AFTER" "SELECT name FROM sqlite_schema WHERE type = 'table'
  AND name NOT LIKE 'sqlite_%' AND name NOT IN ('audit_events', 'schema_migrations')
  ORDER BY name")"
{
  echo "PRAGMA journal_mode=WAL;"
  echo "PRAGMA synchronous=FULL;"
  echo "BEGIN;"
} >"$SQL"
counts="{"
sep=""
total=0
for table in $tables; do
  rows="$WORK/$table.sql"
  sqlite3 "$AFTER" <<SQLITE >"$rows"
ATTACH '$BEFORE' AS before;
.mode insert $table
SELECT * FROM main."$table" EXCEPT SELECT * FROM before."$table";
SQLITE
  n="$(grep -c '^INSERT INTO' "$rows" || true)"
  [[ "$n" -gt 0 ]] || continue
  sed 's/^INSERT INTO/INSERT OR REPLACE INTO/' "$rows" >>"$SQL"
  counts+="$sep\"$table\": $n"
  sep=", "
  total=$((total + n))
done
echo "COMMIT;" >>"$SQL"
counts+="}"

cp "$BEFORE" "$REF"
sync
start="$(date +%s%N)"
sqlite3 "$REF" <"$SQL" >/dev/null
end="$(date +%s%N)"
rm -f "$REF" "$REF-wal" "$REF-shm" "$WORK"/*.sql
printf '{"seconds": %.3f, "rows": %d, "tables": %s}\n' \
  "$(awk -v ns="$((end - start))" 'BEGIN { print ns / 1e9 }')" "$total" "$counts"
