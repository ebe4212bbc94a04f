#!/usr/bin/env bash
# One command for teachers: builds the release page and makes aelab.html,
# a single self-contained file that opens the whole lab from file://.
#   scripts/single-file.sh [out.html]     (default: aelab.html)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup-web.sh --release
# aelab.html opens from file://, never cross-origin isolated: no threaded module.
scripts/build-web.sh --release --no-threads --dist dist-single
node scripts/single-file.mjs dist-single "${1:-aelab.html}"
