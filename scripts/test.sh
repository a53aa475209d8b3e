#!/usr/bin/env bash
# npm test: set up what is missing, then run every test: the pure core (cargo test),
# then the end-to-end and browser tests (tests/run.mjs: one shared wrangler dev, then
# node --test over tests/e2e and tests/browser, several files at a time).
source "$(dirname "$0")/lib.sh"
ensure_node_modules
if [ ! -x /usr/bin/chromium ]; then
  step "Installing Debian's Chromium for the browser tests"
  apt_install chromium
fi
if ! command -v sqlite3 >/dev/null; then
  step "Installing sqlite3 (tests read and arrange the local D1 with it)"
  apt_install sqlite3
fi
step "Unit tests of the pure core (cargo test)"
(cd "$ROOT" && cargo test --locked --quiet)
build_worker
step "End-to-end and browser tests (tests/run.mjs: node --test, wrangler dev)"
cd "$ROOT"
node tests/run.mjs
