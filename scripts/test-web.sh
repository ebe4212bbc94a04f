#!/usr/bin/env bash
# The browser tests: wasm-bindgen-test in headless Chromium (tests/web.rs),
# then the page built by scripts/build-web.sh, its JS type-checked against the
# generated aelab.d.ts (scripts/check-js.sh), and driven end to end (tests/e2e):
# in Chromium, then the draw and upload tests in Firefox ESR and WebKitGTK.
# `scripts/test.sh` runs this after the native tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup-web.sh

export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=900
# webdriver.json (repo root) passes --enable-unsafe-webgpu and headless flags.
echo "== wasm-bindgen-test in headless Chromium"
cargo test --locked --target wasm32-unknown-unknown --no-default-features --features webgpu --test web

echo "== the page (${AELAB_WEB_PROFILE:-dev} profile) and the end-to-end test"
if [ "${AELAB_WEB_PROFILE:-dev}" = release ]; then
  scripts/setup-web.sh --release
  scripts/build-web.sh --release --dist dist
else
  scripts/build-web.sh --dist dist
fi
echo "== the page's JS against the wasm API's declarations (tsc)"
scripts/check-js.sh dist
node --test --test-reporter=spec tests/e2e/e2e.mjs
echo "== the same page in Firefox ESR and WebKitGTK"
node --test --test-reporter=spec tests/e2e/browsers.test.mjs
