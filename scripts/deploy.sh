#!/usr/bin/env bash
# npm run deploy: build, apply migrations to the remote D1, deploy. Needs a Cloudflare
# account (CLOUDFLARE_API_TOKEN) and the resource ids in wrangler.toml (README.md).
# With DATABASE_URL in the environment (the Neon database the DATABASE_URL secret names),
# its pending migrations are applied too, before the new code goes live.
source "$(dirname "$0")/lib.sh"
setup
cd "$ROOT"
wrangler d1 migrations apply DB --remote
if [ -n "${DATABASE_URL:-}" ]; then node scripts/migrate.mjs --neon; fi
wrangler deploy
