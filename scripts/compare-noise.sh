#!/usr/bin/env bash
# One canonical denoiser trained on a range of noise factors against one
# model per level, each with the same budget (2 epochs on the first 20 000
# training images), evaluated on the first 2 000 test images.
# Writes the models and the evaluations under ${OUT:-/tmp/aelab-compare}.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --locked
aelab="$CARGO_TARGET_DIR/debug/aelab"
out=${OUT:-/tmp/aelab-compare}
mkdir -p "$out"
common=(--kind canonical --epochs 2 --limit 20000 --lr 2e-3 --seed 1)
"$aelab" denoise train "${common[@]}" --noise-min 0.3 --noise-max 0.9 --out "$out/range.aelab"
for f in 0.5 0.7 0.9; do
  "$aelab" denoise train "${common[@]}" --noise "$f" --out "$out/level-$f.aelab"
done
for m in range level-0.5 level-0.7 level-0.9; do
  "$aelab" denoise eval --limit 2000 --json --weights "$out/$m.aelab" > "$out/$m.json"
  echo "$m: $(cat "$out/$m.json")"
done
