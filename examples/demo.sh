#!/usr/bin/env bash
# Quick start, offline: make a signing key, bundle the sample school account shipped in
# examples/sample-account, verify the bundle, list it and read one file back.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo-output}
cargo build --release --quiet -p cli
tawthiq=target/release/tawthiq
mkdir -p "$out"
if [ ! -f "$out/tawthiq.key" ]; then
  "$tawthiq" keygen --secret "$out/tawthiq.key" --public "$out/tawthiq.pub"
fi
echo "== bundle"
bundle=$("$tawthiq" bundle examples/sample-account --platform x --account sample_school \
  --organization "وزارة التعليم" --key "$out/tawthiq.key" -o "$out")
echo "$bundle"
echo "== verify"
"$tawthiq" verify "$bundle" --pubkey "$out/tawthiq.pub"
echo "== ls"
"$tawthiq" ls "$bundle" --pubkey "$out/tawthiq.pub"
echo "== cat data/original/export/posts/timeline-page-1.json"
"$tawthiq" cat "$bundle" data/original/export/posts/timeline-page-1.json --pubkey "$out/tawthiq.pub"
echo
echo "Bundle and keys are in $out/. Auditors can check the bundle without tawthiq: see docs/bundle-format.md."
