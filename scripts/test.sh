#!/usr/bin/env bash
# The project's whole check: compile (type check), lint, format check, then every test.
# Usage: scripts/test.sh [--only-tests] [test files or name filters...]
set -euo pipefail
cd "$(dirname "$0")/.."
only_tests=false
if [ "${1:-}" = "--only-tests" ]; then only_tests=true; shift; fi

echo "== build (tsc)"
npx tsc -p tsconfig.build.json
node dist/scripts/bundle-vendor.js
if [ "$only_tests" = false ]; then
  echo "== lint (eslint)"
  npx eslint --max-warnings 0 .
  echo "== format (prettier)"
  npx prettier --check . > /dev/null || { npx prettier --check . ; exit 1; }
fi

echo "== tests (node:test)"
if [ $# -gt 0 ]; then
  files=()
  for f in "$@"; do
    f="${f%.ts}"; f="${f#dist/}"
    files+=("dist/${f}.js")
  done
else
  mapfile -t files < <(find dist/src dist/e2e -name '*.test.js' 2>/dev/null | sort)
fi
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 --enable-source-maps "${files[@]}"
