#!/bin/sh
# Runs once, when the data directory is first initialised (docker-entrypoint-initdb.d), as the
# superuser. Creates the group roles of schemas/README.md and the login the ingestors use;
# `sentinel-ingest migrate` (as the superuser) then creates the tables and grants.
set -eu
psql -v ON_ERROR_STOP=1 -v ingest_password="$SENTINEL_INGEST_PASSWORD" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE sentinel_owner NOLOGIN;
CREATE ROLE sentinel_ingest NOLOGIN;
CREATE ROLE ingest LOGIN PASSWORD :'ingest_password';
GRANT sentinel_ingest TO ingest;
SQL
