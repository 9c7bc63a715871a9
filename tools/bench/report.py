#!/usr/bin/python3
"""Writes BENCHMARKS.md from scripts/bench.sh's measurements.

Usage: report.py --results=RUN.ndjson [--results=OTHER.ndjson ...]
                 [--notes=NOTES.md] --out=FILE

A run's .ndjson holds its context (the first line, "kind": "context": the
command, date, commit, build, machine, data, storage and load settings)
and one JSON line per measurement: fivestar-bench's figure
lines (a "figure" and a "label": "<figure>/<repetition>", "idle/<probe>",
"<load>/<probe>", "summaries/<what>"), and bench.sh's own lines with a
"kind": "load", "startup", "resync" or "h2load". Every goal is issue 10's.

A run that compared storage engines (bench.sh --engines=sqlite,postgres;
its context names them in "engines") has figure lines labelled
"<figure>/<repetition>/<engine>" and a load line per load and engine; its
tables divide every engine's figures by the first engine's, and an
included one follows the others under "Storage engines: ...".
"""
import argparse
import json
import os
import statistics
import sys

MIB = 1024
ENGINE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
RSS_GOAL_KB = 256 * MIB

FIGURE_GOALS = {
    "get_village": (0.85, "≥ 0.85 × Ping"),
    "get_project": (0.85, "≥ 0.85 × Ping"),
    "list_villages": (0.5, "≥ 0.5 × Ping (page 100, township)"),
    "get_summary": (0.5, "≥ 0.5 × Ping (township)"),
    "create_progress_report": (0.5, "≥ 0.5 × Ping, durability unchanged"),
    "get_leaderboard": (0.9, "≥ 0.9 × Ping (top 10)"),
    "get_village_rank": (0.9, "≥ 0.9 × Ping"),
}
LOADS = [
    ("import-registry", "registry import (ImportRegistry)"),
    ("import-projects", "projects import (ImportProjects)"),
    ("set-indicators", "indicator values (SetIndicatorValues, 1,000 a call)"),
    ("evaluate-region", "evaluation of every root region with its boards"),
]


def median(xs):
    return statistics.median(xs) if xs else 0


def us(x):
    return f"{x:,.0f} µs"


def ms(x):
    return f"{x:,.1f} ms"


def verdict(holds, how_far):
    return "**holds**" if holds else f"**misses** ({how_far})"


def figures_table(lines, ctx):
    by_label = {}
    for r in lines:
        if "figure" in r and "kind" not in r:
            by_label.setdefault(r["label"], {})[r["figure"]] = r
    if not any("/" in label and label.split("/")[0] in FIGURE_GOALS
               for label in by_label):
        return []
    rows = [
        "| figure | calls/s | p50 | p99 | Ping calls/s (per repetition) | "
        "ratio to Ping (min / median / max) | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for figure in ctx["figures"].split(","):
        goal, goal_text = FIGURE_GOALS[figure]
        reps = [by_label.get(f"{figure}/{i}", {})
                for i in range(1, ctx["repeat"] + 1)]
        reps = [(x.get(figure), x.get("ping")) for x in reps]
        reps = [(f, p) for f, p in reps if f and p]
        if not reps:
            rows.append(f"| {figure} | not run | | | | | {goal_text} |")
            continue
        ratios = sorted(f["calls_per_s"] / p["calls_per_s"]
                        if p["calls_per_s"] else 0 for f, p in reps)
        invalid = [x for pair in reps for x in pair if not x["valid"]]
        result = verdict(ratios[0] >= goal,
                         f"{median(ratios) / goal:.2f} of the goal at the "
                         "median")
        if invalid:
            result = invalid_text(invalid)
        ping = ", ".join(f"{p['calls_per_s']:.0f}" for _, p in reps)
        rows.append(
            f"| {figure} | {median([f['calls_per_s'] for f, _ in reps]):.0f} "
            f"| {us(median([f['p50_us'] for f, _ in reps]))} "
            f"| {us(median([f['p99_us'] for f, _ in reps]))} | {ping} | "
            f"{ratios[0]:.3f} / {median(ratios):.3f} / {ratios[-1]:.3f} | "
            f"{goal_text}: {result} |")
    return rows


def invalid_text(invalid):
    """What a table says of a figure some of whose runs failed."""
    errors = {}
    for x in invalid:
        for code, n in x["errors"].items():
            errors[code] = errors.get(code, 0) + n
    first = next((x["first_error"] for x in invalid if x["first_error"]),
                 "no calls")
    warmup = sum(x["warmup_errors"] for x in invalid)
    return (f"**invalid**: errors {errors} ({warmup} in the warm-up); "
            f"first: {first}")


def engines_of(ctx):
    """The engines a run compared, the first the one divided by."""
    return ctx["engines"].split(",")


def engines_title(ctx):
    return "Storage engines: " + " and ".join(
        ENGINE_NAMES[e] for e in engines_of(ctx))


def engines_figures_table(lines, ctx):
    engines = engines_of(ctx)
    base = engines[0]
    runs = {r["label"]: r for r in lines
            if "figure" in r and "kind" not in r
            and r["label"].count("/") == 2}
    if not runs:
        return []
    head = ["figure"]
    for e in engines:
        head += [f"{ENGINE_NAMES[e]} calls/s", "p50", "p99"]
    head += [f"{ENGINE_NAMES[e]} / {ENGINE_NAMES[base]} calls/s "
             "(min / median / max)" for e in engines[1:]]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for figure in ctx["figures"].split(","):
        reps = [{e: runs.get(f"{figure}/{i}/{e}") for e in engines}
                for i in range(1, ctx["repeat"] + 1)]
        cells = [figure]
        for e in engines:
            xs = [rep[e] for rep in reps if rep[e]]
            if not xs:
                cells += ["not run", "", ""]
                continue
            cells += [f"{median([x['calls_per_s'] for x in xs]):.0f}",
                      us(median([x["p50_us"] for x in xs])),
                      us(median([x["p99_us"] for x in xs]))]
        for e in engines[1:]:
            ratios = sorted(rep[e]["calls_per_s"] / rep[base]["calls_per_s"]
                            for rep in reps
                            if rep[e] and rep[base]
                            and rep[base]["calls_per_s"])
            cells.append(f"{ratios[0]:.3f} / {median(ratios):.3f} / "
                         f"{ratios[-1]:.3f}" if ratios else "")
        invalid = [x for rep in reps for x in rep.values()
                   if x and not x["valid"]]
        if invalid:
            cells[-1] += " " + invalid_text(invalid)
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def engines_loads_table(lines, ctx):
    engines = engines_of(ctx)
    base = engines[0]
    loads = {(r["load"], r.get("engine", "sqlite")): r for r in lines
             if r.get("kind") == "load"}
    head = (["load"] + [f"{ENGINE_NAMES[e]} seconds" for e in engines]
            + [f"{ENGINE_NAMES[e]} / {ENGINE_NAMES[base]}"
               for e in engines[1:]])
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    found = False
    for name, text in LOADS:
        runs = {e: loads.get((name, e)) for e in engines}
        if not any(runs.values()):
            continue
        found = True
        cells = [text] + [f"{runs[e]['seconds']:.2f}" if runs[e] else
                          "not run" for e in engines]
        for e in engines[1:]:
            cells.append(f"{runs[e]['seconds'] / runs[base]['seconds']:.2f}"
                         if runs[e] and runs[base]
                         and runs[base]["seconds"] else "")
        rows.append("| " + " | ".join(cells) + " |")
    return rows if found else []


def h2load_table(lines, ctx):
    runs = {}
    for r in lines:
        if r.get("kind") == "h2load":
            runs.setdefault(r["label"], {})[r["figure"]] = r
    figures = sorted({label.split("/")[0] for label in runs})
    if not figures:
        return []
    rows = [
        "| figure | calls/s (median) | Ping calls/s (per repetition) | "
        "ratio to Ping (min / median / max) | goal |",
        "|---|---|---|---|---|",
    ]
    for figure in figures:
        goal, goal_text = FIGURE_GOALS[figure]
        reps = [runs.get(f"{figure}/{i}", {})
                for i in range(1, ctx["repeat"] + 1)]
        reps = [(x.get(figure), x.get("ping")) for x in reps]
        reps = [(f, p) for f, p in reps if f and p]
        bad = [x for pair in reps for x in pair
               if x["failed"] != 0 or not x["calls_per_s"]]
        ratios = sorted(f["calls_per_s"] / p["calls_per_s"]
                        if p["calls_per_s"] else 0 for f, p in reps)
        if not reps:
            continue
        result = verdict(ratios[0] >= goal,
                         f"{median(ratios) / goal:.2f} of the goal at the "
                         "median")
        if bad:
            result = ("**invalid**: h2load reported failed requests or no "
                      f"rate: {bad[0].get('output') or bad[0]['failed']}")
        ping = ", ".join("%.0f" % p["calls_per_s"] for _, p in reps)
        rows.append(
            f"| {figure} | {median([f['calls_per_s'] for f, _ in reps]):.0f} "
            f"| {ping} "
            f"| {ratios[0]:.3f} / {median(ratios):.3f} / {ratios[-1]:.3f} | "
            f"{goal_text}: {result} |")
    return rows


def probe_lines(lines):
    """label → figure line, for the probes and the summaries."""
    return {r["label"]: r for r in lines
            if "figure" in r and "kind" not in r and "/" in r["label"]}


def summaries_table(by_label):
    ping = by_label.get("summaries/ping")
    rows = []
    if not ping or not ping["calls"]:
        return rows
    rows += [
        f"A Ping's p50, one call at a time: {us(ping['p50_us'])}.",
        "",
        "| summary | calls | p50 | p99 | p50 / Ping's p50 | goal |",
        "|---|---|---|---|---|---|",
    ]
    for what, goal in (("province", 50), ("county", 5)):
        r = by_label.get(f"summaries/{what}")
        if not r:
            continue
        if not r["valid"]:
            rows.append(f"| {what} | {r['calls']} | | | | ≤ {goal} × Ping's "
                        f"p50: **invalid**: {r['first_error']} |")
            continue
        ratio = r["p50_us"] / ping["p50_us"]
        rows.append(
            f"| {what} | {r['calls']} | {us(r['p50_us'])} | {us(r['p99_us'])}"
            f" | {ratio:.1f} | ≤ {goal} × Ping's p50: "
            f"{verdict(ratio <= goal, '%.1f × the bound' % (ratio / goal))} |")
    return rows


def loads_table(lines):
    loads = {r["load"]: r for r in lines if r.get("kind") == "load"}
    rows = [
        "| load | seconds | raw reference: SQLite (rows) + Redis | ratio | "
        "goal ≤ 1.5 × | peak RSS of its service (after: now); of another, "
        "when larger | goal ≤ 256 MiB, every service "
        "| Redis's longest event |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, text in LOADS:
        r = loads.get(name)
        if not r:
            continue
        reference = r["reference"]
        boards = r.get("boards_reference")
        ref_seconds = (reference["seconds"] if reference else 0) + (
            boards["seconds"] if boards else 0)
        ref_text = "not measured"
        ratio_text = result = ""
        if reference:
            ref_text = f"{reference['seconds']:.2f} s ({reference['rows']:,})"
            if boards:
                ref_text += (f" + {boards['seconds']:.2f} s "
                             f"({boards['counts']['members']:,} members of "
                             f"{boards['counts']['boards']:,} boards)")
            ratio = r["seconds"] / ref_seconds if ref_seconds else 0
            ratio_text = f"{ratio:.2f}"
            result = verdict(ratio <= 1.5, f"{ratio / 1.5:.1f} × the bound")
        # The goal is on every service's peak, not only the loaded one's.
        own = r["rss"][r["service"]]
        largest, memory = max(r["rss"].items(),
                              key=lambda item: item[1]["hwm_kb"])
        peak = memory["hwm_kb"]
        rss_text = (f"{own['hwm_kb'] / MIB:.0f} MiB "
                    f"({own['rss_kb'] / MIB:.0f} MiB)")
        if largest != r["service"] and peak > own["hwm_kb"]:
            rss_text += (f"; {largest} {peak / MIB:.0f} MiB "
                         f"({memory['rss_kb'] / MIB:.0f} MiB)")
        rss_result = verdict(peak <= RSS_GOAL_KB,
                             "%.1f × the bound" % (peak / RSS_GOAL_KB))
        redis_text = redis_latency_text(r)
        rows.append(
            f"| {text} | {r['seconds']:.2f} | {ref_text} | {ratio_text} | "
            f"{result} | {rss_text} | "
            f"{rss_result} | {redis_text} |")
    return rows


def redis_latency_text(r):
    """Redis's longest latency event of a measurement, with the events that
    reached it by name (runs before the names were recorded have none)."""
    longest = r["redis_latency_max_ms"]
    if longest == 0:
        return "under 1 ms"
    names = sorted(name for name, ms in r.get("redis_latency_events", {}).items()
                   if ms == longest)
    return f"{longest} ms" + (f" ({', '.join(names)})" if names else "")


def probes_table(by_label):
    idle = {label[len("idle/"):]: r for label, r in by_label.items()
            if label.startswith("idle/")}
    phases = [name for name, _ in LOADS] + ["province-summary"]
    rows = [
        "| while | probe | calls | p99 | idle p99 | p99 / idle p99 | max | "
        "goal ≤ 10 × |",
        "|---|---|---|---|---|---|---|---|",
    ]
    found = False
    for phase in phases:
        for label, r in sorted(by_label.items()):
            if not label.startswith(phase + "/"):
                continue
            probe = label[len(phase) + 1:]
            base = idle.get(probe)
            found = True
            if not base or not base["calls"] or not r["calls"]:
                rows.append(f"| {phase} | {probe} | {r['calls']} | | | | | "
                            "no idle figure or no calls |")
                continue
            ratio = r["p99_us"] / base["p99_us"]
            errors = "" if r["valid"] else f" errors {r['errors']}"
            result = verdict(ratio <= 10 and r["valid"],
                             "%.1f × the bound" % (ratio / 10))
            rows.append(
                f"| {phase} | {probe} | {r['calls']} | {us(r['p99_us'])} | "
                f"{us(base['p99_us'])} | {ratio:.1f} | {us(r['max_us'])} | "
                f"{result}{errors} |")
    return rows if found else []


def startup_table(lines):
    rows = [
        "| service | to SERVING | goal ≤ 2 s | RSS after |",
        "|---|---|---|---|",
    ]
    resync = next((r for r in lines if r.get("kind") == "resync"), None)
    found = False
    for r in lines:
        if r.get("kind") != "startup":
            continue
        found = True
        after = r["line"]["serving_after_ms"]
        rss = resync["rss"][r["service"]]["rss_kb"] / MIB if resync else 0
        result = verdict(after <= 2000, "%.1f × the bound" % (after / 2000))
        rows.append(f"| {r['service']} | {ms(after)} | {result} | "
                    f"{rss:.0f} MiB |")
    if resync:
        rows += [
            "",
            f"Scoring's re-sync of an emptied Redis ({resync['keys']:,} keys) "
            f"took {resync['seconds']} s from its start; Redis's longest "
            "latency event meanwhile: " + redis_latency_text(resync)
            + " (goal: ≤ 1 ms while a board is swapped).",
        ]
    return rows if found else []


def read_run(path):
    """(context, lines) of one run's JSON lines; the context is its first."""
    lines = [json.loads(l) for l in open(path, encoding="utf-8")
             if l.strip()]
    contexts = [l for l in lines if l.get("kind") == "context"]
    if len(contexts) != 1:
        sys.exit(f"report.py: {path}: want one context line, got "
                 f"{len(contexts)}")
    return contexts[0], [l for l in lines if l.get("kind") != "context"]


def run_header(ctx, results):
    out = [
        f"- Command: `{ctx['command']}`",
        f"- Date: {ctx['date']}",
        f"- Commit: {ctx['commit']}",
        f"- Build: {ctx['build']}",
        f"- Machine: {ctx['machine']}",
        f"- Data: {ctx['data']}",
    ]
    if ctx.get("storage"):
        out.append(f"- Storage: {ctx['storage']}")
    out += [
        f"- Scoring: `--board_near_cache_entries="
        f"{ctx.get('board_near_cache_entries', 0)}`"
        + (" (its near-cache of board reads; off by default)"
           if ctx.get("board_near_cache_entries") else " (off)"),
    ]
    if ctx.get("summary_cache_villages") is not None:
        out.append(f"- Projects: `--summary_cache_villages="
                   f"{ctx['summary_cache_villages']}` (its bound on the "
                   "summary figures kept on its heap)")
    out.append(f"- Measurements: `{os.path.basename(results)}`")
    if not ctx["build"].startswith("Release"):
        out += ["", "**Preliminary**: not a Release build."]
    return out


def engines_sections(ctx, lines):
    names = [ENGINE_NAMES[e] for e in engines_of(ctx)]
    return [
        ("Reads and writes on each engine",
         "The same data loaded into one stack per engine (its own "
         "redis-server and three services), then every figure under load "
         f"on each: {ctx['connections']} connections × {ctx['in_flight']} "
         f"calls in flight, warm-up {ctx['warmup']}, {ctx['duration']} "
         f"measured, {ctx['repeat']} repetitions, each run on every engine "
         f"in turn ({', '.join(names)}), so that the machine's noise falls "
         "on each engine alike. Calls/s, p50 and p99 are medians over the "
         f"repetitions; the ratio divides {names[-1]}'s calls/s by {names[0]}'s in the "
         "same repetition. Any failed call, warm-up included, makes a "
         "figure invalid.",
         engines_figures_table(lines, ctx)),
        ("Loads on each engine",
         "Each load through the CLI as an operator runs it, into each "
         f"engine's stack in turn ({', '.join(names)}), once; the ratio "
         f"divides {names[-1]}'s seconds by {names[0]}'s.",
         engines_loads_table(lines, ctx)),
    ]


def run_sections(ctx, lines, level):
    if ctx.get("engines"):
        sections = engines_sections(ctx, lines)
    else:
        sections = usual_sections(ctx, lines)
    out = []
    for title, text, rows in sections:
        if rows:
            out += ["", f"{'#' * level} {title}", "", text, ""] + rows
    return out


def usual_sections(ctx, lines):
    by_label = probe_lines(lines)
    return [
        ("Reads and writes under load",
         f"{ctx['connections']} connections × {ctx['in_flight']} calls in "
         f"flight, warm-up {ctx['warmup']}, {ctx['duration']} measured, "
         f"{ctx['repeat']} repetitions each beside a Ping run; calls/s, p50 "
         "and p99 are medians over the repetitions. Any failed call, warm-up "
         "included, makes a figure invalid.",
         figures_table(lines, ctx)),
        ("The same reads through h2load",
         "A second opinion on the load tool: h2load (nghttp2) with the same "
         "connections and calls in flight, one pre-framed request body per "
         "figure (checked once through a gRPC client to answer OK, since "
         "h2load sees HTTP/2 status only).",
         h2load_table(lines, ctx)),
        ("Region summaries",
         "GetSummary one call at a time, beside a Ping's p50 one call at a "
         "time.",
         summaries_table(by_label)),
        ("Loads",
         "Each load through the CLI as an operator runs it. The SQLite "
         "reference is the rows the load wrote (per table, after EXCEPT "
         "before), inserted by the sqlite3 shell in one transaction (WAL, "
         "synchronous=FULL) into a copy of the database as it was before. "
         "The Redis reference is the boards the evaluation left, written "
         "by `redis-cli --pipe` as variadic ZADDs of 1,000 members. Peak "
         "RSS is a service's VmHWM since it started.",
         loads_table(lines)),
        ("Latency while loads run",
         "Probes with one call in flight, started 5 ms apart at most, on "
         "each service's health and on unrelated reads, during each load and during a province "
         "summary, against the same probe on the idle system.",
         probes_table(by_label)),
        ("Start-up",
         "Each service restarted on its loaded database: from the start of "
         "the process to a SERVING health answer (polled every 5 ms).",
         startup_table(lines)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, action="append",
                        help="a run's JSON lines; the first is the main "
                        "run, later ones (e.g. another scale) follow it")
    parser.add_argument("--out", required=True)
    parser.add_argument("--notes", help="Markdown appended as it is: what "
                        "limits each figure that misses its goal")
    args = parser.parse_args()
    ctx, lines = read_run(args.results[0])
    out = [
        "# Benchmarks",
        "",
        "Written by `scripts/bench.sh` (README.md, \"Benchmarks\"; issue "
        "10). These machines are shared and noisy, so every figure is a "
        "ratio to a reference measured in the same run: the Ping reference "
        "(`fivestar-bench serve-ping`: the same ServerHost, executor and "
        "authentication as the services, an empty handler), the same rows "
        "written by `sqlite3` and `redis-cli --pipe`, or the same probe on "
        "the idle system.",
        "",
    ] + run_header(ctx, args.results[0]) + run_sections(ctx, lines, 2)
    for path in args.results[1:]:
        other, other_lines = read_run(path)
        title = (engines_title(other) if other.get("engines")
                 else f"At {other['scale']} scale")
        out += ["", f"## {title}", ""]
        out += run_header(other, path) + run_sections(other, other_lines, 3)
    if args.notes:
        out += ["", open(args.notes, encoding="utf-8").read().rstrip()]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
