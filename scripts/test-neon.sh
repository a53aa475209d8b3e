#!/usr/bin/env bash
# npm run test:neon: the end-to-end and browser suite in Neon mode: every worker on its
# own database in a throwaway PostgreSQL, reached through the Neon HTTP gateway.
# `npm test` runs it too, after the same suite on D1; this runs it alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/python.sh"
ensure_node_modules
ensure_postgres
ensure_schemathesis
build_worker
cd "$ROOT"
BLIMARI_TEST_DB=neon node tests/run.mjs "$@"
