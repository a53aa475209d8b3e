#!/usr/bin/env bash
# npm test: set up what is missing, then run every test:
#   1. the pure core and its native SQL tests (cargo test), and the Node unit tests;
#   2. the Neon protocol: the gateway against Neon's own driver, and the app's SQL on a
#      real PostgreSQL (scripts/postgres.sh starts a throwaway cluster);
#   3. the end-to-end and browser suite on D1 (tests/run.mjs: one shared wrangler dev,
#      several files at a time);
#   4. the same suite in Neon mode (BLIMARI_TEST_DB=neon: every worker on a database of
#      its own in a throwaway PostgreSQL, reached through the Neon HTTP gateway).
# Step 4 runs even when step 3 failed, so one run reports both; the exit status fails
# if either did. `npm run test:neon` runs step 4 alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/python.sh"
ensure_node_modules
if [ ! -x /usr/bin/chromium ]; then
  step "Installing Debian's Chromium for the browser tests"
  apt_install chromium
fi
if ! command -v sqlite3 >/dev/null; then
  step "Installing sqlite3 (tests read and arrange the local D1 with it)"
  apt_install sqlite3
fi
ensure_postgres
step "Python test tools (schemathesis)"
ensure_schemathesis
cd "$ROOT"

step "1/4 Unit tests of the pure core (cargo test) and of the scripts (node --test tests/unit)"
cargo test --locked --quiet
node --test --test-reporter=spec tests/unit/

step "2/4 Neon protocol: the gateway against @neondatabase/serverless, the app's SQL on PostgreSQL"
node --test --test-reporter=spec tests/neon/
cargo test --locked --quiet --test neon_postgres -- --ignored

build_worker
step "wrangler deploy --dry-run (the configuration can deploy)"
wrangler deploy --dry-run --outdir "$(mktemp -d)" >/dev/null
step "3/4 End-to-end and browser tests on D1 (tests/run.mjs)"
failures="$ROOT/test-artifacts/failures"
mkdir -p "$failures" && rm -f "$failures"/*.txt
d1_status=0
BLIMARI_TEST_FAILURES="$failures/d1.txt" node tests/run.mjs || d1_status=$?
step "4/4 End-to-end and browser tests in Neon mode, on PostgreSQL (BLIMARI_TEST_DB=neon tests/run.mjs)"
neon_status=0
BLIMARI_TEST_FAILURES="$failures/neon.txt" BLIMARI_TEST_DB=neon node tests/run.mjs || neon_status=$?
if [ "$d1_status" != 0 ] || [ "$neon_status" != 0 ]; then
  # What failed and why, last, where a person reading the log's tail sees it.
  for mode in d1 neon; do
    if [ -s "$failures/$mode.txt" ]; then
      echo "== failed on ${mode^^}:" >&2
      cat "$failures/$mode.txt" >&2
      echo >&2
    fi
  done
  echo "end-to-end suite failed: D1 exit $d1_status, Neon exit $neon_status" >&2
  exit 1
fi
