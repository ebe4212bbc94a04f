#!/usr/bin/env bash
# Reports the page's initial load, gzipped: what the Denoise tab fetches
# before its first denoise (the CPU-only wasm module and its JS glue, the
# page, its script and style, and the two pre-trained models). The MNIST
# sets load lazily, and so does the WebGPU module (when a session asks for
# WebGPU: Auto measures it before the first training).
# Usage: scripts/size-report.sh [dist-dir]   (default: dist-release, built
# with `scripts/build-web.sh --release` when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist-release}"
if [ ! -f "$dist/cpu/aelab_bg.wasm" ]; then
  source scripts/env.sh
  # The first load does not fetch the threaded module.
  scripts/build-web.sh --release --no-threads --dist "$dist"
fi
# app.js imports ui.js, store.js, remote.js, compute.js, denoise.js, augment.js and anomaly.js
# statically, so they load at start too; the lab worker (lab-worker.js) loads
# lab-host.js, the module's glue and the module.
initial=(index.html style.css app.js ui.js store.js remote.js compute.js denoise.js augment.js anomaly.js
  lab-worker.js lab-host.js cpu/aelab.js cpu/aelab_bg.wasm
  models/denoiser-skip.aelab models/classifier.aelab)
lazy=(mnist/t10k-images-idx3-ubyte.gz mnist/t10k-labels-idx1-ubyte.gz mnist/train-images-idx3-ubyte.gz mnist/train-labels-idx1-ubyte.gz)
total=0
printf '%-36s %12s %12s\n' file bytes gzipped
for f in "${initial[@]}"; do
  raw=$(stat -c %s "$dist/$f")
  gz=$(gzip -9 -c "$dist/$f" | wc -c)
  total=$((total + gz))
  printf '%-36s %12d %12d\n' "$f" "$raw" "$gz"
done
printf '%-36s %12s %12d  (%.2f MB; goal <= 4 MB)\n' "initial load, gzipped" "" "$total" "$(echo "$total / 1000000" | bc -l)"
echo "loaded when a session asks for WebGPU (gzipped):"
for f in aelab.js aelab_bg.wasm; do printf '  %-34s %12d\n' "$f" "$(gzip -9 -c "$dist/$f" | wc -c)"; done
echo "loaded lazily (already compressed):"
for f in "${lazy[@]}"; do printf '  %-34s %12d\n' "$f" "$(stat -c %s "$dist/$f")"; done
