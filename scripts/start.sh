#!/usr/bin/env bash
# npm start: set up what is missing, then serve the whole app on workerd at $PORT.
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-8787}"
setup
migrate_local ""
inspector=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
step "Serving Blimari at http://127.0.0.1:$PORT"
cd "$ROOT"
exec node "$ROOT/node_modules/wrangler/bin/wrangler.js" dev \
  --ip 127.0.0.1 --port "$PORT" --inspector-port "$inspector" \
  --var ENVIRONMENT:development --test-scheduled
