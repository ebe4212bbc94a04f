#!/usr/bin/env bash
# Runs every test: formatting, then the native unit and integration tests
# (IDX parsing, noise, models, training, metrics, the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
need_rust
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
cargo fmt --all -- --check
cargo test --locked
# The benchmark is not a test; make sure it still builds.
cargo build --locked --benches
