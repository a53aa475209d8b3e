#!/usr/bin/env bash
# npm run start:neon: the whole app as `npm start` serves it, but in Neon mode: a local
# PostgreSQL (a throwaway cluster, removed on exit), the migrations applied to it, and
# the Neon HTTP gateway in front of it (scripts/standins/neon-gateway.mjs).
source "$(dirname "$0")/lib.sh"
setup
PG_RUN_DIR=$(mktemp -u "${TMPDIR:-/tmp}/blimari-pg-XXXXXX")
step "Starting a local PostgreSQL for the Neon mode"
start_postgres "$PG_RUN_DIR"
trap 'stop_postgres "$PG_RUN_DIR"' EXIT
step "Applying migrations to it (npm run migrate -- --neon)"
(cd "$ROOT" && DATABASE_URL="$PG_DATABASE_URL" node scripts/migrate.mjs --neon)
cd "$ROOT"
DATABASE_URL="$PG_DATABASE_URL" BLIMARI_NEON_GATEWAY=1 node scripts/serve.mjs
