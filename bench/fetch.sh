#!/usr/bin/env bash
# tawthiq fetch benchmark: `tawthiq archive x me` against a local replay of the X API, side by side
# with `curl --parallel` + `openssl dgst -sha256` fetching the same files, in one run.
# See bench/README.md, "Fetch benchmark".
#
#   bench/fetch.sh
#
# Environment:
#   BENCH_DIR   work directory, outside the repository (default bench-corpus beside the checkout); holds the
#               account corpus (made by make-corpus.py if missing, kept), the replay tree
#               (x-replay/, rebuilt each run: hard links and 11 small JSON documents), scratch
#               outputs (fetch-out/, deleted as the run goes) and the results
#               (fetch-results-<UTC time>/: results.md, raw.tsv, logs/)
#   REPS        repetitions of each side; the table shows the median (default 3). The two sides
#               alternate: baseline #1, tawthiq #1, baseline #2, …
#   PARALLEL    curl --parallel-max (default 8)
#   IDLE_WAIT   seconds to wait, before each measurement, for other processes to leave the CPU
#               nearly idle (default 120; 0: do not wait), IDLE_BUDGET in all (default 1800).
#               A run during which others used more than 15% of the machine is recorded,
#               marked discarded and repeated (3 attempts at most).
#   SKIP_BUILD=1     use the existing target/release/{tawthiq,replay-server}
#   SKIP_TAWTHIQ=1   measure the baseline only (e.g. while `tawthiq archive` does not exist)
#   SMOKE=1     a quick check of the script itself: a small corpus (under BENCH_DIR/smoke,
#               shared with `SMOKE=1 bench/run.sh`), 50 posts on 3 pages, one run of each side
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$(cd "$repo/.." && pwd)/bench-corpus}
REPS=${REPS:-3}
PARALLEL=${PARALLEL:-8}
IDLE_WAIT=${IDLE_WAIT:-120}
IDLE_BUDGET=${IDLE_BUDGET:-1800}
NEED_GB=6
ACC_ARGS=()
XR_ARGS=(--posts 1000)
if [[ ${SMOKE:-} == 1 ]]; then
    BENCH_DIR=$BENCH_DIR/smoke REPS=1 IDLE_WAIT=0 NEED_GB=1
    ACC_ARGS=(--images 30 --videos 2 --posts 300) # the same small corpus as SMOKE=1 bench/run.sh
    XR_ARGS=(--posts 50 --page-size 20)
fi

die() {
    echo "fetch-bench: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

mkdir -p "$BENCH_DIR"
W=$(cd "$BENCH_DIR" && pwd -P)
case "$W/" in "$(cd "$repo" && pwd -P)/"*) die "BENCH_DIR ($W) is inside the repository; put it outside" ;; esac

for t in cargo python3 curl openssl bc; do
    command -v "$t" >/dev/null || die "$t is not installed"
done
[[ -x /usr/bin/time ]] && /usr/bin/time --version 2>&1 | grep -q GNU ||
    die "GNU time is needed at /usr/bin/time (apt-get install time)"
curl --help all 2>/dev/null | grep -q -- --parallel-max ||
    die "curl $(curl --version | head -1 | cut -d' ' -f2) has no --parallel (7.66 or later is needed)"

ACC=$W/account     # the school-account corpus (make-corpus.py)
XR=$W/x-replay     # the X API replay tree (make-x-replay.py): hard links into ACC
OUT=$W/fetch-out   # scratch: curl's files, bundles, keys, binaries
[[ -d $OUT ]] && rm -rf "$OUT"
free=$(df -B1 --output=avail "$W" | tail -1 | tr -d ' ')
if [[ ! -d $ACC ]]; then free=$((free - 2400000000)); fi
((free >= NEED_GB * 1000000000)) ||
    die "not enough disk space under $W: $((free / 1000000000)) GB free (after the corpus, if it is to be made); the benchmark needs ${NEED_GB} GB (one 2.4 GB output at a time, and slack)"
mkdir -p "$OUT"

RES=$W/fetch-results-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES/logs"
RAW=$RES/raw.tsv
LOG=$RES/run.log
printf 'side\trep\tseconds\tlast_served_s\tbytes\tmaxrss_kib\tuser_s\tsys_s\tserver_cpu_s\trequests\tnot_ok\tserved_bytes\tothers_before_pct\tothers_during_pct\tnote\n' >"$RAW"

SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "kernel: $(uname -r)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "filesystem: $(df -T "$W" | awk 'NR == 2 {print $1, $2}')"
    echo "rust: $(rustc --version)"
    echo "curl: $(curl --version | head -1)"
    echo "openssl: $(openssl version)"
    echo "curl --parallel-max: $PARALLEL"
} >"$RES/system.txt"
cat "$RES/system.txt" | tee -a "$LOG" >&2

# ------------------------------------------------------------------ build, corpus, replay tree
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    log "building tawthiq and replay-server (release)"
    (cd "$repo" && cargo build --release -p cli && cargo build --release -p testkit --bin replay-server) \
        >"$RES/logs/build.log" 2>&1 || {
        tail -20 "$RES/logs/build.log"
        die "build failed"
    }
fi
# Private copies: a concurrent build cannot swap a binary mid-run.
SERVER=$OUT/replay-server
cp "$repo/target/release/replay-server" "$SERVER" 2>/dev/null || die "$repo/target/release/replay-server is missing"
TAWTHIQ=
if [[ ${SKIP_TAWTHIQ:-} != 1 ]]; then
    [[ -x $repo/target/release/tawthiq ]] || die "$repo/target/release/tawthiq is missing"
    cp "$repo/target/release/tawthiq" "$OUT/tawthiq"
    TAWTHIQ=$OUT/tawthiq
    "$TAWTHIQ" archive --help >/dev/null 2>&1 ||
        die "this tawthiq has no 'archive' command (SKIP_TAWTHIQ=1 measures the baseline only)"
fi

log "corpus under $ACC (kept for later runs)"
python3 "$here/make-corpus.py" account "$ACC" "${ACC_ARGS[@]}" 2>&1 | tee -a "$LOG" >&2
log "replay tree under $XR"
python3 "$here/make-x-replay.py" "$ACC" "$XR" "${XR_ARGS[@]}" 2>&1 | tee -a "$LOG" >&2
read -r POSTS IMAGES VIDEOS NURLS BYTES API_BYTES MEDIA_BYTES < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["posts"], m["images"], m["videos"], m["urls"], m["bytes"], m["api_bytes"], m["media_bytes"])' "$XR/manifest.json")
echo "replay: $POSTS posts, $IMAGES images, $VIDEOS videos; $NURLS URLs, $BYTES bytes ($API_BYTES of API documents, $MEDIA_BYTES of media)" |
    tee -a "$RES/system.txt" "$LOG" >&2

# ------------------------------------------------------------------ replay server
"$SERVER" "$XR" --log >"$RES/logs/server.out" 2>"$RES/logs/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$RES/logs/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "replay-server exited: $(cat "$RES/logs/server.log")"
    sleep 0.1
done
BASE=$(sed -n 's/^listening on //p' "$RES/logs/server.out")
[[ -n $BASE ]] || die "replay-server did not start"
log "replay-server on $BASE (pid $SERVER_PID)"
HOSTS="api.x.com=$BASE/api,pbs.twimg.com=$BASE/pbs,video.twimg.com=$BASE/video"

# curl: one config file, every URL to its own numbered file in the scratch folder.
SCRATCH=$OUT/curl
CURLCFG=$OUT/curl.cfg
awk -v base="$BASE" -v dir="$SCRATCH" '{printf "url = \"%s%s\"\noutput = \"%s/%05d\"\n", base, $0, dir, NR}' \
    "$XR/urls.txt" >"$CURLCFG"

BUNDLE_DIR=$OUT/bundle
CFG=$OUT/bench.toml
# No rate limit: the replay answers as fast as it can; the benchmark measures the fetch path.
printf '[fetch.rate_limits]\ndefault = 0\n"api.x.com" = 0\n' >"$CFG"
if [[ -n $TAWTHIQ ]]; then
    "$TAWTHIQ" keygen --secret "$OUT/bench.key" --public "$OUT/bench.pub" >/dev/null
fi

# ------------------------------------------------------------------ helpers (as in run.sh)

# shellcheck source=bench/idle.sh
source "$here/idle.sh"

# Both sides start warm: every file the server serves is in the page cache (read just before),
# and the previous output is deleted and synced away.
warm() { find -L "$XR" -type f -print0 | xargs -0 cat >/dev/null; }
# The server's user and system CPU, in clock ticks (1/100 s).
server_ticks() { awk '{print $14, $15}' "/proc/$SERVER_PID/stat"; }
server_lines() { wc -l <"$RES/logs/server.log"; }

prep_baseline() { rm -rf "$SCRATCH" "$OUT/sha256.txt"; mkdir -p "$SCRATCH"; }
prep_tawthiq() { rm -rf "$BUNDLE_DIR"; mkdir -p "$BUNDLE_DIR"; }

# check_baseline: every URL fetched, whole.
check_baseline() {
    local n b
    n=$(find "$SCRATCH" -type f | wc -l)
    b=$(find "$SCRATCH" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}')
    ((n == NURLS && b == BYTES)) || die "baseline fetched $n files, $b bytes; expected $NURLS files, $BYTES bytes"
    (($(wc -l <"$OUT/sha256.txt") == NURLS)) || die "openssl hashed $(wc -l <"$OUT/sha256.txt") files, expected $NURLS"
}
BUNDLE=
check_tawthiq() {
    local found
    found=$(find "$BUNDLE_DIR" -maxdepth 1 -type f -name '*.tar.zst')
    [[ -n $found && $(echo "$found" | wc -l) == 1 ]] || die "expected one .tar.zst in $BUNDLE_DIR, found: $(ls -la "$BUNDLE_DIR")"
    BUNDLE=$found
}

# measure_once SIDE REP MAY_DISCARD PREP -- command...
OTHERS_DURING=0
measure_once() {
    local side=$1 rep=$2 may_discard=$3 prep=$4
    shift 5
    local tag=$RES/logs/$side-$rep
    $prep
    warm
    sync
    wait_idle
    local t0 t1 secs rss user sys busy0 total0 busy1 total1 su0 ss0 su1 ss1 l0 l1 ours_user server_s
    l0=$(server_lines)
    read -r su0 ss0 < <(server_ticks)
    read -r busy0 total0 < <(cpu_ticks)
    t0=$(date +%s.%N)
    local rc=0
    /usr/bin/time -v -o "$tag.time" "$@" >"$tag.out" 2>"$tag.err" || rc=$?
    t1=$(date +%s.%N)
    read -r busy1 total1 < <(cpu_ticks)
    read -r su1 ss1 < <(server_ticks)
    sleep 0.2 # the server logs a request after its last byte is sent
    l1=$(server_lines)
    # When the server sent its last byte of the run (its log is written once per request):
    # the fetching part of the run; what follows is hashing (baseline) or finishing the bundle.
    local last
    last=$(echo "$(stat -c %.9Y "$RES/logs/server.log") - $t0" | bc -l)
    if ((rc != 0)); then
        tail -20 "$tag.err" >&2
        die "$side #$rep failed with exit status $rc (logs in $tag.*)"
    fi
    secs=$(echo "$t1 - $t0" | bc -l)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tag.time")
    user=$(awk -F': ' '/User time/ {print $2}' "$tag.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$tag.time")
    ours_user=$(echo "$user * 100 / 1" | bc)
    # Others: the machine's user time minus the command's and the server's (as in run.sh, only
    # user time is compared: kernel work done for the command runs in kernel threads).
    OTHERS_DURING=$(((total1 > total0) ? (100 * (busy1 - busy0 - ours_user - (su1 - su0))) / (total1 - total0) : 0))
    server_s=$(echo "($su1 - $su0 + $ss1 - $ss0) / 100" | bc -l)
    ((OTHERS_DURING < 0)) && OTHERS_DURING=0
    # What the server saw during the run: requests, answers other than 200, body bytes.
    local req
    req=$(sed -n "$((l0 + 1)),${l1}p" "$RES/logs/server.log" |
        awk '{n++; if ($(NF-1) != 200) bad++; b += $NF} END {printf "%d %d %.0f", n, bad, b}')
    sed -n "$((l0 + 1)),${l1}p" "$RES/logs/server.log" >"$tag.requests"
    local n_req n_bad served note=
    read -r n_req n_bad served <<<"$req"
    if ((OTHERS_DURING > 15 && may_discard)); then note="discarded (others busy)"; fi
    printf '%s\t%d\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$rep" "$secs" "$last" "$BYTES" "$rss" \
        "$user" "$sys" "$server_s" "$n_req" "$n_bad" "$served" "$OTHER_CPU" "$OTHERS_DURING" "$note" >>"$RAW"
    log "  $side #$rep: $(printf '%.2f' "$secs") s (last byte served at $(printf '%.2f' "$last") s), $(echo "$BYTES / $secs / 1000000" | bc) MB/s, peak RSS $((rss / 1024)) MiB, CPU ${user}+${sys} s, server CPU $(printf '%.2f' "$server_s") s; $n_req requests ($n_bad not 200), $served bytes served; others used ${OTHER_CPU}% of the CPU before, ${OTHERS_DURING}% during${note:+ ($note)}"
}

# measure SIDE REP PREP CHECK -- command: one repetition, retried (3 attempts at most) while others
# took more than 15% of the machine.
measure() {
    local side=$1 rep=$2 prep=$3 check=$4 attempt
    shift 5
    for ((attempt = 1; attempt <= 3; attempt++)); do
        measure_once "$side" "$rep" $((attempt < 3)) "$prep" -- "$@"
        $check
        if ((OTHERS_DURING <= 15)); then break; fi
    done
}

# ------------------------------------------------------------------ the runs
BASELINE=(bash -c 'curl --parallel --parallel-max "$1" --fail --silent --show-error -K "$2" &&
    find "$3" -type f -print0 | sort -z | xargs -0 openssl dgst -sha256 >"$4"' _ "$PARALLEL" "$CURLCFG" "$SCRATCH" "$OUT/sha256.txt")
ARCHIVE=(env -u TAWTHIQ_TSA_URL -u TAWTHIQ_KEY TAWTHIQ_CONFIG="$CFG" TAWTHIQ_X_TOKEN=bench-token TAWTHIQ_HOSTS="$HOSTS"
    "$TAWTHIQ" archive x me -o "$BUNDLE_DIR" --key "$OUT/bench.key")

for ((rep = 1; rep <= REPS; rep++)); do
    log "repetition $rep of $REPS"
    measure baseline "$rep" prep_baseline check_baseline -- "${BASELINE[@]}"
    rm -rf "$SCRATCH"
    if [[ -n $TAWTHIQ ]]; then
        measure tawthiq "$rep" prep_tawthiq check_tawthiq -- "${ARCHIVE[@]}"
        if ((rep < REPS)); then rm -rf "$BUNDLE_DIR"; fi
    fi
done

if [[ -n $TAWTHIQ ]]; then
    log "tawthiq verify of the last bundle ($(stat -c %s "$BUNDLE") bytes)"
    echo "bundle: $(basename "$BUNDLE"), $(stat -c %s "$BUNDLE") bytes" | tee -a "$RES/system.txt" "$LOG" >&2
    vrc=0
    "$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json >"$RES/logs/verify.json" 2>"$RES/logs/verify.err" || vrc=$?
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))[0]
media = int(sys.argv[2])
print("verify: valid=%s, payload %s files, %s bytes" % (r["valid"], r["payload_files"], r["payload_bytes"]))
assert r["valid"], r.get("findings")
assert r["payload_bytes"] >= media, (r["payload_bytes"], media)' "$RES/logs/verify.json" "$MEDIA_BYTES" 2>&1 |
        tee -a "$RES/system.txt" "$LOG" >&2 || die "the bundle is not VALID (exit status $vrc; $RES/logs/verify.json)"
    ((vrc == 0)) || die "tawthiq verify exited with $vrc"
    echo "VALID" >"$RES/logs/verify.status"
fi
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
rm -rf "$OUT"

# ------------------------------------------------------------------ report
python3 - "$RES" "$POSTS" "$IMAGES" "$VIDEOS" "$NURLS" "$BYTES" "$PARALLEL" >"$RES/results.md" <<'EOF'
import csv, os, statistics, sys

res, posts, images, videos, nurls, nbytes, par = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7]
rows = list(csv.DictReader(open(os.path.join(res, "raw.tsv")), delimiter="\t"))
kept = [r for r in rows if not r["note"].startswith("discarded")]
system = open(os.path.join(res, "system.txt")).read().strip()
valid = os.path.exists(os.path.join(res, "logs", "verify.status"))

def stats(side):
    rs = [r for r in kept if r["side"] == side]
    if not rs:
        return None
    secs = statistics.median(float(r["seconds"]) for r in rs)
    cpu = statistics.median(float(r["user_s"]) + float(r["sys_s"]) for r in rs)
    return {
        "n": len(rs),
        "secs": secs,
        "last": statistics.median(float(r["last_served_s"]) for r in rs),
        "mbs": nbytes / secs / 1e6,
        "rss": max(int(r["maxrss_kib"]) for r in rs) / 1024,
        "cpu": cpu,
        "cpu_pct": 100 * statistics.median((float(r["user_s"]) + float(r["sys_s"])) / float(r["seconds"]) for r in rs),
        "server": statistics.median(float(r["server_cpu_s"]) for r in rs),
        "req": statistics.median(int(r["requests"]) for r in rs),
        "bad": max(int(r["not_ok"]) for r in rs),
    }

b, t = stats("baseline"), stats("tawthiq")
out = []
p = out.append
p("# tawthiq fetch benchmark\n")
p("```\n" + system + "\n```\n")
p(f"Workload: `tawthiq archive x me` of an account of {posts:,} posts ({images:,} images, {videos} videos) "
  f"from the local replay server: {nurls:,} requests, {nbytes:,} bytes. Baseline: the same {nurls:,} URLs with "
  f"`curl --parallel --parallel-max {par}` to disk, then `openssl dgst -sha256` over the files, timed together. "
  "Both sides warm (every served file in the page cache), the previous output deleted before each run; "
  "MB/s = the served bytes (same for both) / wall seconds. Medians of the kept runs.\n")
p("| side | runs | seconds | MB/s | last byte served at s | peak RSS MiB | CPU s (user+sys) | CPU % | server CPU s | requests | not 200 |")
p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, s in (("baseline: curl --parallel + openssl dgst -sha256", b), ("tawthiq archive x me", t)):
    if s:
        p(f"| {name} | {s['n']} | {s['secs']:.2f} | {s['mbs']:,.0f} | {s['last']:.2f} | {s['rss']:.0f} | {s['cpu']:.2f} | {s['cpu_pct']:.0f} | {s['server']:.2f} | {s['req']:,.0f} | {s['bad']} |")
p("")
if b and t:
    ratio = t["mbs"] / b["mbs"]
    p("| target | figure | met |")
    p("|---|---:|---|")
    p(f"| throughput ≥ 70% of the baseline | {100 * ratio:.0f}% ({t['mbs']:,.0f} / {b['mbs']:,.0f} MB/s) | {'yes' if ratio >= 0.70 else '**no**'} |")
    p(f"| peak memory < 200 MiB | {t['rss']:.0f} MiB | {'yes' if t['rss'] < 200 else '**no**'} |")
    p(f"| CPU time per post (reported) | {1000 * t['cpu'] / posts:.1f} ms (baseline: {1000 * b['cpu'] / posts:.1f} ms) | |")
    p(f"| bundle verifies | {'VALID' if valid else 'not checked / invalid'} | {'yes' if valid else '**no**'} |")
    p("")
p("*last byte served at*: seconds from the start of the run to the server's last byte: the fetching "
  "part; the rest is hashing (baseline) or finishing, signing and checking the bundle (tawthiq).\n")
p("## Every run\n")
p("| side | rep | seconds | last byte served at s | MB/s | peak RSS MiB | user s | sys s | server CPU s | requests | not 200 | bytes served | others before % | others during % | note |")
p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    s = float(r["seconds"])
    p(f"| {r['side']} | {r['rep']} | {s:.2f} | {float(r['last_served_s']):.2f} | {nbytes / s / 1e6:,.0f} | {int(r['maxrss_kib']) / 1024:.0f} | {r['user_s']} | {r['sys_s']} | {r['server_cpu_s']} | {r['requests']} | {r['not_ok']} | {int(r['served_bytes']):,} | {r['others_before_pct']} | {r['others_during_pct']} | {r['note']} |")
p("")
p("Logs: `logs/<side>-<rep>.{time,out,err,requests}` (GNU time -v, output, the server's log lines of the run), "
  "`logs/server.log`, `logs/verify.json`.")
print("\n".join(out))
EOF
cat "$RES/results.md"
log "results in $RES"
