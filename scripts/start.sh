#!/usr/bin/env bash
# npm start: set up what is missing, then serve the whole app on workerd at $PORT
# (scripts/serve.mjs starts the local stand-ins for unconfigured third parties).
# With DATABASE_URL in the environment the app runs in Neon mode on that database: its
# pending migrations are applied (npm run migrate -- --neon), and a database on this
# machine is reached through the local Neon HTTP gateway (serve.mjs).
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-8787}"
setup
if [ -n "${DATABASE_URL:-}" ]; then
  step "Applying migrations to DATABASE_URL (Neon mode)"
  (cd "$ROOT" && node scripts/migrate.mjs --neon)
else
  migrate_local ""
fi
cd "$ROOT"
exec node scripts/serve.mjs
