#!/usr/bin/env bash
# tawthiq batch-runner scale benchmark: `tawthiq run` of a registry of ACCOUNTS accounts on the
# five platforms against a local replay server answering small accounts (bench/accounts), then
# the state store alone (`state_overhead`: claim + heartbeat + complete per account) for the
# runner's own overhead. Targets: < 5 ms CPU of runner overhead per account, state database
# < 500 MB, peak memory < 300 MiB.
#
#   bench/runner.sh
#   SMOKE=1 bench/runner.sh          # 2,000 accounts: checks the script in a minute or two
#
# Environment:
#   ACCOUNTS    registry size (default 130000; SMOKE=1: 2000), spread evenly over the five
#               platforms (bench/make-registry.py)
#   WORKERS     `tawthiq run --workers` and state_overhead's workers (default 8)
#   LINGER      `--linger-secs` (default 60): how long the run waits for accounts due again
#   BENCH_DIR   work directory (default /tmp/tawthiq-runner-bench): run-<time>/ holds the
#               registry, state, bundles and scratch (deleted at the end unless KEEP=1);
#               results-<time>/ the results (results.md, summary.json, time.txt, logs), kept
#   KEEP=1      keep run-<time>/ (bundles, state database)
#   SKIP_BUILD=1     use the binaries already built under CARGO_TARGET_DIR (default target/)
#   SKIP_OVERHEAD=1  skip the state_overhead measurement
#   BYTES_PER_ACCOUNT  disk estimate per account for the free-space check (default 12000:
#               a 5 KB bundle in 8 KB of blocks, 1.2 KB of state, slack)
#   PRUNE       1: delete bundles a minute after they land (counted first), so that a run
#               needs disk only for the state; 0: never; default: only when the disk is too
#               small to keep them all. The runner never reads a published bundle back after
#               its own check, so this changes nothing it does.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
BENCH_DIR=${BENCH_DIR:-/tmp/tawthiq-runner-bench}
ACCOUNTS=${ACCOUNTS:-130000}
WORKERS=${WORKERS:-8}
LINGER=${LINGER:-60}
BYTES_PER_ACCOUNT=${BYTES_PER_ACCOUNT:-12000}
PRUNE=${PRUNE:-}
if [[ ${SMOKE:-} == 1 ]]; then ACCOUNTS=2000; fi

die() {
    echo "runner-bench: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

[[ $ACCOUNTS =~ ^[1-9][0-9]*$ ]] || die "ACCOUNTS must be a positive number, not '$ACCOUNTS'"
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive number, not '$WORKERS'"
for t in cargo python3 curl bc; do
    command -v "$t" >/dev/null || die "$t is not installed"
done
[[ -x /usr/bin/time ]] && /usr/bin/time --version 2>&1 | grep -q GNU ||
    die "GNU time is needed at /usr/bin/time (apt-get install time)"

mkdir -p "$BENCH_DIR"
W=$(cd "$BENCH_DIR" && pwd -P)
case "$W/" in "$(cd "$repo" && pwd -P)/"*) die "BENCH_DIR ($W) is inside the repository; put it outside" ;; esac
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$W/run-$stamp
RES=$W/results-$stamp
mkdir -p "$RUN" "$RES/logs"
LOG=$RES/run.log

free=$(df -B1 --output=avail "$W" | tail -1 | tr -d ' ')
need=$((ACCOUNTS * BYTES_PER_ACCOUNT + 500000000))
# Pruned: the run's state (~1.2 KB per account), then state_overhead's (~3 KB), one at a time.
need_pruned=$((ACCOUNTS * 3500 + 500000000))
if [[ -z $PRUNE ]]; then PRUNE=$(((free < need) ? 1 : 0)); fi
if [[ $PRUNE == 1 ]]; then need=$need_pruned; fi
((free >= need)) ||
    die "not enough disk space under $W: $((free / 1000000)) MB free, the run needs about $((need / 1000000)) MB$([[ $PRUNE == 1 ]] && echo ' with PRUNE=1' || echo " ($BYTES_PER_ACCOUNT bytes per account and 500 MB of slack; PRUNE=1 needs $((need_pruned / 1000000)) MB)")"

SERVER_PID=
cleanup() {
    if [[ -n ${MONITOR_PID:-} ]]; then kill "$MONITOR_PID" 2>/dev/null || true; fi
    if [[ -n ${PRUNER_PID:-} ]]; then kill "$PRUNER_PID" 2>/dev/null || true; fi
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [[ ${KEEP:-} != 1 && -d $RUN ]]; then rm -rf "$RUN"; fi
}
trap cleanup EXIT

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "kernel: $(uname -r)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "filesystem: $(df -T "$W" | awk 'NR == 2 {print $1, $2}'), $((free / 1000000)) MB free"
    echo "rust: $(rustc --version)"
    echo "accounts: $ACCOUNTS, workers: $WORKERS, linger: $LINGER s$([[ $PRUNE == 1 ]] && echo ', bundles pruned a minute after they land (PRUNE=1)')"
} >"$RES/system.txt"
tee -a "$LOG" <"$RES/system.txt" >&2

# ------------------------------------------------------------------ build
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    log "building tawthiq, replay-server and state_overhead (release, CARGO_TARGET_DIR=$target)"
    (cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -p cli --bin tawthiq -p testkit --bin replay-server &&
        CARGO_TARGET_DIR=$target cargo build --release -p runner --example state_overhead) \
        >"$RES/logs/build.log" 2>&1 || {
        tail -20 "$RES/logs/build.log"
        die "build failed (log: $RES/logs/build.log)"
    }
fi
# Private copies: a concurrent build cannot swap a binary mid-run.
BIN=$RUN/bin
mkdir -p "$BIN"
for b in tawthiq replay-server; do
    cp "$target/release/$b" "$BIN/$b" 2>/dev/null || die "$target/release/$b is missing (build it, or unset SKIP_BUILD)"
done
OVERHEAD=
if [[ ${SKIP_OVERHEAD:-} != 1 ]]; then
    cp "$target/release/examples/state_overhead" "$BIN/state_overhead" 2>/dev/null ||
        die "$target/release/examples/state_overhead is missing (build it, or SKIP_OVERHEAD=1)"
    OVERHEAD=$BIN/state_overhead
fi
TAWTHIQ=$BIN/tawthiq

# ------------------------------------------------------------------ replay server
"$BIN/replay-server" "$here/accounts" >"$RES/logs/server.out" 2>"$RES/logs/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$RES/logs/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "replay-server exited: $(cat "$RES/logs/server.log")"
    sleep 0.1
done
B=$(sed -n 's/^listening on //p' "$RES/logs/server.out")
[[ -n $B ]] || die "replay-server did not start"
log "replay-server on $B (pid $SERVER_PID)"

# ------------------------------------------------------------------ config, key, registry
CFG=$RUN/bench.toml
# Host rewrites to the replay server; every rate limit lifted (per original host, so each is
# named) and YouTube's daily quota raised: the benchmark measures the runner, not the pacing.
cat >"$CFG" <<EOF
[fetch.hosts]
"www.snapchat.com" = "$B/snap"
"*.sc-cdn.net" = "$B/sccdn"
"api.x.com" = "$B/x"
"*.twimg.com" = "$B/twimg"
"www.googleapis.com" = "$B/yt"
"i.ytimg.com" = "$B/ytimg"
"graph.instagram.com" = "$B/ig"
"*.cdninstagram.com" = "$B/igcdn"
"graph.facebook.com" = "$B/fb"
"*.fbcdn.net" = "$B/fbcdn"

[fetch.rate_limits]
default = 0
"www.snapchat.com" = 0
"api.x.com" = 0
"www.googleapis.com" = 0
"graph.instagram.com" = 0
"graph.facebook.com" = 0

[run.platforms.youtube]
window_secs = 86400
window_units = 1000000000000
EOF
"$TAWTHIQ" keygen --secret "$RUN/bench.key" --public "$RUN/bench.pub" >/dev/null
REG=$RUN/registry.csv
python3 "$here/make-registry.py" "$ACCOUNTS" "$REG" 2>&1 | tee -a "$LOG" >&2

# No yt-dlp: each YouTube video is a gap, as in production without it (with one, tawthiq would
# try the real youtube.com). TAWTHIQ_YT_DLP is unset below; a yt-dlp on the PATH is left out.
RUN_PATH=
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
    [[ -n $d && ! -x $d/yt-dlp ]] && RUN_PATH=${RUN_PATH:+$RUN_PATH:}$d
done

STATE=sqlite://$RUN/state.db
STORE=$RUN/bundles
RUN_ENV=(env -u TAWTHIQ_YT_DLP -u TAWTHIQ_HOSTS -u TAWTHIQ_PROXY -u TAWTHIQ_TSA_URL -u TAWTHIQ_KEY
    -u TAWTHIQ_STATE -u TAWTHIQ_STORE -u TAWTHIQ_CONFIG PATH="$RUN_PATH"
    TAWTHIQ_CRED_BENCH_X=bench TAWTHIQ_CRED_BENCH_IG=bench TAWTHIQ_CRED_BENCH_FB=bench
    TAWTHIQ_CRED_BENCH_YT=bench)

# ------------------------------------------------------------------ the run
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
cpu_ticks() { head -1 /proc/stat | awk '{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}'; }
stats() { curl -fsS "$B/__stats"; }

curl -fsS -X POST "$B/__stats/reset" >/dev/null
log "tawthiq run: $ACCOUNTS accounts, $WORKERS workers"
s0=$(server_ticks)
read -r busy0 total0 < <(cpu_ticks)
t0=$(date +%s.%N)
rc=0
"${RUN_ENV[@]}" /usr/bin/time -v -o "$RES/time.txt" \
    "$TAWTHIQ" --config "$CFG" run "$REG" --state "$STATE" --store "$STORE" --scratch "$RUN/scratch" \
    --workers "$WORKERS" --json --key "$RUN/bench.key" --linger-secs "$LINGER" \
    >"$RES/summary.json" 2>"$RES/logs/run.err" &
TIME_PID=$!
# Progress every 30 s: requests served, the runner's resident memory (to see it stay flat).
(
    while sleep 30; do
        pid=$(pgrep -P "$TIME_PID" 2>/dev/null | head -1 || true)
        rss=$([[ -n $pid ]] && awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null || echo '?')
        req=$(stats 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])' 2>/dev/null || echo '?')
        avail=$(df -B1M --output=avail "$W" | tail -1 | tr -d ' ')
        log "  $(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc -l)") s: $req requests served, runner RSS $rss MiB, $avail MB free on disk"
    done
) &
MONITOR_PID=$!
# PRUNE=1: every 15 s, bundles older than a minute (long past publish's read-back check) are
# counted and deleted; PRUNED holds "count bytes" lines.
PRUNED=$RES/pruned.txt
: >"$PRUNED"
PRUNER_PID=
if [[ $PRUNE == 1 ]]; then
    (
        while sleep 15; do
            find "$STORE" -type f -name '*.tar.zst' -mmin +1 -printf '%s\n' -delete 2>/dev/null |
                awk '{n++; s += $1} END {if (n) printf "%d %.0f\n", n, s}' >>"$PRUNED" || true
        done
    ) &
    PRUNER_PID=$!
fi
wait "$TIME_PID" || rc=$?
t1=$(date +%s.%N)
kill "$MONITOR_PID" 2>/dev/null || true
wait "$MONITOR_PID" 2>/dev/null || true
MONITOR_PID=
if [[ -n $PRUNER_PID ]]; then
    kill "$PRUNER_PID" 2>/dev/null || true
    wait "$PRUNER_PID" 2>/dev/null || true
    PRUNER_PID=
fi
read -r busy1 total1 < <(cpu_ticks)
s1=$(server_ticks)
stats >"$RES/server-stats.json"
log "tawthiq run exited with status $rc"
if [[ ! -s $RES/summary.json ]]; then
    tail -20 "$RES/logs/run.err" >&2
    die "tawthiq run printed no summary (exit status $rc; $RES/logs/run.err)"
fi

# Accounts that did not end done: one line per platform and error, from the report.
"${RUN_ENV[@]}" "$TAWTHIQ" --config "$CFG" report --state "$STATE" --format csv -o "$RES/report.csv" \
    2>>"$RES/logs/run.err" || log "tawthiq report failed (see $RES/logs/run.err)"

# Sizes, with tawthiq stopped: the state database (and its WAL, if any), the bundles.
db_bytes=0
for f in "$RUN/state.db" "$RUN/state.db-wal" "$RUN/state.db-shm"; do
    [[ -f $f ]] && db_bytes=$((db_bytes + $(stat -c %s "$f")))
done
read -r n_bundles bundle_bytes < <( (cat "$PRUNED" && find "$STORE" -type f -name '*.tar*' -printf '1 %s\n' 2>/dev/null) |
    awk '{n += $1; s += $2} END {printf "%d %.0f\n", n, s}')
bundle_disk=$(du -sB1 "$STORE" 2>/dev/null | cut -f1)
if [[ $PRUNE == 1 ]]; then bundle_disk=-1; fi
wall=$(echo "$t1 - $t0" | bc -l)
server_s=$(echo "($s1 - $s0) / 100" | bc -l)
echo "$wall $server_s $busy0 $busy1 $total0 $total1 $db_bytes $n_bundles $bundle_bytes $bundle_disk $rc" >"$RES/figures.txt"

# ------------------------------------------------------------------ the state store alone
if [[ -n $OVERHEAD ]]; then
    # Room for its database: the run's bundles and state are measured, so they may go.
    if [[ ${KEEP:-} != 1 ]]; then rm -rf "$STORE" "$RUN/scratch" "$RUN"/state.db*; fi
    log "state_overhead: $ACCOUNTS accounts, $WORKERS workers (the state store alone)"
    TMPDIR=$RUN /usr/bin/time -v -o "$RES/overhead-time.txt" "$OVERHEAD" "$ACCOUNTS" "$WORKERS" \
        >"$RES/overhead.txt" 2>"$RES/logs/overhead.err" || {
        tail -20 "$RES/logs/overhead.err" >&2
        die "state_overhead failed"
    }
    tee -a "$LOG" <"$RES/overhead.txt" >&2
fi

# ------------------------------------------------------------------ report
python3 - "$RES" "$ACCOUNTS" "$WORKERS" >"$RES/results.md" <<'EOF'
import csv, collections, json, os, re, sys

res, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
(wall, server_s, busy0, busy1, total0, total1, db_bytes, n_bundles, bundle_bytes, bundle_disk, rc) = open(
    os.path.join(res, "figures.txt")).read().split()
wall, server_s = float(wall), float(server_s)
db_bytes, n_bundles, bundle_bytes, rc = int(db_bytes), int(n_bundles), int(bundle_bytes), int(rc)
bundle_disk = int(bundle_disk or 0)
on_disk = "pruned as the run went" if bundle_disk < 0 else f"{bundle_disk / 1e6:,.1f} MB on disk"

def gnu_time(path):
    t = {}
    for line in open(path):
        k, _, v = line.strip().partition(": ")
        t[k] = v
    return float(t["User time (seconds)"]), float(t["System time (seconds)"]), int(t["Maximum resident set size (kbytes)"])

user, sys_, rss_kib = gnu_time(os.path.join(res, "time.txt"))
cpu = user + sys_
ticks = int(total1) - int(total0)
machine_busy = 100 * (int(busy1) - int(busy0)) / ticks if ticks else 0
# Others: the machine's busy time minus tawthiq's and the server's (2 cores = 200 ticks/s).
others = max(0.0, machine_busy - 100 * (cpu + server_s) / (wall * os.cpu_count()))
summary = json.load(open(os.path.join(res, "summary.json")))
stats = json.load(open(os.path.join(res, "server-stats.json")))
st = summary["state"]

overhead = {}
op = os.path.join(res, "overhead.txt")
if os.path.exists(op):
    text = open(op).read()
    m = re.search(r"complete: ([\d.]+) s wall \((\d+) accounts/s\), ([\d.]+) ms CPU per account", text)
    if m:
        overhead.update(wall=float(m[1]), rate=int(m[2]), cpu_ms=float(m[3]))
    m = re.search(r"load registry: ([\d.]+) s wall, ([\d.]+) ms CPU per account", text)
    if m:
        overhead.update(load_wall=float(m[1]), load_ms=float(m[2]))
    m = re.search(r"database: ([\d.]+) MB", text)
    if m:
        overhead["db_mb"] = float(m[1])
    m = re.search(r"peak RSS: (\d+) MiB", text)
    if m:
        overhead["rss"] = int(m[1])

# Failures per platform and error (report.csv: one row per account).
# Gaps per platform (a YouTube video without yt-dlp is one), from the same report.
fails = collections.Counter()
gaps = collections.Counter()
rp = os.path.join(res, "report.csv")
if os.path.exists(rp):
    for row in csv.DictReader(open(rp, encoding="utf-8")):
        state = row.get("state", "")
        gaps[row.get("platform", "?")] += int(row.get("gaps") or 0)
        if state and state != "done":
            fails[(row.get("platform", "?"), state, (row.get("last_error") or "")[:200])] += 1

out = []
p = out.append
p("# tawthiq batch-runner benchmark\n")
p("```\n" + open(os.path.join(res, "system.txt")).read().strip() + "\n```\n")
p(f"Workload: `tawthiq run` of a registry of {n:,} accounts (bench/make-registry.py: {n // 5:,} per platform, "
  f"x, instagram, facebook, youtube through their APIs, snapchat through the web) with `--workers {workers}`, "
  "SQLite state, bundles to a local folder, against `replay-server bench/accounts` on the same machine "
  "(small accounts: 2–5 requests each), rate limits lifted, no yt-dlp.\n")
p("| figure | value | target |")
p("|---|---:|---|")
p(f"| accounts done / total | {st['done']:,} / {st['total']:,} (failed {st['failed']}, retry {st['retry']}, deferred {st['deferred']}, pending {st['pending']}) | all done |")
p(f"| wall time | {wall:,.1f} s ({wall / 60:.1f} min) | |")
p(f"| accounts per second | {n / wall:,.1f} | |")
p(f"| tawthiq CPU (user + sys) | {cpu:,.1f} s ({user:,.1f} + {sys_:,.1f}) | |")
p(f"| tawthiq CPU per account, everything (capture, bundle, signing, state) | {1000 * cpu / n:.2f} ms | |")
if "cpu_ms" in overhead:
    ok = "yes" if overhead["cpu_ms"] + overhead.get("load_ms", 0) < 5 else "**no**"
    p(f"| runner overhead per account: claim + last bundle + heartbeat + complete (state_overhead) | {overhead['cpu_ms']:.3f} ms CPU (+ {overhead.get('load_ms', 0):.3f} ms to load the registry) | < 5 ms: {ok} |")
p(f"| peak RSS of tawthiq run | {rss_kib / 1024:.0f} MiB | < 300 MiB: {'yes' if rss_kib / 1024 < 300 else '**no**'} |")
p(f"| state database (state.db + -wal + -shm) | {db_bytes / 1e6:.1f} MB ({db_bytes / n:.0f} bytes per account) | < 500 MB: {'yes' if db_bytes < 500e6 else '**no**'} |")
p(f"| bundles | {n_bundles:,}, {bundle_bytes / 1e6:,.1f} MB ({bundle_bytes / max(n_bundles, 1):,.0f} bytes each; {on_disk}) | |")
p(f"| requests served by the replay server | {stats['requests']:,} ({stats['requests'] / n:.2f} per account; by status: {', '.join(f'{k}: {v:,}' for k, v in sorted(stats['by_status'].items()))}) | |")
p(f"| replay server CPU | {server_s:,.1f} s ({1000 * server_s / n:.2f} ms per account) | |")
p(f"| machine busy during the run | {machine_busy:.0f}% of {os.cpu_count()} cores (others: about {others:.0f}%) | |")
p(f"| exit status | {rc} | 0 |")
p("")
if overhead:
    p(f"State store alone (`state_overhead {n} {workers}`, SQLite): load {overhead.get('load_wall', 0):.1f} s wall, "
      f"{overhead.get('load_ms', 0):.3f} ms CPU per account; claim + last bundle + heartbeat + complete "
      f"{overhead.get('wall', 0):.1f} s wall ({overhead.get('rate', 0):,} accounts/s), {overhead.get('cpu_ms', 0):.3f} ms CPU "
      f"per account; database {overhead.get('db_mb', 0):.1f} MB; peak RSS {overhead.get('rss', 0)} MiB.\n")
p("Per platform (from the run's JSON summary):\n")
p("| platform | total | done | failed | retry | deferred | items | media | gaps | bytes |")
p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, v in summary["platforms"].items():
    p(f"| {name} | {v['total']:,} | {v['done']:,} | {v['failed']:,} | {v['retry']:,} | {v['deferred']:,} | {v['items']:,} | {v['media']:,} | {gaps[name]:,} | {v['bytes']:,} |")
p("")
if fails:
    p("Accounts not done, by platform, status and last error:\n")
    p("| platform | status | accounts | last error |")
    p("|---|---|---:|---|")
    for (plat, status, err), k in fails.most_common(30):
        p(f"| {plat} | {status} | {k:,} | {err.replace('|', '/')} |")
    p("")
print("\n".join(out))
EOF
cat "$RES/results.md"
log "results in $RES"
if [[ ${KEEP:-} == 1 ]]; then log "kept: $RUN"; fi
