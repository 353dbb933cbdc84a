#!/usr/bin/env bash
# tawthiq benchmark: tawthiq bundle/verify side by side with tar+zstd, restic and bagit.py, on the
# same generated corpus, in one run. See bench/README.md.
#
#   bench/run.sh
#
# Environment:
#   BENCH_DIR   work directory, outside the repository (default bench-corpus beside the checkout); holds the
#               corpora (kept between runs), scratch outputs (deleted as the run goes) and the
#               results (results-<UTC time>/: results.md, raw.tsv, logs)
#   REPS        measured repetitions of each operation; the table shows the median (default 3)
#   NEED_GB     free space required, counting corpora already made as available (default 15)
#   IDLE_WAIT   seconds to wait, before each measurement, for other processes to leave the CPU
#               nearly idle (default 120; 0: do not wait), IDLE_BUDGET in all (default 1800).
#               The CPU use of others, before and during each run, is recorded; a run during
#               which others used more than 15% of the machine is repeated (3 attempts at most).
#   SKIP_PEERS=1  measure tawthiq only
#   SKIP_BUILD=1  use the existing target/release/tawthiq
#   SMOKE=1     a quick check of the script itself: tiny corpora (under BENCH_DIR/smoke), 1 run
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$(cd "$repo/.." && pwd)/bench-corpus}
REPS=${REPS:-3}
NEED_GB=${NEED_GB:-15}
IDLE_WAIT=${IDLE_WAIT:-120}
IDLE_BUDGET=${IDLE_BUDGET:-1800}
CAPTURED_AT=2025-05-04T06:30:00Z
ACC_ARGS=()
BIG_ARGS=()
if [[ ${SMOKE:-} == 1 ]]; then
    BENCH_DIR=$BENCH_DIR/smoke REPS=1 NEED_GB=1 IDLE_WAIT=0
    ACC_ARGS=(--images 30 --videos 2 --posts 300)
    BIG_ARGS=(--size-gib 0.25)
fi
export RESTIC_PASSWORD=tawthiq-bench

die() { echo "bench: $*" >&2; exit 1; }

mkdir -p "$BENCH_DIR"
W=$(cd "$BENCH_DIR" && pwd -P)
case "$W/" in "$(cd "$repo" && pwd -P)/"*) die "BENCH_DIR ($W) is inside the repository; put it outside";; esac

for t in cargo python3 zstd tar restic bagit.py fincore git; do
    command -v "$t" >/dev/null || die "$t is not installed"
done
[[ -x /usr/bin/time ]] && /usr/bin/time --version 2>&1 | grep -q GNU ||
    die "GNU time is needed at /usr/bin/time (apt-get install time)"

ACC=$W/account          # the school-account corpus
BIG=$W/big              # the single 4 GiB file corpus
OUT=$W/out              # scratch: bundles, archives, repositories, bags
# ------------------------------------------------------------------ disk space
# Corpora already made count as available: they are reused, not rewritten.
existing=0
for d in "$ACC" "$BIG"; do
    [[ -d $d ]] && existing=$((existing + $(du -sb "$d" | cut -f1)))
done
[[ -d $OUT ]] && rm -rf "$OUT"
free=$(df -B1 --output=avail "$W" | tail -1 | tr -d ' ')
need=$((NEED_GB * 1000000000))
df -h "$W" >&2
if ((free + existing < need)); then
    die "not enough disk space under $W: $((free / 1000000000)) GB free (+ $((existing / 1000000000)) GB of corpora already made), the benchmark needs ${NEED_GB} GB (2.4 GB + 4.3 GB of corpora, and up to 4.3 GB of outputs at a time). Free some space or set BENCH_DIR to another filesystem."
fi
mkdir -p "$OUT"

RES=$W/results-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RES/logs"
RAW=$RES/raw.tsv
LOG=$RES/run.log
printf 'corpus\ttool\top\trep\tseconds\tbytes\tmaxrss_kib\tcpu_jiffies\tothers_before_pct\tothers_during_pct\tnote\n' >"$RAW"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }

# ------------------------------------------------------------------ system
commit=$(git -C "$repo" rev-parse HEAD)
dirty_files=$(git -C "$repo" status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock | awk '{print $2}' | paste -sd' ')
dirty=$(wc -w <<<"$dirty_files")
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "tawthiq commit: $commit$( ((dirty > 0)) && echo " + uncommitted changes to $dirty_files")"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')$(grep -qw sha_ni /proc/cpuinfo && echo ', SHA-NI')"
    echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "filesystem: $(df --output=source,fstype "$W" | tail -1 | tr -s ' ')"
    echo "rustc: $(rustc --version)"
    echo "zstd: $(zstd --version | sed 's/^\*\*\* //; s/ \*\*\*$//')"
    echo "tar: $(tar --version | head -1)"
    echo "restic: $(restic version)"
    echo "bagit.py: $(bagit.py --version 2>&1)"
    echo "python: $(python3 --version)"
} >"$RES/system.txt"
cat "$RES/system.txt" | tee -a "$LOG" >&2

# ------------------------------------------------------------------ build and corpora
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    log "building tawthiq (release)"
    (cd "$repo" && cargo build --release -p cli) >"$RES/logs/build.log" 2>&1 ||
        { tail -20 "$RES/logs/build.log"; die "build failed"; }
fi
TAWTHIQ=$repo/target/release/tawthiq
[[ -x $TAWTHIQ ]] || die "$TAWTHIQ is missing"
cp "$TAWTHIQ" "$OUT/tawthiq" # a private copy: a concurrent build cannot swap the binary mid-run
TAWTHIQ=$OUT/tawthiq

log "making corpora under $W (kept for later runs)"
python3 "$here/make-corpus.py" account "$ACC" "${ACC_ARGS[@]}" 2>&1 | tee -a "$LOG" >&2
python3 "$here/make-corpus.py" big "$BIG" "${BIG_ARGS[@]}" 2>&1 | tee -a "$LOG" >&2

corpus_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }
ACC_BYTES=$(corpus_bytes "$ACC")
ACC_FILES=$(find "$ACC" -type f | wc -l)
BIG_BYTES=$(corpus_bytes "$BIG")
BIG_FILE=$(find "$BIG" -type f | head -1)
{
    echo "corpus account: $ACC_FILES files, $ACC_BYTES bytes"
    echo "corpus big: 1 file, $BIG_BYTES bytes"
} | tee -a "$RES/system.txt" "$LOG" >&2

rm -f "$OUT/bench.key" "$OUT/bench.pub"
"$TAWTHIQ" keygen --secret "$OUT/bench.key" --public "$OUT/bench.pub" >/dev/null

# ------------------------------------------------------------------ helpers

# shellcheck source=bench/idle.sh
source "$here/idle.sh"

# Evict files from the page cache. Tries, in order: drop_caches (whole machine), then
# posix_fadvise(DONTNEED) per file through dd, then through Python. Checks with fincore that
# nothing of the files is left resident, and records the method that worked.
DROP_METHOD=
resident() { fincore -b -n -o RES "$@" | awk '{s += $1} END {printf "%.0f", s}'; }
drop_cache() {
    sync
    if [[ -z $DROP_METHOD || $DROP_METHOD == drop_caches ]] &&
        { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null && (($(resident "$@") == 0)); then
        DROP_METHOD=drop_caches
        return
    fi
    if [[ -z $DROP_METHOD || $DROP_METHOD == dd-nocache ]]; then
        local f
        for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none; done
        if (($(resident "$@") == 0)); then DROP_METHOD=dd-nocache; return; fi
    fi
    python3 -c '
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "$@"
    local left
    left=$(resident "$@")
    ((left == 0)) || die "could not evict $* from the page cache ($left bytes still resident)"
    DROP_METHOD=fadvise
}

# Read every file of a corpus so that it is in the page cache (write steps start from a warm
# source: they measure the tool and its output, not the reading of the corpus).
warm() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }

# measure CORPUS TOOL OP BYTES PRE -- command...
#   Runs PRE (a shell function, or :) then the command under GNU time, REPS times; each run is
#   one row of raw.tsv (wall seconds by date +%s.%N, peak RSS from time -v).
measure() {
    local corpus=$1 tool=$2 op=$3 bytes=$4 pre=$5 rep
    shift 6
    local attempt
    for ((rep = 1; rep <= REPS; rep++)); do
        # A run during which other processes took more than 15% of the machine is recorded but
        # marked discarded (not in the medians) and retried, up to 3 attempts per repetition.
        for ((attempt = 1; attempt <= 3; attempt++)); do
            measure_once "$corpus" "$tool" "$op" "$bytes" "$pre" "$rep" $((attempt < 3)) "$@"
            if ((OTHERS_DURING <= 15)); then break; fi
        done
    done
    return 0
}

# "user total" jiffies of the whole machine so far. Only user time is compared: the kernel's
# writeback and I/O work for the measured command runs in kernel threads, not in the command.
# Log file prefix of one run: tagof CORPUS TOOL OP REP
tagof() {
    local t="$1_$2_$3_$4"
    t=${t//[^A-Za-z0-9_.+-]/_}
    echo "$RES/logs/$t"
}
OTHERS_DURING=0
measure_once() {
    local corpus=$1 tool=$2 op=$3 bytes=$4 pre=$5 rep=$6 may_discard=$7
    shift 7
    local tag
    tag=$(tagof "$corpus" "$tool" "$op" "$rep")
    $pre
    sync
    wait_idle
    local t0 t1 rss secs busy0 total0 busy1 total1 ours ours_user
    read -r busy0 total0 < <(cpu_ticks)
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$tag.time" "$@" >"$tag.out" 2>"$tag.err"; then
        tail -5 "$tag.err" >&2
        die "$tool $op failed (logs in $tag.*)"
    fi
    t1=$(date +%s.%N)
    read -r busy1 total1 < <(cpu_ticks)
    secs=$(echo "$t1 - $t0" | bc -l)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tag.time")
    # CPU of the measured command (user + system, children included), in jiffies.
    ours=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.0f", s * 100}' "$tag.time")
    ours_user=$(awk -F': ' '/User time/ {s += $2} END {printf "%.0f", s * 100}' "$tag.time")
    OTHERS_DURING=$(((total1 > total0) ? (100 * (busy1 - busy0 - ours_user)) / (total1 - total0) : 0))
    ((OTHERS_DURING < 0)) && OTHERS_DURING=0
    local note=
    [[ $op == *cold* ]] && note="evicted by $DROP_METHOD"
    if ((OTHERS_DURING > 15 && may_discard)); then
        note="discarded (others busy)${note:+; $note}"
    fi
    printf '%s\t%s\t%s\t%d\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\n' "$corpus" "$tool" "$op" "$rep" "$secs" "$bytes" "$rss" "$ours" "$OTHER_CPU" "$OTHERS_DURING" "$note" >>"$RAW"
    log "  $corpus $tool $op #$rep: $(printf '%.2f' "$secs") s, $(echo "$bytes / $secs / 1000000" | bc) MB/s, peak RSS $((rss / 1024)) MiB, CPU $((ours / 100)) s; others used ${OTHER_CPU}% of the CPU before, ${OTHERS_DURING}% during${note:+ ($note)}"
}

# profile NAME PRE -- command: one extra, untimed-for-the-table run under threadcpu.py.
profile() {
    local name=$1 pre=$2
    shift 3
    $pre
    sync
    wait_idle
    python3 "$here/threadcpu.py" "$RES/profile-$name.txt" -- "$@" >/dev/null 2>"$RES/logs/profile-$name.err" ||
        die "profiled run $name failed"
    { echo "### $name"; cat "$RES/profile-$name.txt"; echo; } >>"$RES/profile.txt"
}

# check_valid REPORT CORPUS_FILES CORPUS_BYTES: the verify --json output says valid, and its
# payload is the corpus plus tawthiq's own two payload files (capture log, completeness). Prints
# the payload bytes (the corpus bytes and the capture log), which verify throughput is counted in.
check_valid() {
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))[0]
files, size = int(sys.argv[2]), int(sys.argv[3])
assert r["valid"], r["findings"]
assert r["payload_files"] == files + 2 and r["payload_bytes"] > size, (r["payload_files"], r["payload_bytes"])
print(r["payload_bytes"])' "$1" "$2" "$3" ||
        die "verification of $1 did not report a valid bundle of the corpus"
}

# ------------------------------------------------------------------ baselines
# What this machine allows, whatever the tool:
#  - disk: 4 GiB written with O_DIRECT + fdatasync, and read back with O_DIRECT (no page cache);
#  - page cache: a cached 4 GiB copy to a new file with fdatasync (the ceiling for a writer that
#    goes through the page cache and fsyncs), and a cold read of the 4 GiB file;
#  - memory: 4 GiB written to freshly mapped memory, and 4 GiB written over one reused 64 MiB
#    buffer. On a VM whose freed memory goes back to the host (virtio-balloon free page
#    reporting), the first is far slower, and so is everything that fills new page-cache pages;
#  - SHA-256 on one core (openssl).
log "baselines"
rm_dd() { rm -f "$OUT/dd.bin"; }
measure big baseline "disk: O_DIRECT write + fdatasync" "$BIG_BYTES" rm_dd -- \
    dd if=/dev/zero of="$OUT/dd.bin" bs=16M count=$((BIG_BYTES / 16777216)) oflag=direct conv=fdatasync status=none
rm_dd
measure big baseline "disk: O_DIRECT read" "$BIG_BYTES" : -- dd if="$BIG_FILE" of=/dev/null bs=16M iflag=direct status=none
warm_big_rm_dd() { warm "$BIG"; rm_dd; }
measure big baseline "page cache: dd copy + fdatasync" "$BIG_BYTES" warm_big_rm_dd -- \
    dd if="$BIG_FILE" of="$OUT/dd.bin" bs=16M conv=fdatasync status=none
rm_dd
drop_big() { drop_cache "$BIG_FILE"; }
measure big baseline "page cache: dd read (cold)" "$BIG_BYTES" drop_big -- dd if="$BIG_FILE" of=/dev/null bs=16M status=none
measure big baseline "memory: write to fresh pages" "$BIG_BYTES" : -- python3 -c '
import mmap, sys
n = int(sys.argv[1]); chunk = b"\1" * (64 << 20)
m = mmap.mmap(-1, n)
for _ in range(n // len(chunk)): m.write(chunk)' "$BIG_BYTES"
measure big baseline "memory: write to reused pages" "$BIG_BYTES" : -- python3 -c '
import mmap, sys
n = int(sys.argv[1]); chunk = b"\1" * (64 << 20)
m = mmap.mmap(-1, len(chunk))
for _ in range(n // len(chunk)): m.seek(0); m.write(chunk)' "$BIG_BYTES"
warm "$BIG"
REPS=1 measure big baseline "openssl sha256, 1 core (cached)" "$BIG_BYTES" : -- openssl dgst -sha256 "$BIG_FILE"

# ------------------------------------------------------------------ tawthiq, account corpus
BUNDLE=$OUT/account.tar.zst
rm_bundle() { rm -f "$BUNDLE"; }
warm_acc_rm_bundle() { warm "$ACC"; rm_bundle; }
drop_bundle() { drop_cache "$BUNDLE"; }

log "tawthiq bundle (account corpus, $ACC_BYTES bytes)"
warm "$ACC"
measure account tawthiq "write (bundle, fsync)" "$ACC_BYTES" warm_acc_rm_bundle -- \
    "$TAWTHIQ" bundle "$ACC" --platform x --account bench --key "$OUT/bench.key" -o "$BUNDLE" --captured-at "$CAPTURED_AT"
echo "account bundle: $(stat -c %s "$BUNDLE") bytes" | tee -a "$RES/system.txt" "$LOG" >&2

log "tawthiq verify, cached"
"$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json >"$OUT/warm.json"
ACC_PAYLOAD=$(check_valid "$OUT/warm.json" "$ACC_FILES" "$ACC_BYTES")
echo "account bundle payload: $ACC_PAYLOAD bytes (corpus + capture log)" | tee -a "$RES/system.txt" "$LOG" >&2
measure account tawthiq "verify (cached)" "$ACC_PAYLOAD" : -- "$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json
check_valid "$(tagof account tawthiq "verify (cached)" "$REPS").out" "$ACC_FILES" "$ACC_BYTES" >/dev/null

log "tawthiq verify, cold"
measure account tawthiq "verify (cold)" "$ACC_PAYLOAD" drop_bundle -- "$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json
check_valid "$(tagof account tawthiq "verify (cold)" "$REPS").out" "$ACC_FILES" "$ACC_BYTES" >/dev/null
echo "page-cache eviction: $DROP_METHOD" | tee -a "$RES/system.txt" "$LOG" >&2

log "per-thread CPU of one run each (profile.txt)"
profile account-verify-cached : -- "$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json
profile account-verify-cold drop_bundle -- "$TAWTHIQ" verify "$BUNDLE" --pubkey "$OUT/bench.pub" --json
profile account-bundle warm_acc_rm_bundle -- \
    "$TAWTHIQ" bundle "$ACC" --platform x --account bench --key "$OUT/bench.key" -o "$BUNDLE" --captured-at "$CAPTURED_AT"
rm_bundle

# ------------------------------------------------------------------ peers, account corpus
if [[ ${SKIP_PEERS:-} != 1 ]]; then
    TZST=$OUT/account-tar.tar.zst
    warm_acc_rm_tzst() { warm "$ACC"; rm -f "$TZST"; }
    log "tar | zstd -3 -T0 (+ fsync of the archive, as tawthiq fsyncs)"
    measure account "tar+zstd" "tar -c | zstd -3 -T0, + fsync" "$ACC_BYTES" warm_acc_rm_tzst -- \
        bash -c 'tar -C "$1" -cf - "$2" | zstd -3 -T0 -q -o "$3" && sync "$3"' _ "$W" account "$TZST"
    echo "tar.zst (zstd -3): $(stat -c %s "$TZST") bytes" | tee -a "$RES/system.txt" "$LOG" >&2
    rm -f "$TZST"

    REPO=$OUT/restic-repo
    RCACHE=$OUT/restic-cache
    restic_fresh() {
        warm "$ACC"
        rm -rf "$REPO" "$RCACHE"
        restic -q -r "$REPO" --cache-dir "$RCACHE" init >/dev/null
    }
    log "restic init + backup (fresh repository each time; init not timed)"
    measure account restic "backup" "$ACC_BYTES" restic_fresh -- \
        restic -q -r "$REPO" --cache-dir "$RCACHE" backup "$ACC"
    echo "restic repository: $(du -sb "$REPO" | cut -f1) bytes" | tee -a "$RES/system.txt" "$LOG" >&2
    log "restic check --read-data"
    measure account restic "check --read-data (cached)" "$ACC_BYTES" : -- \
        restic -q -r "$REPO" --cache-dir "$RCACHE" check --read-data
    rm -rf "$REPO" "$RCACHE"

    BAG=$OUT/bag
    log "bagit.py: bag made once (hard links to the corpus; sha256 only, like tawthiq), then validated"
    rm -rf "$BAG"
    cp -al "$ACC" "$BAG"
    warm "$ACC"
    REPS=1 measure account bagit.py "make bag --sha256 --processes 2 (once)" "$ACC_BYTES" : -- \
        bagit.py --quiet --processes 2 --sha256 "$BAG"
    measure account bagit.py "validate --processes 2 (cached)" "$ACC_BYTES" : -- \
        bagit.py --quiet --validate --processes 2 "$BAG"
    rm -rf "$BAG"
fi

# ------------------------------------------------------------------ tawthiq, one 4 GiB file
BIGB=$OUT/big.tar.zst
rm_bigb() { rm -f "$BIGB"; }
warm_big_rm_bigb() { warm "$BIG"; rm_bigb; }
drop_bigb() { drop_cache "$BIGB"; }
log "tawthiq on one 4 GiB file"
measure big tawthiq "write (bundle, fsync)" "$BIG_BYTES" warm_big_rm_bigb -- \
    "$TAWTHIQ" bundle "$BIG" --platform x --account bench --key "$OUT/bench.key" -o "$BIGB" --captured-at "$CAPTURED_AT"
"$TAWTHIQ" verify "$BIGB" --pubkey "$OUT/bench.pub" --json >"$OUT/warm.json"
BIG_PAYLOAD=$(check_valid "$OUT/warm.json" 1 "$BIG_BYTES")
measure big tawthiq "verify (cached)" "$BIG_PAYLOAD" : -- "$TAWTHIQ" verify "$BIGB" --pubkey "$OUT/bench.pub" --json
measure big tawthiq "verify (cold)" "$BIG_PAYLOAD" drop_bigb -- "$TAWTHIQ" verify "$BIGB" --pubkey "$OUT/bench.pub" --json
check_valid "$(tagof big tawthiq "verify (cold)" "$REPS").out" 1 "$BIG_BYTES" >/dev/null
profile big-verify-cached : -- "$TAWTHIQ" verify "$BIGB" --pubkey "$OUT/bench.pub" --json
profile big-bundle warm_big_rm_bigb -- \
    "$TAWTHIQ" bundle "$BIG" --platform x --account bench --key "$OUT/bench.key" -o "$BIGB" --captured-at "$CAPTURED_AT"
rm -rf "$OUT"

# ------------------------------------------------------------------ report
python3 "$here/report.py" "$RES" >"$RES/results.md"
cat "$RES/results.md"
log "results in $RES"
