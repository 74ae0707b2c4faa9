#!/bin/sh
# Writes PgBouncer's auth file from the environment (passwords never live in the image or the
# repository), then runs PgBouncer in the foreground.
set -eu
umask 077
mkdir -p /tmp/pgbouncer
printf '"%s" "%s"\n' postgres "$POSTGRES_PASSWORD" ingest "$SENTINEL_INGEST_PASSWORD" \
  >/tmp/pgbouncer/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
