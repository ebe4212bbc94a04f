#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm32), the native unit
# and integration tests (IDX parsing, noise, models, training, metrics, the
# CLI, native/browser parity), then the browser tests in headless Chromium (scripts/test-web.sh:
# wasm-bindgen-test and the end-to-end test of the built page).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
need_rust
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown ||
  rustup target add wasm32-unknown-unknown
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The page's code (src/web/) only builds for wasm32: check it (with clippy)
# here, in seconds, before the slow browser steps.
cargo clippy --locked --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
cargo test --locked
# The benchmark is not a test; make sure it still builds.
cargo build --locked --benches
scripts/test-web.sh
