#!/usr/bin/env bash
# Builds the page (scripts/build-web.sh) and serves it on
# http://127.0.0.1:8080/ (loopback only; a secure context, so WebGPU is
# allowed), cross-origin isolated (COOP/COEP), so the page can use threads.
# Installs the web tools first when they are missing (scripts/setup-web.sh).
#   scripts/serve.sh [--release] [--port N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
release=()
port=8080
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=(--release) ;;
    --port) port="$2"; shift ;;
    *) echo "serve.sh: unknown option $1 (use --release, --port N)" >&2; exit 2 ;;
  esac
  shift
done
scripts/setup-web.sh "${release[@]}"
dist=dist
[ ${#release[@]} = 0 ] || dist=dist-release
scripts/build-web.sh "${release[@]}" --dist "$dist"
exec node tests/e2e/serve.mjs "$dist" "$port" --isolate
