#!/usr/bin/env bash
# npm run deploy: build, apply migrations to the remote D1, deploy. Needs a Cloudflare
# account (CLOUDFLARE_API_TOKEN) and the resource ids in wrangler.toml (README.md).
source "$(dirname "$0")/lib.sh"
setup
cd "$ROOT"
wrangler d1 migrations apply DB --remote
wrangler deploy
