#!/usr/bin/env bash
# Installs what the web build and the browser tests need, each only when
# missing: the wasm32 target, wasm-bindgen-cli (matching Cargo.lock),
# wasm-opt (the crate; Debian's binaryen 108 breaks the module), Debian's
# chromium + chromium-driver, Firefox ESR, WebKitGTK's WebKitWebDriver and
# Xvfb (the tests beyond Chromium), Mesa's Vulkan drivers (the native
# tests of `--backend wgpu`), and the e2e tests' playwright-core and
# puppeteer-core and the JS type check's typescript (npm).
# Tools are built in a cache outside the clone.
#   scripts/setup-web.sh [--release] [--downloads]
# --downloads: only what waits on the network rather than the CPU (Chromium,
# npm, the nightly's components), which scripts/test.sh runs beside its
# first build.
set -euo pipefail
cd "$(dirname "$0")/.."
release=0
downloads_only=0
for a in "$@"; do
  case "$a" in
    --release) release=1 ;;
    --downloads) downloads_only=1 ;;
    *) echo "setup-web.sh: unknown option $a (use --release, --downloads)" >&2; exit 2 ;;
  esac
done

WASM_BINDGEN=0.2.130
WASM_OPT=0.116.1
tools_target="$HOME/.cache/aelab-tools-target"
# scripts/test.sh lints aelab's crates through clippy-driver; the tools
# installed here are not aelab's and must build with plain rustc.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS

have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }

if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
# The pinned nightly, its std's sources and its wasm32 target, for the
# threaded module (scripts/env.sh, AELAB_NIGHTLY).
source scripts/env.sh
nightly="$(aelab_nightly)"
if [ -z "$nightly" ]; then
  rustup toolchain install "$AELAB_NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown
  nightly="$AELAB_NIGHTLY"
fi
rustup +"$nightly" component list --installed 2>/dev/null | grep -q '^rust-src' || rustup +"$nightly" component add rust-src
rustup +"$nightly" target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown ||
  rustup +"$nightly" target add wasm32-unknown-unknown
# Each browser's package and the command (or, from /, the file pattern)
# that shows it is there. Chromium comes with its recommended packages (its
# fonts) as it always has; Firefox and WebKitGTK without theirs (ffmpeg,
# GStreamer's plugins: tens of MB the tests never use). Mesa's Vulkan
# drivers give the native tests of `--backend wgpu` a software GPU
# (lavapipe, tests/gpu.rs).
apt_missing() {
  local p out=""
  for p in "$@"; do
    case "${p#*:}" in
      /*) compgen -G "${p#*:}" >/dev/null || out="$out ${p%%:*}" ;;
      *) command -v "${p#*:}" >/dev/null || out="$out ${p%%:*}" ;;
    esac
  done
  echo "$out"
}
chromium_packages="$(apt_missing chromium:chromium chromium-driver:chromedriver)"
other_packages="$(apt_missing firefox-esr:firefox-esr webkit2gtk-driver:WebKitWebDriver xvfb:Xvfb poppler-utils:pdftotext \
  'mesa-vulkan-drivers:/usr/share/vulkan/icd.d/lvp_icd.*.json')"
if [ -n "$chromium_packages$other_packages" ]; then
  sudo_=""
  [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  # shellcheck disable=SC2086
  [ -z "$chromium_packages" ] || DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq $chromium_packages >/dev/null
  # shellcheck disable=SC2086
  [ -z "$other_packages" ] ||
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends $other_packages >/dev/null
fi
if [ ! -d tests/e2e/node_modules/playwright-core ] || [ ! -d tests/e2e/node_modules/puppeteer-core ] ||
  [ ! -d tests/e2e/node_modules/typescript ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --cache "$HOME/.cache/aelab-npm")
fi
[ $downloads_only = 0 ] || exit 0
if ! have_version wasm-bindgen "$WASM_BINDGEN"; then
  # Not --locked: its lock file names a yanked webpki-roots.
  CARGO_TARGET_DIR="$tools_target" cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN"
fi
# wasm-opt is only needed for release builds (size report, bench):
# `scripts/setup-web.sh --release`.
if [ $release = 1 ] && ! have_version wasm-opt "version 116"; then
  CARGO_TARGET_DIR="$tools_target" cargo install --locked --force wasm-opt --version "$WASM_OPT"
fi
