#!/usr/bin/python3
"""The raw SQLite reference of an import (issue 10): inserts the very rows a
service's import wrote, into the same tables and indexes of a fresh database,
in one transaction, with the services' settings (WAL, synchronous=FULL), and
prints the seconds it took (wall, and CPU of this process: on a shared,
loaded machine compare CPU seconds with the service's) as one JSON line.

Usage:
  raw_sqlite_insert.py --from=registry.db --tables=regions,villages,changes \
      [--out=/tmp/raw.db]

--from is a database the service filled (e.g. after `fivestar
import-registry`); its schema (CREATE TABLE and CREATE INDEX statements of
--tables) and rows are read first, untimed, into memory; then the timed part
is BEGIN, one prepared INSERT per row (executemany), COMMIT.
"""
import argparse
import json
import os
import sqlite3
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--tables", default="regions,villages,changes")
    parser.add_argument("--out", default="/tmp/raw_sqlite_insert.db")
    args = parser.parse_args()
    tables = [t for t in args.tables.split(",") if t]
    src = sqlite3.connect(f"file:{args.source}?mode=ro", uri=True)
    schema, rows, columns = [], {}, {}
    for table in tables:
        found = src.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            (table,)).fetchone()
        if found is None:
            sys.exit(f"raw_sqlite_insert: --tables: {args.source} has no "
                     f"table {table}")
        schema.append(found[0])
        schema += [sql for (sql,) in src.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND "
            "tbl_name = ? AND sql IS NOT NULL", (table,))]
        columns[table] = [c[1] for c in src.execute(
            f"PRAGMA table_info({table})")]
        rows[table] = src.execute(f"SELECT * FROM {table}").fetchall()
    src.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.out + suffix):
            os.remove(args.out + suffix)
    db = sqlite3.connect(args.out, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # The services' foreign keys are declared; SqliteDatabase turns them on.
    db.execute("PRAGMA foreign_keys=ON")
    for sql in schema:
        db.execute(sql)
    start = time.monotonic()
    start_cpu = time.process_time()
    db.execute("BEGIN")
    for table in tables:
        marks = ", ".join("?" for _ in columns[table])
        db.executemany(f"INSERT INTO {table} VALUES({marks})", rows[table])
    db.execute("COMMIT")
    seconds = time.monotonic() - start
    cpu_seconds = time.process_time() - start_cpu
    db.close()
    print(json.dumps({"tables": tables,
                      "rows": {t: len(r) for t, r in rows.items()},
                      "seconds": round(seconds, 3),
                      "cpu_seconds": round(cpu_seconds, 3)}))


if __name__ == "__main__":
    main()
