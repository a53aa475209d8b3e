# Shared by scripts/*.sh: install what is missing, idempotently, then build.
# Sourced, not run. Every step checks before it acts, so a second run costs seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Tools built once per machine live outside the checkout, so a fresh clone reuses them.
CACHE="${BLIMARI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blimari}"
TOOLS="$CACHE/tools"
WORKER_BUILD_VERSION="0.8.7"
export WRANGLER_SEND_METRICS=false
export PATH="$TOOLS/bin:$PATH"
mkdir -p "$CACHE"

# Each long step is announced, numbered, with the time spent so far, never silent.
STEP_NUMBER=0
STEP_STARTED=$(date +%s)
step() {
  STEP_NUMBER=$((STEP_NUMBER + 1))
  printf '\n\033[1m== step %d (%ds so far): %s\033[0m\n' "$STEP_NUMBER" "$(($(date +%s) - STEP_STARTED))" "$*" >&2
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_node_modules() {
  local stamp="$ROOT/node_modules/.blimari-lock" want
  want=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  step "Installing Node packages (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# Chooses how to compile for wasm32 and exports WASM_ENV (env assignments for cargo).
# First choice: rustup's target. Where rustup cannot download it (these machines have no
# route to its servers), Debian's rustc-web with the standard library's sources builds
# the target from source (docs/PLATFORM.md).
ensure_wasm_toolchain() {
  WASM_TOOLCHAIN=rustup
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    WASM_ENV=(); WASM_CARGO_ARGS=(); return
  fi
  if [ ! -x /usr/bin/wasm-ld-22 ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    if command -v rustup >/dev/null && [ ! -f "$CACHE/rustup-wasm-unavailable" ]; then
      step "Adding rustup's wasm32 target (60 s at most)"
      if timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
        WASM_ENV=(); WASM_CARGO_ARGS=(); return
      fi
      echo "rustup could not fetch the target; using Debian's toolchain instead" >&2
      touch "$CACHE/rustup-wasm-unavailable"
    fi
    step "Installing Debian's Rust toolchain for wasm32 (rustc-web, rust-web-src, lld-22)"
    apt_install rustc-web cargo-web rust-web-src lld-22
  fi
  WASM_TOOLCHAIN="debian $(/usr/bin/rustc --version)"
  WASM_ENV=(PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22)
  WASM_CARGO_ARGS=(-Zbuild-std=std,panic_abort)
  # worker-build checks that the target's library folder exists.
  mkdir -p "$(/usr/bin/rustc --target wasm32-unknown-unknown --print target-libdir)"
}

# worker-build and wasm-bindgen-cli, at the versions this checkout pins, built with the
# machine's native toolchain into $TOOLS (once per machine and version): ONE `cargo
# install` for both, sharing one target folder (their common crates compile once), with
# cargo's own progress bar. Measured on 2 busy cores: about 10 minutes for both.
ensure_build_tools() {
  local bindgen crates=()
  bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")
  if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
    crates+=("worker-build@$WORKER_BUILD_VERSION")
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen\$"; then
    crates+=("wasm-bindgen-cli@$bindgen")
  fi
  [ ${#crates[@]} -gt 0 ] || return 0
  step "Building ${crates[*]} (once per machine; about 10 min on 2 cores, cargo shows its progress)"
  # --locked first; a tool's lock file can name a yanked crate, then let cargo resolve.
  CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --locked --force --root "$TOOLS" "${crates[@]}" ||
    CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --force --root "$TOOLS" "${crates[@]}"
  rm -rf "$CACHE/tools-target"
}

# G2: the commit the build reports in /api/health's version (read with option_env!).
# Part of the source hash, so a new commit rebuilds and the version never goes stale.
BLIMARI_GIT_COMMIT="${BLIMARI_GIT_COMMIT:-$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)}"
export BLIMARI_GIT_COMMIT

source_hash() {
  (cd "$ROOT" && find src Cargo.toml Cargo.lock .cargo -type f -print0 | sort -z | xargs -0 sha256sum;
   echo "$WASM_TOOLCHAIN"; echo "commit $BLIMARI_GIT_COMMIT") | sha256sum | cut -d' ' -f1
}

# Builds build/index.js + build/index_bg.wasm unless the sources are unchanged.
build_worker() {
  ensure_wasm_toolchain
  ensure_build_tools
  local stamp="$ROOT/build/.blimari-source" want
  want=$(source_hash)
  if [ -f "$stamp" ] && [ -f "$ROOT/build/index.js" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  step "Building the worker (wasm32, release)"
  (cd "$ROOT" && env "${WASM_ENV[@]}" \
    WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen" \
    WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt" \
    ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
    worker-build --release . --locked "${WASM_CARGO_ARGS[@]}")
  # The copy with function names, for `node scripts/wasm-sizes.mjs` (where the bytes are).
  cp "$ROOT/build/index_bg.wasm" "$ROOT/target/index_bg.named.wasm"
  strip_wasm "$ROOT/build/index_bg.wasm"
  echo "$want" >"$stamp"
}

# worker-build runs `wasm-opt -Oz` but keeps the names section (`--debuginfo`); drop it
# and the producers section: 237 KiB raw, 63 KiB gzip (docs/BENCHMARKS.md). A panic
# still logs its message and file:line; wasm frames in stack traces lose their names.
# The features are worker-build's own list, so nothing newer than workerd is emitted.
strip_wasm() {
  local features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
  "$ROOT/node_modules/.bin/wasm-opt" "$1" -o "$1.stripped" "${features[@]/#/--enable-}" --strip-debug --strip-producers
  mv "$1.stripped" "$1"
}

wrangler() { node "$ROOT/node_modules/wrangler/bin/wrangler.js" "$@"; }

# ensure_postgres, start_postgres DIR, stop_postgres DIR: the local PostgreSQL of the
# Neon mode (scripts/postgres.sh).
source "$ROOT/scripts/postgres.sh"

# Applies migrations/ to the local D1 kept in $1 (wrangler's default when empty).
migrate_local() {
  local args=()
  if [ -n "${1:-}" ]; then args=(--persist-to "$1"); fi
  step "Applying migrations to the local D1"
  (cd "$ROOT" && wrangler d1 migrations apply DB --local "${args[@]}" </dev/null) | tail -n 3
}

setup() {
  ensure_node_modules
  build_worker
}
