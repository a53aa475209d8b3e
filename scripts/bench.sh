#!/usr/bin/env bash
# npm run bench: prints figures (sizes, start-up, latencies); never fails on a timing.
source "$(dirname "$0")/lib.sh"
setup
cd "$ROOT"
node scripts/bench.mjs
