#!/usr/bin/env bash
# A throwaway PostgreSQL for the storage tests, on 127.0.0.1, in a temp dir.
#
#   eval "$(.ci/services/postgres.sh start)"   # installs if missing, starts, exports TEST_DATABASE_URL
#   .ci/services/postgres.sh stop              # stops it and deletes its data
#
# stdout carries only the `export TEST_DATABASE_URL=...` line so it can be eval'ed; progress goes to
# stderr. Runs as root on Debian 12 (only the Debian mirror reachable): the server runs as the
# `postgres` user because PostgreSQL refuses to run as root. Without root it runs as the caller and
# needs PostgreSQL already installed.
set -euo pipefail

STATE_FILE="${TMPDIR:-/tmp}/completions-ci-postgres.state"
FIRST_PORT="${PG_PORT:-55432}"
DB_NAME=completions_test
DB_USER=completions

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

find_bin() {
  local dir
  # Highest major version when several are installed.
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $dir && -x $dir/initdb ]] && echo "$dir"
}

install_postgres() {
  [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root"
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # postgresql-common first, so the package install does not create and start a default cluster on
  # port 5432 that nobody uses.
  apt-get install -y -qq --no-install-recommends postgresql-common >&2
  sed -i 's/^#\?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  apt-get install -y -qq --no-install-recommends postgresql >&2
}

port_in_use() {
  # Connecting succeeds only if something listens; bash's /dev/tcp needs no extra tools.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port
  for ((port = FIRST_PORT; port < FIRST_PORT + 100; port++)); do
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  die "no free port in $FIRST_PORT..$((FIRST_PORT + 99))"
}

url_for() { # password port
  echo "postgres://$DB_USER:$1@127.0.0.1:$2/$DB_NAME"
}

running() { # bin dir
  [[ -d $2/data ]] && as_pg "$1/pg_ctl" -D "$2/data" status >/dev/null 2>&1
}

start() {
  local bin dir port password
  if [[ -f $STATE_FILE ]]; then
    # shellcheck disable=SC1090
    source "$STATE_FILE"
    if [[ -n ${bin:-} ]] && running "$bin" "$dir"; then
      log "already running on port $port"
      echo "export TEST_DATABASE_URL=$(url_for "$password" "$port")"
      return 0
    fi
    log "removing stale state from an earlier run"
    stop
  fi

  bin=$(find_bin || true)
  if [[ -z $bin ]]; then
    install_postgres
    bin=$(find_bin || true)
    [[ -n $bin ]] || die "initdb not found under /usr/lib/postgresql/*/bin after installing"
  fi

  dir=$(mktemp -d "${TMPDIR:-/tmp}/completions-ci-postgres.XXXXXX")
  port=$(free_port)
  # Hex only: safe inside a URL and a SQL literal without escaping.
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf 'bin=%q\ndir=%q\nport=%q\npassword=%q\n' "$bin" "$dir" "$port" "$password" >"$STATE_FILE"
  chmod 600 "$STATE_FILE"
  if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$dir"; fi

  log "initdb in $dir ($("$bin/postgres" --version))"
  # Local socket connections (for setup below) are trusted; TCP needs the password.
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null

  # A port that looked free can be taken before the server binds it (a server still shutting
  # down, another run): try the next free ones before giving up.
  local attempt
  for attempt in 1 2 3 4 5; do
    log "starting on 127.0.0.1:$port"
    # Durability is pointless for a throwaway test database; turning it off makes tests faster.
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
       -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" >/dev/null; then
      break
    fi
    [[ $attempt -lt 5 ]] || { cat "$dir/server.log" >&2 || true; die "server did not start"; }
    FIRST_PORT=$((port + 1))
    port=$(free_port)
    printf 'bin=%q\ndir=%q\nport=%q\npassword=%q\n' "$bin" "$dir" "$port" "$password" >"$STATE_FILE"
  done

  local psql=("$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
  as_pg "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$password'" >/dev/null
  as_pg "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null

  # The real check: a password login over TCP, as the tests will connect.
  local tries
  for ((tries = 0; tries < 50; tries++)); do
    if PGPASSWORD=$password PGCONNECT_TIMEOUT=2 "$bin/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" \
      -d "$DB_NAME" -qAt -c 'select 1' >/dev/null 2>&1; then
      log "ready"
      echo "export TEST_DATABASE_URL=$(url_for "$password" "$port")"
      return 0
    fi
    sleep 0.2
  done
  die "server does not accept password logins on 127.0.0.1:$port (log: $dir/server.log)"
}

stop() {
  local bin dir port password
  if [[ ! -f $STATE_FILE ]]; then
    log "not running"
    return 0
  fi
  # shellcheck disable=SC1090
  source "$STATE_FILE"
  if [[ -n ${bin:-} && -n ${dir:-} ]] && running "$bin" "$dir"; then
    log "stopping"
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
  fi
  # Only ever delete what this script created.
  if [[ -n ${dir:-} && $dir == */completions-ci-postgres.* && -d $dir ]]; then rm -rf -- "$dir"; fi
  rm -f -- "$STATE_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
