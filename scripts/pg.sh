#!/usr/bin/env bash
# Throwaway PostgreSQL 15 (+ PgBouncer in transaction mode) for tests, benchmarks and the demo.
#
#   scripts/pg.sh start DIR [-c name=value ...]   start both; writes DIR/env and prints it
#   scripts/pg.sh stop DIR                        stop both and delete DIR
#   scripts/pg.sh restart DIR fast|immediate      restart PostgreSQL (same port), for fault tests
#   scripts/pg.sh down DIR fast|immediate | up DIR   stop PostgreSQL only / start it again
#   scripts/pg.sh bouncer-restart DIR             kill PgBouncer and start it again
#   scripts/pg.sh standby DIR PRIMARY_DIR         streaming standby of PRIMARY_DIR (pg_basebackup)
#   scripts/pg.sh promote DIR                     promote a standby
#   scripts/pg.sh detach DIR                      a standby stops following its primary (it
#                                                 keeps what it has replayed, receives no more)
#   scripts/pg.sh repoint DIR TARGET_DIR          DIR's PgBouncer now sends to TARGET_DIR's
#                                                 server (RELOAD: client connections stay)
#   scripts/pg.sh freeze DIR | thaw DIR           SIGSTOP / SIGCONT the server and its backends
#                                                 (a hung, black-holed server)
#
# DIR/env holds SENTINEL_TEST_PG_URL (direct) and SENTINEL_TEST_PGBOUNCER_URL (PgBouncer,
# pool_mode=transaction), both for the superuser "postgres" on database "sentinel". When run as
# root, the servers run as the "postgres" user (initdb refuses root).
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$pgbin" ] || { echo "pg.sh: PostgreSQL 15 is not installed (run scripts/setup.sh)" >&2; exit 2; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Creates DIR, makes it absolute, and when root hands it to "postgres" (who must also be able to
# reach it through private temporary folders).
prepare_dir() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] || return 0
  chown postgres: "$dir"
  local p
  p=$(dirname "$dir")
  while [ "$p" != / ]; do
    runuser -u postgres -- test -x "$p" || chmod o+x "$p"
    p=$(dirname "$p")
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,21p' "$0"; exit 2; }
shift 2

case "$cmd" in
start)
  prepare_dir
  as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  port=$(free_port)
  extra=()
  for arg in "$@"; do extra+=("$arg"); done
  echo "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${extra[*]}" >"$dir/pgopts"
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "$(cat "$dir/pgopts")" start >/dev/null
  as_owner "$pgbin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt \
    -c "CREATE DATABASE sentinel" >/dev/null
  bport=$(free_port)
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,options
INI
  # sentinel_test_ingest: the LOGIN role tests grant sentinel_ingest to (least privilege through
  # PgBouncer); each test creates it in the cluster.
  printf '"postgres" ""\n"sentinel_test_ingest" ""\n' >"$dir/userlist.txt"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pgbouncer.ini" "$dir/userlist.txt"
  as_owner pgbouncer -d -q "$dir/pgbouncer.ini"
  for _ in $(seq 50); do
    as_owner "$pgbin/psql" "host=127.0.0.1 port=$bport user=postgres dbname=sentinel" -qAt -c 'select 1' \
      >/dev/null 2>&1 && break
    sleep 0.1
  done
  cat >"$dir/env" <<ENV
SENTINEL_TEST_PG_URL='host=127.0.0.1 port=$port user=postgres dbname=sentinel'
SENTINEL_TEST_PGBOUNCER_URL='host=127.0.0.1 port=$bport user=postgres dbname=sentinel'
SENTINEL_TEST_PG_DIR='$dir'
SENTINEL_TEST_PG_PORT=$port
SENTINEL_TEST_PGBOUNCER_PORT=$bport
ENV
  cat "$dir/env"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
restart)
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m "${1:-fast}" -w -t 60 \
    -o "$(cat "$dir/pgopts")" restart >/dev/null
  ;;
down)
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -m "${1:-fast}" -w -t 60 stop >/dev/null
  ;;
up)
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "$(cat "$dir/pgopts")" start >/dev/null
  ;;
bouncer-restart)
  if [ -f "$dir/pgbouncer.pid" ]; then
    pid=$(cat "$dir/pgbouncer.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  as_owner pgbouncer -d -q "$dir/pgbouncer.ini"
  ;;
standby)
  primary=$(cd "${1:?standby needs PRIMARY_DIR}" && pwd)
  . "$primary/env"
  prepare_dir
  as_owner "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$SENTINEL_TEST_PG_PORT" -U postgres \
    -D "$dir/data" -R -X stream -c fast
  port=$(free_port)
  echo "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" >"$dir/pgopts"
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "$(cat "$dir/pgopts")" start >/dev/null
  cat >"$dir/env" <<ENV
SENTINEL_TEST_PG_URL='host=127.0.0.1 port=$port user=postgres dbname=sentinel'
SENTINEL_TEST_PG_DIR='$dir'
SENTINEL_TEST_PG_PORT=$port
ENV
  cat "$dir/env"
  ;;
promote)
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
  ;;
detach)
  . "$dir/env"
  as_owner "$pgbin/psql" -h 127.0.0.1 -p "$SENTINEL_TEST_PG_PORT" -U postgres -d postgres -qAt \
    -c "ALTER SYSTEM SET primary_conninfo = ''" -c "SELECT pg_reload_conf()" >/dev/null
  # Wait until the WAL receiver is gone: nothing the primary writes from now on arrives.
  for _ in $(seq 100); do
    n=$(as_owner "$pgbin/psql" -h 127.0.0.1 -p "$SENTINEL_TEST_PG_PORT" -U postgres -d postgres \
      -qAt -c "SELECT count(*) FROM pg_stat_wal_receiver")
    [ "$n" = 0 ] && exit 0
    sleep 0.1
  done
  echo "pg.sh detach: the WAL receiver is still running" >&2; exit 1
  ;;
repoint)
  target=$(cd "${1:?repoint needs TARGET_DIR}" && pwd)
  tport=$(. "$target/env" && echo "$SENTINEL_TEST_PG_PORT")
  sed -i "s/^\* = host=127.0.0.1 port=[0-9]*$/* = host=127.0.0.1 port=$tport/" "$dir/pgbouncer.ini"
  grep -q "port=$tport\$" "$dir/pgbouncer.ini" || { echo "pg.sh repoint: no [databases] line" >&2; exit 1; }
  kill -HUP "$(cat "$dir/pgbouncer.pid")"  # RELOAD
  ;;
freeze|thaw)
  sig=STOP; [ "$cmd" = thaw ] && sig=CONT
  pm=$(head -1 "$dir/data/postmaster.pid")
  # The postmaster first when freezing (it forks no new backend), last when thawing.
  if [ "$sig" = STOP ]; then kill -STOP "$pm"; fi
  for child in $(pgrep -P "$pm"); do kill -"$sig" "$child" 2>/dev/null || true; done
  if [ "$sig" = CONT ]; then kill -CONT "$pm"; fi
  ;;
*)
  sed -n '2,21p' "$0"; exit 2 ;;
esac
