#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm32, while building), the native unit
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
# What the browser tests need and only waits on the network (Chromium, npm,
# the nightly's components) installs beside the builds; test-web.sh's own
# setup then finds it in place and installs what needs the CPU.
downloads_log="$(mktemp "${TMPDIR:-/tmp}/aelab-downloads.XXXXXX")"
scripts/setup-web.sh --downloads >"$downloads_log" 2>&1 &
downloads=$!
cargo fmt --all -- --check
# Clippy lints aelab's own crates while they are built, instead of in a
# separate `cargo clippy` (check) pass: a check pass compiles every dependency
# a second time, in a mode the tests and the page cannot reuse (about 14 of a
# cold run's minutes on 2 cores). clippy-driver wraps rustc for the workspace
# members only, exactly as `cargo clippy` does, so each dependency compiles
# once for the lints, the tests and the page. Exported, so that the wasm
# tests and the page (scripts/test-web.sh) reuse the linted builds;
# scripts/setup-web.sh unsets it for the tools it installs.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
# The page's code (src/web/) only builds for wasm32: lint it first, before
# the native tests and the slow browser steps.
cargo build --locked --lib --target wasm32-unknown-unknown --no-default-features --features webgpu
# The native tests of `--backend wgpu` need Mesa's Vulkan driver, which
# the downloads install with the browsers.
if ! wait "$downloads"; then
  cat "$downloads_log" >&2
  echo "test.sh: installing what the tests need failed (above)" >&2
  exit 1
fi
rm -f "$downloads_log"
# Lints every native target (lib, bins, tests, examples, benches) and runs
# the tests; the benchmark is not a test, but it must build.
cargo test --locked
cargo build --locked --benches
scripts/test-web.sh
