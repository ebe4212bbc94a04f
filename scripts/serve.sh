#!/usr/bin/env bash
# Builds the page with trunk and serves it on http://127.0.0.1:8080/
# (loopback only; a secure context, so WebGPU is allowed). Installs the web
# tools first when they are missing (scripts/setup-web.sh).
# `scripts/serve.sh --release` serves the optimised build (lto, wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup-web.sh "$@"
echo "aelab: http://127.0.0.1:8080/"
exec trunk serve "$@"
