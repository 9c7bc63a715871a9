#!/usr/bin/python3
"""Deterministic test data for fivestar at three scales, in the import
formats of data/huiche/ (newline-delimited JSON, protobuf's JSON mapping with
the proto field names):

  OUT/registry.ndjson    fivestar.registry.v1.RegistryRecord per line, the
                         regions first (parents before children), then the
                         villages: for `fivestar import-registry`
  OUT/projects.ndjson    fivestar.projects.v1.ProjectRecord per line, each
                         project with its progress reports: for
                         `fivestar import-projects`
  OUT/indicators.ndjson  fivestar.projects.v1.IndicatorValue per line, every
                         default catalogue indicator of every village for
                         2022-09: for `fivestar set-indicators`

Scales (regions and villages are exact; see tools/datagen/README.md):
  small     1 province, 2 cities, 4 counties, 20 townships, 400 villages
  province  1 province (Henan, 410000), 17 cities, 157 counties,
            2,400 townships, 46,000 villages
  national  31 provinces, 333 cities, 2,844 counties, 38,600 townships,
            500,000 villages

Every village gets 5 practical tasks (one per star) with 0-6 progress
reports dated in the 12 weeks ending 2022-09-30 (China time), and its
2022-09 indicator values. Each village draws a strength and, per star,
whether it is meant to earn that star under the default rubric
(data/rubrics/default.textproto); its tasks, reports, registry fields and
indicators are then drawn to pass or fail that star's criteria. The summary
shows the intended distribution of stars.

The same --scale and --seed give byte-identical files (one Mersenne Twister,
drawn in a fixed order); project keys and report request_ids contain the
seed, so data sets of different seeds never collide on keys.

Usage: /usr/bin/python3 tools/datagen/generate.py --scale=small --seed=1 \\
           --out=/tmp/small
Uses only the Python standard library.
"""
import argparse
import datetime
import json
import os
import random
import sys
import time

PERIOD = "2022-09"
# The 12 reporting weeks are the 7-day windows ending 2022-09-30 23:59:59
# China time; week k (0 = latest) covers LAST_DAY - 7k - 6 .. LAST_DAY - 7k.
LAST_DAY = datetime.date(2022, 9, 30)
WEEKS = 12
START_DATE = "2022-03-01"
OPEN_DUE = "2022-12-31"
TASKS_PER_VILLAGE = 5

# name: (provinces, cities, counties, townships, villages)
SCALES = {
    "small": (1, 2, 4, 20, 400),
    "province": (1, 17, 157, 2400, 46000),
    "national": (31, 333, 2844, 38600, 500000),
}

# The provinces of the national scale: national division code prefix, name,
# English name. The single province of the other scales is Henan (41).
PROVINCES = [
    ("11", "北京市", "Beijing"), ("12", "天津市", "Tianjin"),
    ("13", "河北省", "Hebei"), ("14", "山西省", "Shanxi"),
    ("15", "内蒙古自治区", "Inner Mongolia"), ("21", "辽宁省", "Liaoning"),
    ("22", "吉林省", "Jilin"), ("23", "黑龙江省", "Heilongjiang"),
    ("31", "上海市", "Shanghai"), ("32", "江苏省", "Jiangsu"),
    ("33", "浙江省", "Zhejiang"), ("34", "安徽省", "Anhui"),
    ("35", "福建省", "Fujian"), ("36", "江西省", "Jiangxi"),
    ("37", "山东省", "Shandong"), ("41", "河南省", "Henan"),
    ("42", "湖北省", "Hubei"), ("43", "湖南省", "Hunan"),
    ("44", "广东省", "Guangdong"), ("45", "广西壮族自治区", "Guangxi"),
    ("46", "海南省", "Hainan"), ("50", "重庆市", "Chongqing"),
    ("51", "四川省", "Sichuan"), ("52", "贵州省", "Guizhou"),
    ("53", "云南省", "Yunnan"), ("54", "西藏自治区", "Tibet"),
    ("61", "陕西省", "Shaanxi"), ("62", "甘肃省", "Gansu"),
    ("63", "青海省", "Qinghai"), ("64", "宁夏回族自治区", "Ningxia"),
    ("65", "新疆维吾尔自治区", "Xinjiang"),
]
HENAN = ("41", "河南省", "Henan")

# Syllables for place names: (hanzi, pinyin).
SYLLABLES = [
    ("河", "he"), ("山", "shan"), ("桥", "qiao"), ("庄", "zhuang"),
    ("湾", "wan"), ("岭", "ling"), ("沟", "gou"), ("坪", "ping"),
    ("林", "lin"), ("石", "shi"), ("水", "shui"), ("王", "wang"),
    ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("周", "zhou"),
    ("吴", "wu"), ("新", "xin"), ("东", "dong"), ("西", "xi"),
    ("南", "nan"), ("北", "bei"), ("上", "shang"), ("下", "xia"),
    ("前", "qian"), ("后", "hou"), ("大", "da"), ("小", "xiao"),
    ("马", "ma"), ("牛", "niu"), ("龙", "long"), ("凤", "feng"),
    ("花", "hua"), ("园", "yuan"), ("柳", "liu"), ("杏", "xing"),
    ("枣", "zao"), ("松", "song"), ("泉", "quan"), ("井", "jing"),
    ("寨", "zhai"), ("营", "ying"), ("店", "dian"), ("集", "ji"),
]
INDUSTRIES = [
    "edible fungi", "kiwifruit", "herbal medicine", "flowers", "tea",
    "agri-tourism", "e-commerce", "pig farming", "cattle and sheep",
    "vegetables", "fruit orchards", "agri-product processing", "services",
    "aquaculture", "handicrafts", "logistics",
]

# The stars in the enum order of fivestar.common.v1.Star.
STARS = ["BRANCH_STRONG", "INDUSTRY_THRIVING", "ECO_LIVABLE", "SAFE_LAWFUL",
         "CIVILIZED_HAPPY"]
# Task templates by star, (title, English title, unit, base target): the
# ones the Huiche data uses (tools/huiche_projects.py), kept in one place.
sys.dont_write_bytecode = True  # Nothing written into the source tree.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from huiche_projects import TEMPLATES  # noqa: E402

CHINA = datetime.timezone(datetime.timedelta(hours=8))


def week_start(k):
    """09:00 China time on the first day of week k, as a UTC datetime."""
    day = LAST_DAY - datetime.timedelta(days=7 * k + 6)
    return datetime.datetime.combine(day, datetime.time(9, 0),
                                     CHINA).astimezone(datetime.timezone.utc)


# Each week's start in UTC: its date prefix and minutes after midnight. A
# village's reports in one week lie at most 20 × 37 + 29 minutes later, on
# the same UTC day.
WEEK_STARTS = [(week_start(k).strftime("%Y-%m-%dT"),
                week_start(k).hour * 60 + week_start(k).minute)
               for k in range(WEEKS)]


def allocate(total, parts, rng, spread):
    """`parts` positive integers summing to `total`, each near total/parts
    (weights drawn in [1 - spread/2, 1 + spread/2]); largest remainder."""
    if total < parts:
        sys.exit(f"datagen: cannot split {total} into {parts} parts")
    weights = [1 - spread / 2 + spread * rng.random() for _ in range(parts)]
    extra = total - parts  # every part gets 1, the rest by weight
    scale = extra / sum(weights)
    quotas = [w * scale for w in weights]
    counts = [int(q) for q in quotas]
    left = extra - sum(counts)
    by_remainder = sorted(range(parts), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return [c + 1 for c in counts]


def place_name(rng):
    """A two-syllable place name: (hanzi, Pinyin)."""
    n = len(SYLLABLES)
    a = SYLLABLES[int(rng.random() * n)]
    b = SYLLABLES[int(rng.random() * n)]
    return a[0] + b[0], (a[1] + b[1]).capitalize()


def region_line(region_id, kind, name, name_en, parent_id):
    parent = f', "parent_id": "{parent_id}"' if parent_id else ""
    return (f'{{"region": {{"id": "{region_id}", "kind": "{kind}", '
            f'"name": "{name}", "name_en": "{name_en}"{parent}}}}}\n')


def build_regions(scale, rng):
    """The region tree: a list of region lines (parents first) and the
    township ids in order, with the villages per township."""
    n_prov, n_city, n_county, n_town, n_village = SCALES[scale]
    provinces = PROVINCES if n_prov == len(PROVINCES) else [HENAN]
    cities = allocate(n_city, n_prov, rng, 0.8)
    counties = allocate(n_county, n_city, rng, 0.6)
    towns = allocate(n_town, n_county, rng, 0.6)
    villages = allocate(n_village, n_town, rng, 0.8)
    lines, townships = [], []
    city_i = county_i = town_i = 0
    for p, (code, name, name_en) in enumerate(provinces):
        province_id = code + "0000"
        lines.append(region_line(province_id, "PROVINCE", name, name_en, ""))
        for c in range(cities[p]):
            city_id = f"{code}{c + 1:02d}00"
            zh, en = place_name(rng)
            lines.append(region_line(city_id, "CITY", zh + "市", en,
                                     province_id))
            for k in range(counties[city_i]):
                county_id = f"{city_id[:4]}{k + 1:02d}"
                zh, en = place_name(rng)
                lines.append(region_line(county_id, "COUNTY", zh + "县", en,
                                         city_id))
                for t in range(towns[county_i]):
                    town_id = f"{county_id}{t + 1:03d}"
                    zh, en = place_name(rng)
                    suffix = "镇" if rng.random() < 0.7 else "乡"
                    lines.append(region_line(town_id, "TOWNSHIP", zh + suffix,
                                             en, county_id))
                    townships.append((town_id, villages[town_i]))
                    town_i += 1
                county_i += 1
            city_i += 1
    return lines, townships


def split_positive(total, parts, rng):
    """`parts` positive integers summing to `total` (total >= parts)."""
    cuts = sorted({1 + int(rng.random() * (total - 1)) for _ in range(parts - 1)}
                  ) if parts > 1 else []
    while len(cuts) < parts - 1:  # collisions: fill with unused points
        for x in range(1, total):
            if x not in cuts:
                cuts.append(x)
                cuts.sort()
                break
    bounds = [0] + cuts + [total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def number(x):
    """A JSON number: whole values without a fraction."""
    return str(int(x)) if x == int(x) else repr(x)


class Village:
    """One generated village: its intended stars and everything drawn for
    them, written as lines of the three files."""

    def __init__(self, village_id, township_id, rng, seed):
        self.id = village_id
        r = rng.random
        strength = 0.15 + 0.8 * r()
        self.earn = [r() < strength for _ in STARS]
        self.stars = sum(self.earn)
        zh, en = place_name(rng)
        community = r() < 0.08
        self.kind = "COMMUNITY" if community else "VILLAGE"
        self.name = zh + ("社区" if community else "村")
        self.name_en = en
        self.region_id = township_id
        self.key_prefix = f"gen-s{seed}:{village_id}"
        # Target level (定星): near the stars it is set up to earn.
        self.target_level = max(0, min(5, self.stars + int(r() * 3) - 1))
        self.households = 150 + int(r() * 1200)
        self.population = self.households * 3 + int(r() * self.households)
        self.party_members = 15 + int(r() * 80)
        self.grids = 3 + int(r() * 15)
        self._branch(rng)
        self._industry(rng)
        self._civilized(rng)

    def _branch(self, rng):
        """BRANCH_STRONG: >= 75 % of tasks delivered (mandatory, 40), >= 5
        committee members (20), reports in >= 90 % of 12 weeks (40)."""
        r = rng.random
        if self.earn[0]:
            self.delivered = 4 + int(r() * 2)  # 4 or 5 of 5: >= 80 %
            mode = int(r() * 3)  # committee, reporting, or both
            committee_ok = mode != 1
            reporting_ok = mode != 0
        else:
            mode = int(r() * 3)
            if mode == 0:  # near miss: 40 points only
                self.delivered = 4
                committee_ok = reporting_ok = False
            else:  # the mandatory completion fails
                self.delivered = 1 + int(r() * 3)
                committee_ok = r() < 0.6
                reporting_ok = r() < 0.5
        self.committee_members = (5 + int(r() * 5) if committee_ok else
                                  2 + int(r() * 3))
        self.report_weeks = (11 + int(r() * 2) if reporting_ok else
                             3 + int(r() * 8))

    def _industry(self, rng):
        """INDUSTRY_THRIVING: collective income >= 100,000 (mandatory, 50),
        >= 1 signature industry (20), >= 100 people trained (30)."""
        r = rng.random
        if self.earn[1]:
            self.income = 100000 + int(r() * 700) * 1000
            mode = int(r() * 3)  # industries, training, or both
            industries_ok, trained_ok = mode != 1, mode != 0
        else:
            if r() < 0.7:
                self.income = 5000 + int(r() * 95) * 1000
                industries_ok, trained_ok = r() < 0.7, r() < 0.5
            else:  # near miss: the income alone, 50 points
                self.income = 100000 + int(r() * 300) * 1000
                industries_ok = trained_ok = False
        n = len(INDUSTRIES)
        if industries_ok:
            first = int(r() * n)
            second = int(r() * n)
            self.industries = [INDUSTRIES[first]]
            if second != first and r() < 0.5:
                self.industries.append(INDUSTRIES[second])
        else:
            self.industries = []
        self.trained = 100 + int(r() * 200) if trained_ok else int(r() * 100)

    def _civilized(self, rng):
        """CIVILIZED_HAPPY: >= 1 civilized family (30), >= 1 moral model
        (30), >= 12 civic activities (40); no mandatory criterion."""
        r = rng.random
        # Combinations of (families, models, activities) reaching 60 points,
        # and those below it.
        passing = [(1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
        failing = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
        options = passing if self.earn[4] else failing
        fam, models, acts = options[int(r() * 4)]
        self.families = 1 + int(r() * 30) if fam else 0
        self.models = 1 + int(r() * 4) if models else 0
        self.activities = 12 + int(r() * 10) if acts else int(r() * 12)

    def registry_line(self):
        industries = ", ".join(f'"{x}"' for x in self.industries)
        return (f'{{"village": {{"id": "{self.id}", "name": "{self.name}", '
                f'"name_en": "{self.name_en}", "region_id": "{self.region_id}", '
                f'"kind": "{self.kind}", "committee_members": '
                f'{self.committee_members}, "party_members": '
                f'{self.party_members}, "households": {self.households}, '
                f'"population": {self.population}, "grids": {self.grids}, '
                f'"signature_industries": [{industries}], "target_level": '
                f'{self.target_level}, "target_year": 2022}}}}\n')

    def project_lines(self, rng):
        """The five tasks with their reports; returns (text, reports)."""
        r = rng.random
        # Which tasks are delivered: `delivered` of the five, at random.
        order = list(range(TASKS_PER_VILLAGE))
        for i in range(TASKS_PER_VILLAGE - 1, 0, -1):
            j = int(r() * (i + 1))
            order[i], order[j] = order[j], order[i]
        done = set(order[:self.delivered])
        tasks = []
        for t, star in enumerate(STARS):
            templates = TEMPLATES[star]
            title, title_en, unit, base = templates[int(r() * len(templates))]
            target = max(6, int(base * (0.5 + 1.5 * r())))
            if t in done:
                count = 1 + int(r() * 4)  # 1-4 reports reach the target
                quantities = split_positive(target, count, rng)
            elif r() < 0.6:  # in progress: 1-2 reports below the target
                count = 1 + int(r() * 2)
                quantities = split_positive(
                    max(count, int(target * (0.2 + 0.6 * r()))), count, rng)
            else:  # planned: no report yet
                quantities = []
            tasks.append([star, title, title_en, unit, target, t in done,
                          quantities])
        # Enough reports to touch every reporting week: add instalments to
        # delivered tasks (splitting their last one) while short.
        weeks = self.report_weeks
        total = sum(len(task[6]) for task in tasks)
        while total < weeks:
            grown = False
            for task in tasks:
                q = task[6]
                if q and q[-1] >= 2 and total < weeks:
                    half = q[-1] // 2
                    q[-1] -= half
                    q.append(half)
                    total += 1
                    grown = True
            if not grown:
                break
        weeks = min(weeks, total)
        chosen = sorted(range(WEEKS), key=lambda k: (r(), k))[:weeks]
        chosen.sort(reverse=True)  # oldest week first
        # First reports of every task, then second reports, ...: spread over
        # the chosen weeks in that order, each task's reports are in time
        # order and every chosen week gets at least one.
        slots = []
        depth = 0
        while len(slots) < total:
            for t, task in enumerate(tasks):
                if depth < len(task[6]):
                    slots.append((t, depth))
            depth += 1
        times = {}
        per_week = {}
        for i, slot in enumerate(slots):
            k = chosen[i * weeks // total] if total else 0
            j = per_week.get(k, 0)
            per_week[k] = j + 1
            day, minute = WEEK_STARTS[k]
            minute += j * 37 + int(r() * 30)
            times[slot] = f"{day}{minute // 60:02d}:{minute % 60:02d}:00Z"
        out = []
        for t, (star, title, title_en, unit, target, is_done,
                quantities) in enumerate(tasks):
            key = f"{self.key_prefix}:{t + 1}"
            due = "2022-09-30" if is_done else OPEN_DUE
            reports = ", ".join(
                f'{{"quantity": {q}, "report_time": "{times[(t, d)]}", '
                f'"request_id": "{key}:r{d + 1}"}}'
                for d, q in enumerate(quantities))
            reports = f', "reports": [{reports}]' if reports else ""
            out.append(
                f'{{"key": "{key}", "project": {{"village_id": "{self.id}", '
                f'"title": "{title}", "title_en": "{title_en}", "star": '
                f'"{star}", "target_quantity": {target}, "unit": "{unit}", '
                f'"start_date": "{START_DATE}", "due_date": "{due}"}}'
                f'{reports}}}\n')
        return "".join(out), total

    def indicator_lines(self, rng):
        r = rng.random
        # ECO_LIVABLE: the latest inspection score >= 85 (mandatory, 60).
        if self.earn[2]:
            inspection = 85 + int(r() * 31) / 2  # 85.0-100.0 in halves
        else:
            inspection = 50 + int(r() * 70) / 2  # 50.0-84.5
        # SAFE_LAWFUL: zero petitions, accidents and criminal cases (each
        # mandatory, 20 each).
        bad = [0, 0, 0]
        if not self.earn[3]:
            bad[int(r() * 3)] = 1 + int(r() * 2)
            if r() < 0.3:
                bad[int(r() * 3)] += 1
        received = int(r() * 6)
        mediated = received - (1 if received and r() < 0.2 else 0)
        values = [
            ("accidents", bad[1]),
            ("civic_activities", self.activities),
            ("civilized_families", self.families),
            ("collective_income_yuan_ytd", self.income),
            ("criminal_cases", bad[2]),
            ("disputes_mediated", mediated),
            ("disputes_received", received),
            ("grids", self.grids),
            ("hd_cameras_installed", int(r() * 30)),
            ("inspection_score", inspection),
            ("moral_models", self.models),
            ("new_skilled_workers", int(r() * 12)),
            ("people_trained", self.trained),
            ("petitions", bad[0]),
            ("risks_removed", int(r() * 10)),
            ("service_income_yuan", int(r() * 50) * 1000),
            ("star_civilized_households", int(r() * 120)),
        ]
        return "".join(
            f'{{"village_id": "{self.id}", "indicator_key": "{key}", '
            f'"period": "{PERIOD}", "value": {number(value)}}}\n'
            for key, value in values), len(values)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\nUsage:")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See tools/datagen/README.md for more.")
    parser.add_argument("--scale", required=True, choices=sorted(SCALES),
                        help="how much to generate")
    parser.add_argument("--seed", required=True, type=int,
                        help="seed of the generator, 0 or more; the same "
                        "seed and scale give byte-identical files")
    parser.add_argument("--out", required=True,
                        help="directory to write the three files into "
                        "(created when missing; the files are replaced)")
    args = parser.parse_args()
    if args.seed < 0 or args.seed >= 2**63:
        parser.error(f"--seed: must be 0 to 2^63-1, got {args.seed}")

    started = time.monotonic()
    rng = random.Random(args.seed)
    region_lines, townships = build_regions(args.scale, rng)
    n_villages = SCALES[args.scale][4]
    os.makedirs(args.out, exist_ok=True)
    paths = {name: os.path.join(args.out, name + ".ndjson")
             for name in ("registry", "projects", "indicators")}
    progress = args.scale != "small"
    counts = {"projects": 0, "delivered": 0, "reports": 0,
              "indicator_values": 0, "communities": 0}
    stars = [0] * 6
    per_star = [0] * 5
    done = 0
    next_report = n_villages // 10
    buffering = 1 << 20
    with open(paths["registry"], "w", encoding="utf-8",
              buffering=buffering) as registry, \
            open(paths["projects"], "w", encoding="utf-8",
                 buffering=buffering) as projects, \
            open(paths["indicators"], "w", encoding="utf-8",
                 buffering=buffering) as indicators:
        registry.write("".join(region_lines))
        for township_id, count in townships:
            reg, proj, ind = [], [], []
            for v in range(count):
                village = Village(f"{township_id}{v + 1:03d}", township_id,
                                  rng, args.seed)
                reg.append(village.registry_line())
                text, reports = village.project_lines(rng)
                proj.append(text)
                text, values = village.indicator_lines(rng)
                ind.append(text)
                counts["projects"] += TASKS_PER_VILLAGE
                counts["delivered"] += village.delivered
                counts["reports"] += reports
                counts["indicator_values"] += values
                counts["communities"] += village.kind == "COMMUNITY"
                stars[village.stars] += 1
                for s in range(5):
                    per_star[s] += village.earn[s]
            registry.write("".join(reg))
            projects.write("".join(proj))
            indicators.write("".join(ind))
            done += count
            if progress and done >= next_report:
                print(f"datagen: {done:,} of {n_villages:,} villages "
                      f"({100 * done // n_villages} %), "
                      f"{time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
                next_report += n_villages // 10

    n_prov, n_city, n_county, n_town, _ = SCALES[args.scale]
    summary = {
        "scale": args.scale,
        "seed": args.seed,
        "provinces": n_prov,
        "cities": n_city,
        "counties": n_county,
        "townships": n_town,
        "regions": len(region_lines),
        "villages": n_villages,
        "communities": counts["communities"],
        "registry_records": len(region_lines) + n_villages,
        "projects": counts["projects"],
        "projects_delivered": counts["delivered"],
        "reports": counts["reports"],
        "indicator_values": counts["indicator_values"],
        "period": PERIOD,
        "intended_stars": {str(n): stars[n] for n in range(6)},
        "intended_per_star": dict(zip(STARS, per_star)),
        "bytes": {name + ".ndjson": os.path.getsize(path)
                  for name, path in paths.items()},
    }
    for key, value in summary.items():
        print(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    print(f"datagen: wrote {args.out} in {time.monotonic() - started:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
