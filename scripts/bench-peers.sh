#!/usr/bin/env bash
# The CPU engine's ratios against PyTorch, measured as docs/performance.md
# asks: ROUNDS alternating rounds (aelab with its engine, aelab with burn's
# own ops, PyTorch at batch 128, PyTorch at batch 16) on one host, then the
# ratio of the medians with the spread.
#
#   scripts/bench-peers.sh [ROUNDS] [OLD_AELAB]
#
# PyTorch lives in a venv outside the clone (../shared/peers/torch_throughput.py
# says how): ~/.cache/aelab-torch. OLD_AELAB, if given, is an aelab binary of
# an earlier commit, benchmarked in each round too (its `bench` has no
# options, so only its canonical and skip rows at batch 128 count).
# Not part of the tests: CI does not have PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
rounds=${1:-5}
old=${2:-}
torch=${AELAB_TORCH:-$HOME/.cache/aelab-torch/bin/python}
peer=../shared/peers/torch_throughput.py
[ -x "$torch" ] || { echo "no PyTorch venv at $torch (see $peer)" >&2; exit 1; }
cargo build --locked --bin aelab >&2
aelab="$CARGO_TARGET_DIR/debug/aelab"
out=${AELAB_BENCH_OUT:-$(mktemp /tmp/aelab-bench-peers.XXXXXX)}
echo "raw results: $out" >&2
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  "$aelab" bench --backends flex --kernels engine --json | grep '^{' | sed "s/^/{\"round\":$r,\"run\":\"engine\",\"row\":/; s/\$/}/" >>"$out"
  "$aelab" bench --backends flex --kernels burn --json | grep '^{' | sed "s/^/{\"round\":$r,\"run\":\"burn\",\"row\":/; s/\$/}/" >>"$out"
  if [ -n "$old" ]; then
    "$old" bench | grep '^| flex' | awk -F'|' -v r="$r" '{gsub(/ /,"",$3); gsub(/ /,"",$4); gsub(/ /,"",$5);
      printf "{\"round\":%s,\"run\":\"old\",\"row\":{\"model\":\"%s\",\"measurement\":{\"batch\":128,\"train_images_per_sec\":%s,\"denoise_one_ms\":%s}}}\n", r, $3, $4, $5}' >>"$out"
  fi
  for b in 128 16; do
    "$torch" "$peer" --threads 2 --batch "$b" | sed "s/^/{\"round\":$r,\"run\":\"torch\",\"row\":/; s/\$/}/" >>"$out"
  done
done
python3 - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def series(run, model, batch, key="train_images_per_sec"):
    v = []
    for r in rows:
        if r["run"] != run:
            continue
        row = r["row"]
        if run == "torch":
            if row["batch"] == batch and model == "canonical":
                v.append(row["train_images_per_sec"] if key == "train_images_per_sec" else row["denoise_one_ms"])
        elif row["model"] == model and row["measurement"]["batch"] == batch:
            v.append(row["measurement"][key])
    return v
def fmt(v):
    return f"{statistics.median(v):.0f} ({min(v):.0f}–{max(v):.0f})" if v else "–"
print("| model | batch | engine img/s | burn's ops img/s | old commit img/s | PyTorch img/s | engine / PyTorch | engine / burn's ops |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for model in ["canonical", "skip", "classifier"]:
    for batch in [128, 16]:
        e, b, o, t = (series(x, model, batch) for x in ["engine", "burn", "old", "torch"])
        rt = f"{statistics.median(e) / statistics.median(t):.2f}" if e and t else "–"
        rb = f"{statistics.median(e) / statistics.median(b):.2f}" if e and b else "–"
        print(f"| {model} | {batch} | {fmt(e)} | {fmt(b)} | {fmt(o)} | {fmt(t)} | {rt} | {rb} |")
e = series("engine", "canonical", 128, "denoise_one_ms")
t = series("torch", "canonical", 128, "denoise_one_ms")
print(f"\none-digit denoise (canonical): engine {statistics.median(e):.3f} ms ({min(e):.3f}–{max(e):.3f}), "
      f"PyTorch {statistics.median(t):.3f} ms ({min(t):.3f}–{max(t):.3f})")
EOF
