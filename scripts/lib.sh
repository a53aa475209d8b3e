# Shared by scripts/*.sh: install what is missing, idempotently, then build.
# Sourced, not run. Every step checks before it acts, so a second run costs seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Tools built once per machine live outside the checkout, so a fresh clone reuses them.
CACHE="${BLIMARI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blimari}"
TOOLS="$CACHE/tools"
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
  # The target's library folder, which some tools look for (worker-build did), exists.
  mkdir -p "$(/usr/bin/rustc --target wasm32-unknown-unknown --print target-libdir)"
}

# wasm-bindgen-cli at the version Cargo.lock pins (it must match the `wasm-bindgen` crate
# exactly), built with the machine's native toolchain into $TOOLS, once per machine and
# version, with cargo's own progress bar. The rest of the build needs no Rust tool:
# wasm-opt and esbuild come from npm (node_modules/.bin).
ensure_build_tools() {
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")
  if wasm-bindgen --version 2>/dev/null | grep -q " $bindgen\$"; then return 0; fi
  step "Building wasm-bindgen-cli@$bindgen (once per machine; about 5 min on 2 cores, cargo shows its progress)"
  # --locked first; a tool's lock file can name a yanked crate, then let cargo resolve.
  CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --locked --force --root "$TOOLS" "wasm-bindgen-cli@$bindgen" ||
    CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --force --root "$TOOLS" "wasm-bindgen-cli@$bindgen"
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

# What wasm-opt may emit: the features workerd accepts (the list worker-build used), so
# nothing newer than the runtime reaches the .wasm.
WASM_FEATURES=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)

# Builds build/index.js + build/index_bg.wasm unless the sources are unchanged:
#   1. cargo: the crate for wasm32 (release profile: opt-level "z", LTO, panic = "abort");
#   2. wasm-bindgen: the JS glue, as an ES module, with the reset-after-crash support the
#      entry uses (src/entry.mjs);
#   3. wasm-opt -Oz, keeping the names section for target/index_bg.named.wasm (read by
#      scripts/wasm-sizes.mjs and scripts/profile.mjs), then a copy without names or
#      producers is what is served (237 KiB raw, 63 KiB gzip less: docs/BENCHMARKS.md);
#   4. esbuild: src/entry.mjs and the glue in one minified module.
# This is what worker-build 0.8.7 does, with src/entry.mjs instead of its entry, which
# builds Proxies on every request (docs/BENCHMARKS.md), and without compiling worker-build.
build_worker() {
  ensure_wasm_toolchain
  ensure_build_tools
  local stamp="$ROOT/build/.blimari-source" want stage="$ROOT/build/.stage"
  local target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
  want=$(source_hash)
  if [ -f "$stamp" ] && [ -f "$ROOT/build/index.js" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  step "Building the worker (wasm32, release)"
  # The env var makes wasm-bindgen's macros use js_sys::futures (as worker-build sets it).
  (cd "$ROOT" && env "${WASM_ENV[@]}" WASM_BINDGEN_USE_JS_SYS=1 \
    cargo build --lib --release --target wasm32-unknown-unknown --locked "${WASM_CARGO_ARGS[@]}")
  rm -rf "$stage" && mkdir -p "$stage"
  "$TOOLS/bin/wasm-bindgen" "$target_dir/wasm32-unknown-unknown/release/blimari.wasm" --out-dir "$stage" \
    --no-typescript --target module --out-name index --experimental-reset-state-function --force-enable-abort-handler
  "$ROOT/node_modules/.bin/wasm-opt" "$stage/index_bg.wasm" -o "$stage/index_bg.wasm" -Oz "${WASM_FEATURES[@]/#/--enable-}" --debuginfo
  cp "$ROOT/src/entry.mjs" "$stage/entry.mjs"
  "$ROOT/node_modules/.bin/esbuild" "$stage/entry.mjs" --bundle --format=esm --minify --log-level=warning \
    --external:./index_bg.wasm '--external:cloudflare:*' --outfile="$stage/bundle.js"
  # wasm-bindgen imports the module as a source-phase import; wrangler wants a plain one.
  sed 's/import source /import /' "$stage/bundle.js" >"$ROOT/build/index.js"
  mkdir -p "$ROOT/target" && cp "$stage/index_bg.wasm" "$ROOT/target/index_bg.named.wasm"
  "$ROOT/node_modules/.bin/wasm-opt" "$stage/index_bg.wasm" -o "$ROOT/build/index_bg.wasm" "${WASM_FEATURES[@]/#/--enable-}" --strip-debug --strip-producers
  rm -rf "$stage" "$ROOT/build/worker" "$ROOT/build/package.json"
  echo "$want" >"$stamp"
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
