#!/usr/bin/env bash
# Type-checks the page's JS (assets/web/*.js, `// @ts-check` with JSDoc)
# against the wasm API's declarations, which wasm-bindgen and tsify generate
# from src/web/ into the built page (DIST/aelab.d.ts): a renamed method or a
# wrong field of a settings object fails here, before any browser runs.
# Then checks that the check can fail: tests/ts/*.js each hold one mistake.
#   scripts/check-js.sh [DIST]      (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist}"
tsc=tests/e2e/node_modules/.bin/tsc
[ -f "$dist/aelab.d.ts" ] || { echo "no $dist/aelab.d.ts: build the page first (scripts/build-web.sh)" >&2; exit 1; }
[ -x "$tsc" ] || { echo "no tsc: run scripts/setup-web.sh" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
stage_page() {
  rm -rf "$stage"/*
  cp assets/web/*.js assets/web/globals.d.ts assets/web/tsconfig.json "$dist/aelab.d.ts" "$stage"/
}
stage_page
"$tsc" -p "$stage"
echo "check-js: the page's JS agrees with aelab.d.ts"
for bad in tests/ts/*.js; do
  stage_page
  cp "$bad" "$stage"/
  if out=$("$tsc" -p "$stage" 2>&1); then
    echo "check-js: $bad should fail the type check, and it passed" >&2
    exit 1
  fi
  want=$(sed -n 's|^// expect: ||p' "$bad")
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "check-js: $bad failed, but not with '$want':" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "check-js: $bad fails as it should ($want)"
done
