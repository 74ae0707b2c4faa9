#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds the
# release preset, starts a throwaway PostgreSQL 15 + PgBouncer (transaction mode) for the tests
# that need a server, runs every test with ctest, and stops the servers again.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only the ctest label `unit` (any ctest arguments work)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release

tmp=$(mktemp -d)
cleanup() { scripts/pg.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT
scripts/pg.sh start "$tmp/pg" >/dev/null
set -a
. "$tmp/pg/env"
set +a
echo "test: PostgreSQL on port $SENTINEL_TEST_PG_PORT, PgBouncer on $SENTINEL_TEST_PGBOUNCER_PORT"

ctest --preset release -j2 --timeout 900 "$@"
