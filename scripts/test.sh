#!/usr/bin/env bash
# npm test: set up what is missing, then run every test: the pure core (cargo test),
# then the end-to-end and browser tests against wrangler dev (node --test).
source "$(dirname "$0")/lib.sh"
ensure_node_modules
if [ ! -x /usr/bin/chromium ]; then
  step "Installing Debian's Chromium for the browser tests"
  apt_install chromium
fi
step "Unit tests of the pure core (cargo test)"
(cd "$ROOT" && cargo test --locked --quiet)
build_worker
step "wrangler deploy --dry-run (the configuration can deploy)"; (cd "$ROOT" && wrangler deploy --dry-run --outdir "$(mktemp -d)" >/dev/null)
step "End-to-end and browser tests (node --test, wrangler dev)"
cd "$ROOT"
node --test --test-reporter=spec --test-concurrency=1 tests/e2e/ tests/browser/
