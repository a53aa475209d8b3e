#!/usr/bin/env bash
# npm start: set up what is missing, then serve the whole app on workerd at $PORT
# (scripts/serve.mjs starts the local stand-ins for unconfigured third parties).
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-8787}"
setup
migrate_local ""
cd "$ROOT"
exec node scripts/serve.mjs
