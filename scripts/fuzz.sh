#!/usr/bin/env bash
# The long fuzz runs: each cargo-fuzz target (fuzz/fuzz_targets) for RUNS
# executions (default 10 million), starting from the committed corpus.
# Needs the nightly toolchain (libFuzzer's instrumentation); cargo-fuzz is
# installed when missing. The corpus the runs grow is kept outside the clone,
# in $HOME/.cache/aelab-fuzz-corpus/<target>, and a later run starts from it
# and the committed seeds; crashes are written to fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [RUNS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
RUNS=${1:-10000000}
shift || true
TARGETS=${*:-idx csv_wide csv_long record anomaly_run spec workspace}
rustup toolchain list | grep -q '^nightly' || {
  echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 1
}
command -v cargo-fuzz >/dev/null ||
  CARGO_TARGET_DIR=$HOME/.cache/aelab-tools-target cargo install --locked cargo-fuzz
export CARGO_TARGET_DIR=$HOME/.cache/aelab-fuzz-target
cargo +nightly fuzz build -O
for t in $TARGETS; do
  grown=$HOME/.cache/aelab-fuzz-corpus/$t
  mkdir -p "$grown"
  log=$(mktemp)
  echo "== $t: $RUNS executions"
  start=$(date +%s)
  rc=0
  cargo +nightly fuzz run -O "$t" "$grown" fuzz/corpus/"$t" -- \
    -runs="$RUNS" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs|ERROR|panicked' "$log" || true
  echo "   $t: exit $rc after $(( $(date +%s) - start )) s"
  if [ "$rc" != 0 ]; then
    tail -40 "$log" >&2
    failed=1
  fi
  rm -f "$log"
done
exit "${failed:-0}"
