#!/bin/sh
# Runs once, when the data directory is first initialised (docker-entrypoint-initdb.d), as the
# superuser. Creates the group roles of schemas/README.md, the login the ingestors use and the
# read-only `monitor` login of prometheus-postgres-exporter (pg_monitor: statistics views, WAL
# directory); `sentinel-ingest migrate` (as the superuser) then creates the tables and grants.
set -eu
psql -v ON_ERROR_STOP=1 -v ingest_password="$SENTINEL_INGEST_PASSWORD" \
     -v monitor_password="${SENTINEL_MONITOR_PASSWORD:-monitor-change-me}" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE sentinel_owner NOLOGIN;
CREATE ROLE sentinel_ingest NOLOGIN;
CREATE ROLE ingest LOGIN PASSWORD :'ingest_password';
GRANT sentinel_ingest TO ingest;
CREATE ROLE monitor LOGIN PASSWORD :'monitor_password';
GRANT pg_monitor TO monitor;
SQL
