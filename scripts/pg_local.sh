#!/usr/bin/env bash
# A private PostgreSQL for development and tests.
#
#   scripts/pg_local.sh start  [DATA_DIR [PORT]]  # prints the database URL
#   scripts/pg_local.sh stop   [DATA_DIR]
#   scripts/pg_local.sh status [DATA_DIR]         # exit 0 running, 3 stopped
#   scripts/pg_local.sh url    [DATA_DIR [PORT]]
#
# Defaults: PORT 55432, DATA_DIR /tmp/nas-pg-$PORT.
#
# start initializes DATA_DIR when it is empty or missing, listens only on
# 127.0.0.1:PORT (password auth, scram-sha-256) with its unix socket inside
# DATA_DIR (trust, reachable only by the server's OS user), starts with
# pg_ctl -w, and makes sure of the roles of deploy/sql/roles.sql: `nas`, the
# controller (LOGIN, not a superuser, password `nas`; here also CREATEDB so
# tests can create scratch databases) and `nas_reader`, read-only (password
# `nas_reader`); the database `nas` owned by nas; and the reader's grants
# (deploy/sql/reader_grants.sql) in `nas` and template1. Then it prints
# postgresql://nas:nas@127.0.0.1:PORT/nas on
# stdout; everything else goes to stderr. Starting a running server only
# makes sure of the roles, database and grants again and prints the URL.
#
# PostgreSQL refuses to run as root: as root the server runs as the OS user
# `postgres` (DATA_DIR is chown'ed to it), otherwise as the current user.
# The server user must be able to traverse every parent of DATA_DIR, which
# is why the default lives under /tmp and not under /work or /root.
# PG_BIN overrides where initdb, pg_ctl and psql are looked up.
set -euo pipefail

DEFAULT_PORT=55432

die() { echo "pg_local: $*" >&2; exit 1; }
log() { echo "pg_local: $*" >&2; }

find_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local dir newest=""
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/pg_ctl" ]] && newest=$(printf '%s\n%s\n' "$newest" "$dir" | sort -V | tail -n 1)
  done
  if [[ -n "$newest" ]]; then echo "$newest"; return; fi
  if command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return; fi
  die "cannot find pg_ctl; install PostgreSQL or set PG_BIN"
}

PG_BIN=$(find_pg_bin)
SQL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../deploy/sql" && pwd)

# Runs a command as the server's OS user, from a directory it can enter.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

url_for() { echo "postgresql://nas:nas@127.0.0.1:$1/nas"; }

is_running() { as_pg "$PG_BIN/pg_ctl" status -D "$1" >/dev/null 2>&1; }

# The port a running server listens on (line 4 of postmaster.pid).
running_port() { sed -n 4p "$1/postmaster.pid"; }

init_cluster() {
  local data=$1
  mkdir -p "$data"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the OS user postgres"
    chown postgres:postgres "$data"
  fi
  chmod 700 "$data"
  as_pg test -w "$data" ||
    die "the server user cannot reach $data (a parent directory is not traversable); use a directory under /tmp"
  if [[ -f "$data/PG_VERSION" ]]; then return; fi
  [[ -z "$(ls -A "$data")" ]] || die "$data is neither empty nor a PostgreSQL data directory"
  log "initdb $data"
  as_pg "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >&2
  # Loopback only, whatever initdb wrote.
  cat >"$data/pg_hba.conf" <<'EOF'
# Written by scripts/pg_local.sh: socket (owner only) trusted, loopback by password.
local all all               trust
host  all all 127.0.0.1/32  scram-sha-256
EOF
  echo "include_if_exists = 'pg_local.conf'" >>"$data/postgresql.conf"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$data/pg_hba.conf"; fi
}

write_local_conf() {
  local data=$1 port=$2
  cat >"$data/pg_local.conf" <<EOF
# Rewritten by scripts/pg_local.sh at every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 200
EOF
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$data/pg_local.conf"; fi
}

# The roles of deploy/sql/roles.sql (controller `nas`, read-only
# `nas_reader`), plus CREATEDB for nas so that tests can create scratch
# databases and pg_signal_backend so that they can drop them WITH (FORCE)
# while an autovacuum worker or a closing reader session is still attached; the database `nas`; and deploy/sql/reader_grants.sql in both
# template1 (inherited by every database created later) and `nas`. The SQL
# goes in on stdin: the server's OS user may not be able to read the
# checkout.
ensure_role_and_db() {
  local data=$1 port=$2
  local psql=("$PG_BIN/psql" -X -q -h "$data" -p "$port" -U postgres -v ON_ERROR_STOP=1)
  as_pg "${psql[@]}" -d postgres >&2 <"$SQL_DIR/roles.sql"
  as_pg "${psql[@]}" -d postgres >&2 <<'EOF'
ALTER ROLE nas CREATEDB;
GRANT pg_signal_backend TO nas;
SELECT 'CREATE DATABASE nas OWNER nas'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'nas')
\gexec
EOF
  local db
  for db in template1 nas; do
    as_pg "${psql[@]}" -d "$db" >&2 <"$SQL_DIR/reader_grants.sql"
  done
}

cmd_start() {
  local port=${2:-$DEFAULT_PORT}
  local data=${1:-/tmp/nas-pg-$port}
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  data=$(realpath -m "$data")
  if [[ -f "$data/PG_VERSION" ]] && is_running "$data"; then
    local actual
    actual=$(running_port "$data")
    [[ "$actual" == "$port" ]] || log "already running on port $actual (not $port)"
    # Idempotent, so a server started by an older checkout gets the roles.
    ensure_role_and_db "$data" "$actual"
    url_for "$actual"
    return
  fi
  init_cluster "$data"
  write_local_conf "$data" "$port"
  log "starting on 127.0.0.1:$port (log: $data/server.log)"
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >&2 ||
    die "pg_ctl start failed; see $data/server.log"
  ensure_role_and_db "$data" "$port"
  url_for "$port"
}

cmd_stop() {
  local data
  data=$(realpath -m "${1:-/tmp/nas-pg-$DEFAULT_PORT}")
  if [[ -f "$data/PG_VERSION" ]] && is_running "$data"; then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >&2
  else
    log "not running: $data"
  fi
}

cmd_status() {
  local data
  data=$(realpath -m "${1:-/tmp/nas-pg-$DEFAULT_PORT}")
  if [[ -f "$data/PG_VERSION" ]] && is_running "$data"; then
    log "running: $data"
    url_for "$(running_port "$data")"
  else
    log "not running: $data"
    exit 3
  fi
}

cmd_url() {
  local port=${2:-$DEFAULT_PORT}
  url_for "$port"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  url) shift; cmd_url "$@" ;;
  *)
    echo "usage: $0 start [DATA_DIR [PORT]] | stop [DATA_DIR] | status [DATA_DIR] | url [DATA_DIR [PORT]]" >&2
    exit 2
    ;;
esac
