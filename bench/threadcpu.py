#!/usr/bin/env python3
"""Run a command and report how much CPU each of its threads used, and how busy the disk was.

    threadcpu.py OUT -- command args...

Samples /proc/<pid>/task/*/stat every 50 ms while the command runs (the last sample of each
thread is its total, to within 50 ms) and /proc/diskstats for the busy time of every whole disk.
Writes a small report to OUT: wall time, per-thread user/system CPU seconds and share of the wall
time (100% = one core fully busy), and the disks' utilisation. Used by run.sh to show which
thread bounds a tawthiq run; it is not part of the timed measurements.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def thread_times(pid: int) -> dict[int, tuple[str, int, int]]:
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1 : s.rindex(")")]
        fields = s[s.rindex(")") + 2 :].split()
        out[int(tid)] = (name, int(fields[11]), int(fields[12]))  # utime, stime
    return out


def disk_busy() -> dict[str, int]:
    """Milliseconds spent doing I/O, per whole disk."""
    out = {}
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            name = p[2]
            if name.startswith(("loop", "ram", "dm-")) or name[-1].isdigit() and not name.startswith("nvme"):
                continue
            if name.startswith("nvme") and "p" in name[4:]:
                continue
            out[name] = int(p[12])
    return out


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    report, cmd = sys.argv[1], sys.argv[3:]
    d0 = disk_busy()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    seen: dict[int, tuple[str, int, int]] = {}
    while p.poll() is None:
        seen.update(thread_times(p.pid))
        time.sleep(0.05)
    wall = time.monotonic() - t0
    d1 = disk_busy()
    with open(report, "w") as f:
        f.write(f"command: {' '.join(cmd)}\nexit: {p.returncode}\nwall: {wall:.2f} s\n")
        by_name: dict[str, list[float]] = {}
        for name, ut, st in seen.values():
            acc = by_name.setdefault(name, [0.0, 0.0, 0])
            acc[0] += ut / TICK
            acc[1] += st / TICK
            acc[2] += 1
        total = 0.0
        f.write(f"{'thread':<20} {'n':>3} {'user s':>8} {'sys s':>8} {'busy % of wall':>15}\n")
        for name, (ut, st, n) in sorted(by_name.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
            total += ut + st
            f.write(f"{name:<20} {n:>3} {ut:>8.2f} {st:>8.2f} {100 * (ut + st) / wall:>14.0f}%\n")
        f.write(f"{'all threads':<20} {'':>3} {'':>8} {'':>8} {100 * total / wall:>14.0f}%  (of {os.cpu_count()} cores: {100 * total / wall / os.cpu_count():.0f}%)\n")
        for disk, ms in d1.items():
            busy = ms - d0.get(disk, ms)
            if busy:
                f.write(f"disk {disk}: busy {busy / 1000:.2f} s = {100 * busy / 1000 / wall:.0f}% of wall\n")
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
