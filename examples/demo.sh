#!/usr/bin/env bash
# Quick start, offline, on sample data shipped in examples/:
#   1. make a signing key;
#   2. archive a school's X account through the API, against a local replay of X's API and CDNs
#      (examples/x-replay, served by testkit's replay-server; no network needed);
#   3. import the same kind of account from its owner's archive zip (zipped from the importer's
#      sample archive, crates/fetcher/tests/fixtures/x/export/happy);
#   4. import an Instagram and a Facebook Page "Download Your Information" export (zipped from the
#      importers' samples under crates/fetcher/tests/fixtures/{instagram,facebook}/export; their
#      Arabic is written the Meta way, one \u00XX escape per byte, and comes out repaired);
#   5. import a YouTube channel's Google Takeout and a Snapchat "My Data" export (zipped from the
#      importers' samples: Arabic video titles that collide, Memories with their media);
#   6. bundle a folder of evidence (examples/sample-account);
#   7. verify, list and read back, as an auditor would.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo-output}
cargo build --release --quiet -p cli -p testkit --bin tawthiq --bin replay-server
tawthiq=target/release/tawthiq
mkdir -p "$out"
if [ ! -f "$out/tawthiq.key" ]; then
  "$tawthiq" keygen --secret "$out/tawthiq.key" --public "$out/tawthiq.pub"
fi
export TAWTHIQ_KEY="$out/tawthiq.key" TAWTHIQ_PUBKEY="$out/tawthiq.pub"

echo "== archive x me (API route, against the local replay in examples/x-replay)"
target/release/replay-server examples/x-replay --port 0 >"$out/replay.addr" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$out/replay.addr" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out/replay.addr")
TAWTHIQ_X_TOKEN=demo-token \
TAWTHIQ_HOSTS="api.x.com=$base/api,pbs.twimg.com=$base/pbs,video.twimg.com=$base/video" \
  "$tawthiq" archive x me --organization "مدرسة النور الابتدائية" -o "$out/api"
kill $server; trap - EXIT

echo
echo "== import x (the owner's archive zip, made from crates/fetcher/tests/fixtures/x/export/happy)"
zipdir() { # zipdir <folder> <zip> [prefix]: the folder's files, paths relative to it
  python3 - "$1" "$2" "${3:-}" <<'PY'
import os, sys, zipfile
src, dst, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, files in sorted(os.walk(src)):
        for f in sorted(files):
            p = os.path.join(d, f)
            z.write(p, os.path.join(prefix, os.path.relpath(p, src)))
PY
}
zipdir crates/fetcher/tests/fixtures/x/export/happy "$out/twitter-archive.zip"
"$tawthiq" import x "$out/twitter-archive.zip" -o "$out/export"

echo
echo "== import instagram and facebook (Meta's Download Your Information exports, JSON)"
zipdir crates/fetcher/tests/fixtures/instagram/export/ig2025 "$out/instagram-alnoor.school-2025.zip"
"$tawthiq" import instagram "$out/instagram-alnoor.school-2025.zip" -o "$out/export"
zipdir crates/fetcher/tests/fixtures/facebook/export/fb_page "$out/facebook-alnoorschool-2025.zip"
"$tawthiq" import facebook "$out/facebook-alnoorschool-2025.zip" -o "$out/export"

echo
echo "== import youtube (Google Takeout) and snapchat (My Data; download links not fetched: offline)"
zipdir crates/fetcher/tests/fixtures/youtube/takeout/a "$out/takeout-20250504T000000Z-001.zip" \
  "Takeout/YouTube and YouTube Music"
"$tawthiq" import youtube "$out/takeout-20250504T000000Z-001.zip" -o "$out/export"
zipdir crates/fetcher/tests/fixtures/snapchat/export/mydata "$out/mydata~1746340200000.zip"
"$tawthiq" import snapchat "$out/mydata~1746340200000.zip" --no-fetch -o "$out/export"

echo
echo "== bundle (a folder of evidence)"
bundle=$("$tawthiq" bundle examples/sample-account --platform x --account sample_school \
  --organization "وزارة التعليم" -o "$out")
echo "$bundle"

echo
echo "== verify (every bundle made above)"
"$tawthiq" verify "$out"/api/*.tar.zst "$out"/export/*.tar.zst "$bundle"
ig_bundle=$(ls "$out"/export/instagram-*.tar.zst | tail -1)
echo "== cat data/derived/posts.jsonl of the Instagram import (text repaired from Meta's escapes)"
# Read into a file first: `| head` would close the pipe early, which `set -o pipefail` reports.
"$tawthiq" cat "$ig_bundle" data/derived/posts.jsonl >"$out/instagram-posts.jsonl"
head -2 "$out/instagram-posts.jsonl"
api_bundle=$(ls "$out"/api/*.tar.zst | tail -1)
echo "== ls $api_bundle"
"$tawthiq" ls "$api_bundle" >"$out/x-api-files.txt"
head -20 "$out/x-api-files.txt"
echo "== cat data/derived/posts.jsonl (first post)"
"$tawthiq" cat "$api_bundle" data/derived/posts.jsonl >"$out/x-api-posts.jsonl"
head -1 "$out/x-api-posts.jsonl"
echo
echo "Bundles and keys are in $out/. Auditors can check bundles without tawthiq: see docs/bundle-format.md."
