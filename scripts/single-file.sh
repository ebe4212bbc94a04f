#!/usr/bin/env bash
# One command for teachers: builds the release page and makes aelab.html,
# a single self-contained file that opens the whole lab from file://.
#   scripts/single-file.sh [out.html]     (default: aelab.html)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup-web.sh --release
scripts/build-web.sh --release --dist dist-release
node scripts/single-file.mjs dist-release "${1:-aelab.html}"
