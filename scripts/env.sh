# Sourced by the other scripts: shared settings, and installs of what is missing.
# Caches live outside the clone, so CI on a warm machine stays short.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/aelab-target}
export PATH="$HOME/.cargo/bin:$PATH"

need_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust (rustup) first" >&2
    exit 1
  fi
}

# The pinned nightly for the page's threaded module (-Z build-std, atomics):
# nightly-2026-05-20, which is rustc 1.97.0-nightly (e50aa6fba 2026-05-19).
AELAB_NIGHTLY=nightly-2026-05-20
AELAB_NIGHTLY_COMMIT=e50aa6fba
# Prints the installed toolchain that is the pinned nightly (the preinstalled
# `nightly` may be it), or nothing.
aelab_nightly() {
  local t
  for t in "$AELAB_NIGHTLY" nightly; do
    if rustup run "$t" rustc -V 2>/dev/null | grep -q "$AELAB_NIGHTLY_COMMIT"; then
      echo "$t"
      return
    fi
  done
}
