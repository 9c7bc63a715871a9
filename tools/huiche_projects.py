#!/usr/bin/env python3
"""Turns the source article's township (shared/data/huiche.json) into project
tracking's demo data, in two newline-delimited JSON files (protobuf's JSON
mapping with the proto field names):

  OUT_DIR/projects.ndjson    one fivestar.projects.v1.ProjectRecord per line,
                             for ImportProjects
  OUT_DIR/indicators.ndjson  one fivestar.projects.v1.IndicatorValue per line,
                             for SetIndicatorValues (the 2022-09 values)

What it generates, per village of the source:
  * exactly practical_tasks.total projects, of which practical_tasks.delivered
    are delivered by 2022-09-30 (193 and 145 for the township, 75.1 %);
    Dangziling's include the five named projects of the article (the 4,000 m
    riverside road is surveyed, not delivered);
  * progress reports in exactly weeks_with_report_last_12 of the 12 weeks
    (7-day windows) ending 2022-09-30 23:59:59 China time;
  * its 2022-09 indicator values.

Everything is deterministic and keyed (project keys and report request_ids
derive from the village id and position), so importing the output twice
changes nothing the second time.

Usage: tools/huiche_projects.py SOURCE.json OUT_DIR
Uses only the Python standard library.
"""
import datetime
import json
import os
import sys

PERIOD = "2022-09"
START_DATE = "2022-03-01"
DELIVERED_DUE = "2022-09-30"
OPEN_DUE = "2022-12-31"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
# The last day of the 12 weeks; week k (0 = latest) covers the seven days
# ending LAST_DAY - 7k.
LAST_DAY = datetime.date(2022, 9, 30)

# Generic practical tasks, by star: (title, English title, unit, target).
TEMPLATES = {
    "BRANCH_STRONG": [
        ("党群服务中心规范化建设", "Party-mass service centre upgrade",
         "rooms", 6),
        ("村务公开栏更新", "Village affairs notice boards renewed", "boards",
         4),
    ],
    "INDUSTRY_THRIVING": [
        ("特色产业基地扩建", "Signature industry base expanded", "mu", 60),
        ("农民技能培训", "Farmer skills training", "people", 120),
    ],
    "ECO_LIVABLE": [
        ("人居环境整治", "Living environment clean-up", "households", 80),
        ("道路亮化工程", "Street lighting", "lights", 40),
        ("村庄绿化", "Village greening", "trees", 500),
    ],
    "SAFE_LAWFUL": [
        ("高清视频监控补点", "HD camera coverage filled in", "cameras", 10),
        ("矛盾纠纷排查化解", "Dispute screening and mediation", "visits", 50),
    ],
    "CIVILIZED_HAPPY": [
        ("新时代文明实践活动", "Civilization practice activities",
         "activities", 12),
        ("星级文明户评选", "Star civilized household selection",
         "households", 20),
    ],
}
STARS = list(TEMPLATES)
ROAD_SURVEY_NOTE = "全线4000米勘查完成 / all 4,000 m surveyed"


def week_day(k):
    """The Wednesday of week k (LAST_DAY, 2022-09-30, is a Friday)."""
    return LAST_DAY - datetime.timedelta(days=7 * k + 2)


def report_time(k, minute):
    moment = datetime.datetime.combine(week_day(k), datetime.time(10, 0),
                                       CHINA) + datetime.timedelta(
                                           minutes=minute)
    return moment.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def reporting_weeks(count):
    """`count` of the 12 weeks, oldest first; the skipped ones spread out."""
    skipped = [2, 7, 10, 4, 9, 0, 5, 11, 1, 6, 3, 8][:12 - count]
    return sorted((k for k in range(12) if k not in skipped), reverse=True)


def split(quantity):
    """Two deliveries adding up to `quantity`: about 40 %, then the rest."""
    first = round(quantity * 0.4)
    return [first, quantity - first]


def generic_tasks(village, count, offset):
    tasks = []
    for i in range(count):
        star = STARS[(offset + i) % len(STARS)]
        templates = TEMPLATES[star]
        n = (offset + i) // len(STARS)
        title, title_en, unit, target = templates[n % len(templates)]
        group = n // len(templates) + 1
        if group > 1:
            title = f"{title}（{group}期）"
            title_en = f"{title_en} (phase {group})"
        tasks.append({
            "title": title,
            "title_en": title_en,
            "star": star,
            "target": target,
            "unit": unit,
        })
    return tasks


def village_tasks(village, named):
    """The village's tasks, each with how much of it is delivered."""
    total = village["practical_tasks"]["total"]
    delivered = village["practical_tasks"]["delivered"]
    tasks = [dict(project, named=True) for project in named]
    named_done = sum(1 for p in named if p["delivered"] >= p["target"])
    generic = generic_tasks(village, total - len(named), len(named))
    open_left = (total - delivered) - (len(named) - named_done)
    if open_left < 0 or open_left > len(generic):
        sys.exit(f"{village['id']}: the named projects do not fit its counts")
    for i, task in enumerate(generic):
        # The last `open_left` generic tasks are still open; every other
        # open one has a first delivery (IN_PROGRESS), the rest none.
        is_open = i >= len(generic) - open_left
        if not is_open:
            task["delivered"] = task["target"]
        elif (len(generic) - i) % 2 == 1:
            task["delivered"] = task["target"] // 2
        else:
            task["delivered"] = 0
        tasks.append(task)
    return tasks


def reports_of(task):
    """The report quantities (and notes) of a task, oldest first."""
    if task["delivered"] >= task["target"]:
        return [(q, "") for q in split(task["target"])]
    if task["delivered"] > 0:
        return [(task["delivered"], "")]
    if task.get("named"):
        return [(0, ROAD_SURVEY_NOTE)]
    return []


def village_records(village, named):
    tasks = village_tasks(village, named)
    per_task = [reports_of(task) for task in tasks]
    # Flatten first reports of every task, then second reports, and so on:
    # spreading that order monotonically over the reporting weeks keeps each
    # task's reports in time order and touches every chosen week.
    order = []
    for depth in range(max(len(r) for r in per_task)):
        for t, reports in enumerate(per_task):
            if depth < len(reports):
                order.append((t, depth))
    weeks = reporting_weeks(village["weeks_with_report_last_12"])
    if len(order) < len(weeks):
        sys.exit(f"{village['id']}: {len(order)} reports cannot cover "
                 f"{len(weeks)} weeks")
    times = {}
    for i, slot in enumerate(order):
        times[slot] = report_time(weeks[i * len(weeks) // len(order)], i)
    records = []
    for t, task in enumerate(tasks):
        key = f"huiche:{village['id']}:{t + 1:02d}"
        done = task["delivered"] >= task["target"]
        project = {
            "village_id": village["id"],
            "title": task["title"],
            "title_en": task["title_en"],
            "star": task["star"],
            "target_quantity": task["target"],
            "unit": task["unit"],
            "start_date": START_DATE,
            "due_date": DELIVERED_DUE if done else OPEN_DUE,
        }
        if task.get("named") and not done:
            project["due_date"] = "2023-12-31"
        if village.get("branch_secretary"):
            project["owner"] = village["branch_secretary"]
        reports = []
        for depth, (quantity, note) in enumerate(per_task[t]):
            report = {
                "quantity": quantity,
                "report_time": times[(t, depth)],
                "request_id": f"{key}:r{depth + 1}",
            }
            if note:
                report["note"] = note
            reports.append(report)
        record = {"key": key, "project": project}
        if reports:
            record["reports"] = reports
        records.append(record)
    return records


def indicator_values(village):
    return [{
        "village_id": village["id"],
        "indicator_key": key,
        "period": PERIOD,
        "value": value,
    } for key, value in sorted(village["indicators_2022_09"].items())]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    if data["period"] != PERIOD:
        sys.exit(f"expected the {PERIOD} data set, got {data['period']}")
    named = {}
    for project in data["projects"]:
        named.setdefault(project["village"], []).append(project)
    projects, values = [], []
    for village in data["villages"]:
        projects += village_records(village, named.get(village["id"], []))
        values += indicator_values(village)
    total = sum(v["practical_tasks"]["total"] for v in data["villages"])
    if len(projects) != total or total != data["totals"]["practical_tasks"]:
        sys.exit(f"generated {len(projects)} projects, expected {total}")
    os.makedirs(sys.argv[2], exist_ok=True)
    for name, rows in (("projects.ndjson", projects),
                       ("indicators.ndjson", values)):
        with open(os.path.join(sys.argv[2], name), "w",
                  encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
