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
# One throwaway PostgreSQL cluster for the whole run (the PostgreSQL store's tests create a database each
# in it), unless SLAPOS_TEST_POSTGRES already names one.
if [ -z "${SLAPOS_TEST_POSTGRES:-}" ]; then
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/slapos-test-pg.XXXXXX")
  chmod 0755 "$pg_dir"
  trap 'scripts/pg-cluster.sh stop "$pg_dir" || true; rm -rf "$pg_dir"' EXIT
  if SLAPOS_TEST_POSTGRES=$(scripts/pg-cluster.sh start "$pg_dir"); then
    export SLAPOS_TEST_POSTGRES
  elif [ $# -eq 0 ]; then
    echo "no PostgreSQL cluster: the whole run needs one (apt-get install postgresql)" >&2
    exit 1
  else
    echo "warning: no PostgreSQL cluster; the PostgreSQL tests among these will fail" >&2
  fi
fi
run_tests() {
  node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 --enable-source-maps "$@"
}
run_tests "${files[@]}"
# The whole run: a second pass runs the suites that must hold on both stores (the store's and the
# repository's, the services', the replayed upstream API tests) on PostgreSQL. With test files
# named, only those run, on the store SLAPOS_TEST_STORE says (sqlite by default).
if [ $# -eq 0 ]; then
  echo "== tests on PostgreSQL (SLAPOS_TEST_STORE=postgres)"
  SLAPOS_TEST_STORE=postgres run_tests \
    dist/src/master/storage/identities.test.js \
    dist/src/master/storage/store-contract.test.js \
    dist/src/master/services/services.test.js \
    dist/src/master/services/instance-timeline.test.js \
    dist/src/master/services/instance-trees.test.js \
    dist/src/master/services/memoized-reads.test.js \
    dist/src/master/services/allocation.test.js \
    dist/src/master/services/backup-trees.test.js \
    dist/src/master/services/failover.test.js \
    dist/src/master/services/backup-requests.test.js \
    dist/src/master/services/certificate-issuance.test.js \
    dist/src/master/services/usage-records.test.js \
    dist/src/master/services/regularisation.test.js \
    dist/src/master/services/usage-ingest.test.js \
    dist/src/master/services/invoices.test.js \
    dist/src/master/services/invoices-from-usage.test.js \
    dist/src/master/services/invoice-evidence.test.js \
    dist/src/master/usage-api.test.js \
    dist/src/master/legacy-api-upstream.test.js \
    dist/src/master/legacy-api-upstream-shared.test.js \
    dist/src/master/legacy-api-upstream-cli.test.js \
    dist/src/master/json-api-instances.test.js \
    dist/src/master/json-api-change-stream.test.js \
    dist/src/master/json-api-concurrency.test.js \
    dist/src/master/json-api-nul.test.js \
    dist/src/master/legacy-api-fuzz.test.js
fi
