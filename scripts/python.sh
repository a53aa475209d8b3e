# Python tools for the tests, in a virtual environment outside the checkout so a fresh
# clone reuses it. Sourced (after lib.sh, whose apt_install it uses when present), not run.
#
#   ensure_schemathesis   installs schemathesis and openapi-spec-validator at the pinned
#                         versions into $BLIMARI_VENV (once; a second call costs a second)
#                         and exports BLIMARI_VENV and SCHEMATHESIS (the CLI's path).

SCHEMATHESIS_VERSION="4.32.5"
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
BLIMARI_VENV="${BLIMARI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/blimari/venv}"

ensure_schemathesis() {
  local want="schemathesis==$SCHEMATHESIS_VERSION openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
  local stamp="$BLIMARI_VENV/.blimari-packages"
  export BLIMARI_VENV SCHEMATHESIS="$BLIMARI_VENV/bin/schemathesis"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$SCHEMATHESIS" ]; then return 0; fi
  printf '\n\033[1m== %s\033[0m\n' "Installing $want into $BLIMARI_VENV" >&2
  local python
  python=$(command -v python3 || true)
  if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    if declare -F apt_install >/dev/null; then
      apt_install python3 python3-venv
    else
      echo "python3 with the venv module is needed (Debian: apt-get install python3-venv)" >&2
      return 1
    fi
    python=$(command -v python3)
  fi
  if [ ! -x "$BLIMARI_VENV/bin/python" ]; then
    rm -rf "$BLIMARI_VENV"
    mkdir -p "$(dirname "$BLIMARI_VENV")"
    "$python" -m venv "$BLIMARI_VENV"
  fi
  "$BLIMARI_VENV/bin/python" -m pip install --quiet --disable-pip-version-check $want
  echo "$want" >"$stamp"
}
