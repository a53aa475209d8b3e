#!/usr/bin/env bash
# npm run test:neon: the end-to-end and browser suite in Neon mode: every worker on its
# own database in a throwaway PostgreSQL, reached through the Neon HTTP gateway.
# Not yet part of `npm test`: a few files still fail in this mode (README, "Neon").
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/python.sh"
ensure_node_modules
ensure_postgres
ensure_schemathesis
build_worker
cd "$ROOT"
BLIMARI_TEST_DB=neon node tests/run.mjs "$@"
