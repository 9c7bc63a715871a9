#!/usr/bin/env python3
"""Computes tests/scoring/testdata/huiche_2022-09_expected.txt from data/huiche.

A throwaway, independent re-statement of the default rubric (DESIGN §5) and of
project tracking's summary definitions, deliberately sharing no code with the
C++ evaluator, so that the expectations check it rather than echo it.
Run from the repository root:
  python3 tests/scoring/testdata/make_huiche_expected.py \
      > tests/scoring/testdata/huiche_2022-09_expected.txt
"""
import collections
import datetime as dt
import json

STARS = ["BRANCH_STRONG", "INDUSTRY_THRIVING", "ECO_LIVABLE", "SAFE_LAWFUL",
         "CIVILIZED_HAPPY"]
PERIOD = "2022-09"
# 2022-09-30 23:59:59.999999 China time (UTC+8): common/calendar EndOfMonth.
AS_OF = dt.datetime(2022, 9, 30, 15, 59, 59, 999999, tzinfo=dt.timezone.utc)
AS_OF_DAY = "2022-09-30"
WEEK_US = 7 * 24 * 3600 * 1_000_000


def micros(t):
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(
        microseconds=1)


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def num(x):
    # common/field_rules FormatNumber: "%.15g".
    return "%.15g" % x


villages = []
for line in open("data/huiche/registry.ndjson"):
    record = json.loads(line)
    if "village" in record:
        villages.append(record["village"])

indicators = collections.defaultdict(dict)
for line in open("data/huiche/indicators.ndjson"):
    record = json.loads(line)
    indicators[record["village_id"]][(record["indicator_key"],
                                      record["period"])] = record["value"]

# Tasks per village: (star, target, delivered quantity, report count).
tasks = collections.defaultdict(list)
report_times = collections.defaultdict(list)
for line in open("data/huiche/projects.ndjson"):
    record = json.loads(line)
    project = record["project"]
    village = project["village_id"]
    reports = record.get("reports", [])
    for report in reports:
        report_times[village].append(parse_time(report["report_time"]))
    if project["start_date"] > AS_OF_DAY:
        continue
    counted = [r for r in reports if parse_time(r["report_time"]) <= AS_OF]
    quantity = sum(r["quantity"] for r in counted)
    target = project["target_quantity"]
    delivered = bool(counted) and quantity >= target - 1e-9 * max(1, abs(target))
    tasks[village].append((project["star"], delivered))


def reporting_weeks(village):
    weeks = set()
    for t in report_times[village]:
        if t > AS_OF:
            continue
        k = (micros(AS_OF) - micros(t)) // WEEK_US
        if k < 12:
            weeks.add(k)
    return len(weeks)


def rate(village, star):
    chosen = [d for s, d in tasks[village] if star is None or s == star]
    return sum(chosen), len(chosen)  # no cancelled tasks in the data


def value(village, key):
    # Only 2022-09 values exist: LATEST and 12-month sums are this value.
    return indicators[village].get((key, PERIOD))


FAIL_OP = {"GE": "<", "EQ": "!="}


def holds(op, actual, threshold):
    if op == "GE":
        return actual >= threshold
    return abs(actual - threshold) <= 1e-9 * max(1, abs(threshold))


def criteria(village, v):
    """(star, id, actual, op, threshold, points, mandatory) per criterion."""
    out = []
    d, n = rate(village, None)
    out.append(("BRANCH_STRONG", "branch_task_completion",
                1.0 if n == 0 else d / n, "GE", 0.75, 40, True))
    out.append(("BRANCH_STRONG", "branch_committee_members",
                v.get("committee_members", 0), "GE", 5, 20, False))
    out.append(("BRANCH_STRONG", "branch_weekly_reporting",
                reporting_weeks(village) / 12, "GE", 0.9, 40, False))
    out.append(("INDUSTRY_THRIVING", "industry_collective_income",
                value(village, "collective_income_yuan_ytd"), "GE", 100000, 50,
                True))
    out.append(("INDUSTRY_THRIVING", "industry_signature_industries",
                len(v.get("signature_industries", [])), "GE", 1, 20, False))
    out.append(("INDUSTRY_THRIVING", "industry_people_trained",
                value(village, "people_trained") or 0, "GE", 100, 30, False))
    out.append(("ECO_LIVABLE", "eco_inspection_score",
                value(village, "inspection_score"), "GE", 85, 60, True))
    d, n = rate(village, "ECO_LIVABLE")
    out.append(("ECO_LIVABLE", "eco_task_completion",
                1.0 if n == 0 else d / n, "GE", 0.8, 40, False))
    for key, cid in (("petitions", "safe_zero_petitions"),
                     ("accidents", "safe_zero_accidents"),
                     ("criminal_cases", "safe_zero_criminal_cases")):
        out.append(("SAFE_LAWFUL", cid, value(village, key) or 0, "EQ", 0, 20,
                    True))
    out.append(("SAFE_LAWFUL", "safe_hd_cameras",
                value(village, "hd_cameras_installed"), "GE", 10, 20, False))
    received = value(village, "disputes_received") or 0
    mediated = value(village, "disputes_mediated") or 0
    out.append(("SAFE_LAWFUL", "safe_disputes_mediated",
                1.0 if received == 0 else mediated / received, "GE", 0.95, 20,
                False))
    out.append(("CIVILIZED_HAPPY", "civilized_families",
                value(village, "civilized_families"), "GE", 1, 30, False))
    out.append(("CIVILIZED_HAPPY", "civilized_moral_models",
                value(village, "moral_models"), "GE", 1, 30, False))
    out.append(("CIVILIZED_HAPPY", "civilized_civic_activities",
                value(village, "civic_activities") or 0, "GE", 12, 40, False))
    return out


print("""\
# Expected evaluations of the 21 Huiche villages (data/huiche) for 2022-09
# under the default rubric (data/rubrics/default.textproto), no global rules.
#
# Computed by tests/scoring/testdata/make_huiche_expected.py, a Python
# re-statement of DESIGN §5 and of project tracking's summary definitions
# that shares no code with the C++ evaluator: as of 2022-09-30 23:59:59.999999
# China time; a task counts when start_date <= 2022-09-30 and is delivered
# when its reports up to then sum to its target; weekly compliance = share of
# the 12 seven-day windows ending then with a report on any of the village's
# tasks; indicator values exist only for 2022-09, so LATEST and 12-month sums
# are the September value.
#
# Format (parsed by tests/scoring/huiche_expected.h): one line per village,
#   <village_id> stars=<n> points=<n> <STAR>=<earned 0|1>:<points> x5 [| <STAR>: <reason>]...
# the five stars in star order; one "| <STAR>: <reason>" part per star not
# earned, with the reason exactly as StarResult.reason (evaluator.h).""")
for v in villages:
    results = criteria(v["id"], v)
    parts, reasons, stars, total = [], [], 0, 0
    for star in STARS:
        mine = [c for c in results if c[0] == star]
        points, causes = 0, []
        for _, cid, actual, op, threshold, pts, mandatory in mine:
            missing = actual is None
            met = not missing and holds(op, actual, threshold)
            if met:
                points += pts
            elif mandatory:
                causes.append("mandatory criterion %s not met (%s)" % (
                    cid, "no value" if missing else "%s %s %s" % (
                        num(actual), FAIL_OP[op], num(threshold))))
        earned = not causes and points >= 60
        if points >= 60:
            causes.append("%d points, pass mark 60" % points)
        else:
            causes.append("%d points, below pass mark 60" % points)
        stars += earned
        total += points
        parts.append("%s=%d:%d" % (star, earned, points))
        if not earned:
            reasons.append("%s: %s" % (star, "; ".join(causes)))
    print(" | ".join(["%s stars=%d points=%d %s" % (v["id"], stars, total,
                                                      " ".join(parts))] +
                     reasons))
