#!/usr/bin/env bash
# Serves the lab on http://127.0.0.1:${PORT:-8080}/ (loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
echo "aelab: http://127.0.0.1:$port/"
exec python3 -m http.server "$port" --bind 127.0.0.1
