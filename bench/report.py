#!/usr/bin/env python3
"""Render a results directory of bench/run.sh (raw.tsv, system.txt, profile.txt) as markdown.

    report.py RESULTS_DIR > results.md

Per operation: median wall seconds over the repetitions, throughput = bytes / median seconds
(MB = 10^6 bytes), the largest peak RSS seen (MiB = 2^20 bytes), and the issue's target.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys

# (tool, operation prefix) -> (minimum MB/s, maximum peak RSS MiB)
TARGETS = {
    ("tawthiq", "write"): (800, 200),
    ("tawthiq", "verify (cached)"): (2500, 200),
    ("tawthiq", "verify (cold)"): (1300, 200),
}


def target(tool: str, op: str):
    for (t, prefix), v in TARGETS.items():
        if t == tool and op.startswith(prefix):
            return v
    return None


def cell(s: str) -> str:
    return s.replace("|", "\\|")


def main() -> int:
    res = sys.argv[1]
    with open(os.path.join(res, "raw.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        g = groups.setdefault((r["corpus"], r["tool"], r["op"]), [])
        if not r["note"].startswith("discarded"):
            g.append(r)

    out = []
    out.append("## System\n")
    out.append("```")
    with open(os.path.join(res, "system.txt")) as f:
        out.append(f.read().rstrip())
    out.append("```\n")

    out.append("## Results\n")
    out.append(
        "| corpus | tool | operation | seconds | MB/s | peak RSS MiB | CPU % | target | met |\n"
        "|---|---|---|---:|---:|---:|---:|---|---|"
    )
    for (corpus, tool, op), rs in groups.items():
        if not rs:
            continue
        secs = statistics.median(float(r["seconds"]) for r in rs)
        cpu = statistics.median(int(r["cpu_jiffies"]) / 100 / float(r["seconds"]) for r in rs) * 100
        nbytes = int(rs[0]["bytes"])
        mbs = nbytes / secs / 1e6
        rss = max(int(r["maxrss_kib"]) for r in rs) / 1024
        t = target(tool, op)
        if t:
            tgt = f"≥ {t[0]:,} MB/s, < {t[1]} MiB"
            ok_speed = mbs >= t[0]
            ok_mem = rss < t[1]
            met = "yes" if ok_speed and ok_mem else "**no** (" + ", ".join(
                x for x, bad in (("speed", not ok_speed), ("memory", not ok_mem)) if bad
            ) + ")"
        else:
            tgt, met = "", ""
        n = f" (median of {len(rs)})" if len(rs) > 1 else ""
        rss_s = f"{rss:.0f}" if tool != "baseline" else "—"
        out.append(f"| {corpus} | {tool} | {cell(op)}{n} | {secs:.2f} | {mbs:,.0f} | {rss_s} | {cpu:.0f} | {tgt} | {met} |")
    out.append("")
    out.append(
        "seconds: median wall time of the repetitions. MB/s: 10^6 bytes of corpus (for verify: "
        "payload) per second of that time. Peak RSS: the largest over the repetitions, of the "
        "largest process (GNU time). CPU %: user + system CPU time of the command over its wall "
        f"time (100% = one core, {os.cpu_count()} cores here). Runs during which other processes' user "
        "time took more than 15% of the machine were discarded and repeated (listed below).\n"
    )

    out.append("## Every measurement\n")
    out.append("| corpus | tool | operation | run | seconds | MB/s | peak RSS MiB | CPU s | others' CPU % before / during | note |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        secs = float(r["seconds"])
        out.append(
            f"| {r['corpus']} | {r['tool']} | {cell(r['op'])} | {r['rep']} | {secs:.3f} | "
            f"{int(r['bytes']) / secs / 1e6:,.0f} | {int(r['maxrss_kib']) / 1024:.0f} | {int(r['cpu_jiffies']) / 100:.2f} | {r['others_before_pct']} / {r['others_during_pct']} | {r['note']} |"
        )
    out.append("")

    prof = os.path.join(res, "profile.txt")
    if os.path.exists(prof):
        out.append("## Where tawthiq's time goes (per-thread CPU, one extra run each)\n")
        out.append("```")
        with open(prof) as f:
            out.append(f.read().rstrip())
        out.append("```")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
