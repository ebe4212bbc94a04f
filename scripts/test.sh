#!/usr/bin/env bash
# Runs every test: formatting, the native unit and integration tests (IDX
# parsing, noise, models, training, metrics, the CLI, native/browser
# parity), then the browser tests in headless Chromium (scripts/test-web.sh:
# wasm-bindgen-test and the end-to-end test of the built page).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
need_rust
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown ||
  rustup target add wasm32-unknown-unknown
cargo fmt --all -- --check
cargo test --locked
# The benchmark is not a test; make sure it still builds.
cargo build --locked --benches
scripts/test-web.sh
