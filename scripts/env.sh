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
