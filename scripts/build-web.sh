#!/usr/bin/env bash
# Builds the page into a folder of static files: the wasm modules (cargo,
# then wasm-bindgen; wasm-opt for --release: the WebGPU one, and in cpu/ the
# CPU-only one the page loads first), index.html, the page's JS and CSS,
# and the models and data it loads; and the threaded CPU module in mt/ (the
# pinned nightly, -Z build-std, atomics: wasm-bindgen-rayon's pool), which
# the compute worker loads in a cross-origin-isolated page.
#   scripts/build-web.sh [--release] [--dist DIR] [--no-threads]
#   (default dist: dist, or dist-release)
# It is what trunk did for this page, without trunk: one cargo build and one
# wasm-bindgen call per module, and a copy. Installing trunk cost a cold CI
# run 8 of its minutes (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
need_rust

release=0
threads=1
dist=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=1 ;;
    --no-threads) threads=0 ;;
    --dist) dist="$2"; shift ;;
    --dist=*) dist="${1#--dist=}" ;;
    *) echo "build-web.sh: unknown option $1 (use --release, --dist DIR, --no-threads)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$dist" ]; then
  if [ $release = 1 ]; then dist=dist-release; else dist=dist; fi
fi
profile=debug
cargo_profile=()
if [ $release = 1 ]; then
  profile=release
  cargo_profile=(--release)
fi

command -v wasm-bindgen >/dev/null || { echo "wasm-bindgen is missing: run scripts/setup-web.sh" >&2; exit 1; }
[ $release = 0 ] || command -v wasm-opt >/dev/null ||
  { echo "wasm-opt is missing: run scripts/setup-web.sh --release" >&2; exit 1; }

echo "== the page's WebGPU module ($profile)"
cargo build --locked --lib --target wasm32-unknown-unknown --no-default-features --features webgpu "${cargo_profile[@]}"
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/aelab.wasm"

staging="$(mktemp -d "${TMPDIR:-/tmp}/aelab-dist.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# The features every current browser has; wasm-opt needs them named.
optimise() {
  local dir="$1"
  shift
  wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue "$@" \
    "$dir/aelab_bg.wasm" -o "$dir/aelab_bg.opt.wasm"
  mv "$dir/aelab_bg.opt.wasm" "$dir/aelab_bg.wasm"
}
# wasm-ld wraps every export in a call to all the static constructors when
# the module never calls them itself (src/web/mod.rs, `start`, says why
# that is slow). Read off the name section, where the build keeps one (the
# dev profile; release strips it).
check_ctors() {
  if grep -qa '__wasm_call_ctors' "$1" && grep -qa 'command_export' "$1"; then
    echo "build-web.sh: $1 wraps its exports in the static constructors (command_export):" \
      "the module must call __wasm_call_ctors once, at start (src/web/mod.rs)" >&2
    exit 1
  fi
}
check_ctors "$wasm"
wasm-bindgen --target web --out-dir "$staging" --out-name aelab "$wasm"
rm -f "$staging/aelab_bg.wasm.d.ts"
[ $release = 0 ] || optimise "$staging"

# The CPU-only module the page loads first (cpu/): the same code without
# burn's WebGPU runtime (cubecl, wgpu), a third of the size. The lab worker
# starts on it and moves to the WebGPU module above when a session asks for
# WebGPU (assets/web/lab-host.js).
echo "== the page's CPU-only module ($profile)"
cargo build --locked --lib --target wasm32-unknown-unknown --no-default-features "${cargo_profile[@]}"
check_ctors "$wasm"
wasm-bindgen --target web --out-dir "$staging/cpu" --out-name aelab "$wasm"
rm -f "$staging/cpu/aelab_bg.wasm.d.ts" "$staging/cpu/aelab.d.ts"
[ $release = 0 ] || optimise "$staging/cpu"

if [ $threads = 1 ]; then
  nightly="$(aelab_nightly)"
  if [ -z "$nightly" ]; then
    echo "build-web.sh: the pinned nightly ($AELAB_NIGHTLY) is missing, so the page has no threaded module;" \
      "scripts/setup-web.sh installs it (or pass --no-threads)" >&2
    exit 1
  fi
  echo "== the threaded CPU module ($profile, $nightly, atomics)"
  # Its own target dir: another std and other flags. Not linted: clippy is
  # the stable toolchain's, and the code is the same. The link makes the
  # memory shared and imported (wasm-bindgen hands it to each thread), with
  # a maximum of 4 GiB so that a large training set fits, and exports the
  # thread-local storage symbols wasm-bindgen's thread start needs.
  (
    unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR-threads"
    export RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
    # rustc says `atomics` is unstable once per crate: the filter keeps one
    # (stderr through awk, stdout as it is; pipefail keeps cargo's status).
    { cargo +"$nightly" rustc --locked --lib --crate-type cdylib --target wasm32-unknown-unknown \
      --no-default-features "${cargo_profile[@]}" -Z build-std=panic_abort,std \
      -- -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
      -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
      -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base \
      2>&1 1>&3 | awk '/unstable feature specified for `-Ctarget-feature`: `atomics`/ { skip = 3; if (seen++) next }
                skip > 0 { skip--; if (seen > 1) next } { print; fflush() }' >&2; } 3>&1
  )
  check_ctors "$CARGO_TARGET_DIR-threads/wasm32-unknown-unknown/$profile/aelab.wasm"
  mkdir -p "$staging/mt"
  wasm-bindgen --target web --out-dir "$staging/mt" --out-name aelab \
    "$CARGO_TARGET_DIR-threads/wasm32-unknown-unknown/$profile/aelab.wasm"
  rm -f "$staging/mt/aelab_bg.wasm.d.ts" "$staging/mt/aelab.d.ts"
  [ $release = 0 ] || optimise "$staging/mt" --enable-threads
  # The module's files (with wasm-bindgen-rayon's worker helper under
  # snippets/), for the service worker to cache for offline visits.
  (cd "$staging" && find mt -type f | sort | sed 's/.*/"&"/' | paste -sd, | sed 's/.*/[&]/') > "$staging/mt/files.json"
fi

cp index.html "$staging/"
cp assets/web/style.css assets/web/*.js assets/web/bench.html "$staging/"
cp -r assets/models assets/mnist assets/ecg5000 "$staging/"

# Replace the folder only once everything is in place.
rm -rf "$dist"
mkdir -p "$(dirname "$dist")"
mv "$staging" "$dist"
trap - EXIT
chmod 755 "$dist"
echo "== the page is in $dist/"
