#!/usr/bin/env python3
"""A registry of N accounts for the batch-runner benchmark (bench/runner.sh).

    bench/make-registry.py N OUT.csv

Entities of five accounts each, one per platform, in the order x, instagram, facebook, youtube,
snapchat (so N accounts spread evenly over the five platforms; the last entity may have fewer),
every account one that the `bench/accounts` replay routes answer:

| platform  | account                         | route | credential |
|-----------|---------------------------------|-------|------------|
| x         | @school000123                   | api   | BENCH_X    |
| instagram | 17841400000000123 (numeric id)  | api   | BENCH_IG   |
| facebook  | 104500000000123 (numeric Page)  | api   | BENCH_FB   |
| youtube   | @school000123                   | api   | BENCH_YT   |
| snapchat  | school000123                    | web   | (none)     |

The credentials are read from TAWTHIQ_CRED_BENCH_X, … (any value works against the replay
server). Entity names, types and regions are Arabic, as in the ministry's registry; entity ids
are 100000 + the entity's number. The output is deterministic.
"""

import csv
import sys

NAMES = [
    "مدرسة النور الابتدائية",
    "ثانوية الملك عبدالعزيز",
    "متوسطة الأمل",
    "مدرسة الفجر الابتدائية",
    "ثانوية الرياض النموذجية",
    "مدرسة الياسمين للبنات",
    "متوسطة ابن سينا",
    "مدرسة الخوارزمي الابتدائية",
]
TYPES = ["مدرسة", "مدرسة", "مدرسة", "مكتب تعليم", "إدارة تعليم", "نادي"]
REGIONS = ["الرياض", "مكة المكرمة", "المدينة المنورة", "المنطقة الشرقية", "القصيم", "عسير", "تبوك", "حائل"]

# One row per platform of an entity: (platform, account for entity number e, route, credential).
PLATFORMS = [
    ("x", lambda e: f"@school{e:06d}", "api", "BENCH_X"),
    ("instagram", lambda e: str(17841400000000000 + e), "api", "BENCH_IG"),
    ("facebook", lambda e: str(104500000000000 + e), "api", "BENCH_FB"),
    ("youtube", lambda e: f"@school{e:06d}", "api", "BENCH_YT"),
    ("snapchat", lambda e: f"school{e:06d}", "web", ""),
]


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit("usage: make-registry.py N OUT.csv  (N: accounts, at least 1)")
    n, out = int(sys.argv[1]), sys.argv[2]
    if n > 5 * 999_999:
        sys.exit(f"make-registry.py: at most {5 * 999_999} accounts (6-digit entity numbers)")
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["entity_id", "entity_name", "entity_type", "region", "platform", "account", "route", "credential"])
        for i in range(n):
            e, p = divmod(i, len(PLATFORMS))
            platform, account, route, cred = PLATFORMS[p]
            name = f"{NAMES[e % len(NAMES)]} رقم {e + 1}"
            w.writerow([100000 + e, name, TYPES[e % len(TYPES)], REGIONS[e % len(REGIONS)], platform, account(e), route, cred])
    print(f"{out}: {n} accounts, {(n + 4) // 5} entities", file=sys.stderr)


if __name__ == "__main__":
    main()
