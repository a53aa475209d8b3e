#!/usr/bin/env bash
# npm run profile -- [PATH] [--requests N]: where one endpoint's CPU goes (scripts/profile.mjs).
source "$(dirname "$0")/lib.sh"
setup
cd "$ROOT"
node scripts/profile.mjs "$@"
