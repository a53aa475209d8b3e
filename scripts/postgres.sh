# A throwaway PostgreSQL for the Neon mode: Debian's postgresql-15, an unprivileged
# cluster in a temporary folder on a free loopback port, torn down after.
#
# Sourced by scripts/lib.sh (functions below), or run as a command, which the Node tests
# use so that there is one way to start it:
#   bash scripts/postgres.sh start DIR   # prints DATABASE_URL=postgres://…; DIR must not exist
#   bash scripts/postgres.sh stop DIR    # stops the server and removes DIR
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
# that the package creates (docs/PLATFORM.md).

PG_VERSION=15
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"

# Runs a PostgreSQL program as the cluster's owner: ourselves, or `postgres` under root.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_postgres() {
  if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; then return; fi
  if declare -F step >/dev/null; then step "Installing Debian's PostgreSQL $PG_VERSION"; fi
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_VERSION" >/dev/null
  else
    sudo apt-get update -qq && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_VERSION" >/dev/null
  fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_postgres DIR: initialises and starts a cluster in DIR (created here), with a
# database `blimari` owned by the superuser `blimari` (trust authentication, loopback
# only), and sets PG_DIR, PG_PORT and PG_DATABASE_URL. Durability is switched off: the
# data lives as long as one run.
start_postgres() {
  local dir=$1 port
  ensure_postgres
  mkdir "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  pg_as_owner "$PG_BIN/initdb" -D "$dir/db" -A trust -U blimari -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  for _ in 1 2 3; do
    port=$(free_port)
    if pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/db" -w -t 30 -l "$dir/server.log" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
      PG_DIR=$dir PG_PORT=$port
      PG_DATABASE_URL="postgres://blimari@127.0.0.1:$port/blimari"
      pg_as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U blimari blimari
      return 0
    fi
    tail -n 5 "$dir/server.log" >&2 || true
  done
  return 1
}

# stop_postgres DIR: stops the cluster (if running) and removes DIR.
stop_postgres() {
  local dir=$1
  if [ -f "$dir/db/postmaster.pid" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/db" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start) start_postgres "$2"; echo "DATABASE_URL=$PG_DATABASE_URL" ;;
    stop) stop_postgres "$2" ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
  esac
fi
