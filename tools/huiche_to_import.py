#!/usr/bin/env python3
"""Turns the source article's township (shared/data/huiche.json) into the
project's own import format: newline-delimited JSON, one
fivestar.registry.v1.RegistryRecord per line (protobuf's JSON mapping with
the proto field names), regions first.

Usage: tools/huiche_to_import.py SOURCE.json > data/huiche/registry.ndjson
Uses only the Python standard library.
"""
import json
import sys


def region_record(region):
    out = {
        "id": region["id"],
        "kind": region["kind"],
        "name": region["name"],
    }
    if region.get("name_en"):
        out["name_en"] = region["name_en"]
    if region.get("parent"):
        out["parent_id"] = region["parent"]
    if region.get("signature_industries"):
        out["signature_industries"] = region["signature_industries"]
    return {"region": out}


def village_record(village):
    out = {
        "id": village["id"],
        "name": village["name"],
        "name_en": village["name_en"],
        "region_id": village["district"],
        "kind": village["kind"],
        "committee_members": village["committee_members"],
        "grids": village.get("indicators_2022_09", {}).get("grids", 0),
        "signature_industries": village["signature_industries"],
        "target_level": village["target_level"],
        "target_year": village["target_year"],
    }
    if village.get("branch_secretary"):
        out["branch_secretary"] = village["branch_secretary"]
    return {"village": out}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    for region in data["regions"]:
        print(json.dumps(region_record(region), ensure_ascii=False))
    for village in data["villages"]:
        print(json.dumps(village_record(village), ensure_ascii=False))


if __name__ == "__main__":
    main()
