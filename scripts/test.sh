#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds the
# release preset, starts a throwaway PostgreSQL 15 + PgBouncer (transaction mode) for the tests
# that need a server, runs every test with ctest, and stops the servers again.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only the ctest label `unit` (any ctest arguments work)
# Without arguments it also runs, after the release suite: the unit, PostgreSQL and in-process
# pipeline tests under ASan+UBSan (preset dev), the threaded pipeline tests under TSan (preset
# tsan), and a 60 s libFuzzer run over the parser (fuzz/build.sh). SENTINEL_SANITIZERS=0 skips
# those. The fault-injection suite is separate: scripts/faults.sh.
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

[ $# -eq 0 ] && [ "${SENTINEL_SANITIZERS:-1}" != 0 ] || exit 0
# Every sanitizer report fails the test that produced it.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TSAN_OPTIONS="halt_on_error=1 history_size=7 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
asan_tests=(ingest_unit_tests ingest_event_plan_test catalog_loader_test catalog_problems_test
  testkit_schema_generator_parser_test rows_month_test sinks_migrator_pg_test sinks_schema_pg_test
  sinks_catalog_schema_pg_test rows_copy_encoding_pg_test sinks_batch_writer_pg_test
  sinks_rollup_pg_test integration_pipeline_e2e_test)
tsan_tests=(integration_pipeline_e2e_test sinks_batch_writer_pg_test)
regex() { local IFS='|'; echo "^($*)\$"; }
echo "test: ASan+UBSan (preset dev): ${asan_tests[*]}"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$(nproc)" --target "${asan_tests[@]}"
ctest --preset dev -j2 --timeout 900 -R "$(regex "${asan_tests[@]}")"
echo "test: TSan (preset tsan): ${tsan_tests[*]}"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$(nproc)" --target "${tsan_tests[@]}"
# The small-budget e2e case takes two minutes under TSan; the 100 000-event one covers the same
# threads (consumer, writers, backpressure) in half that. The encoding, cost-overflow and pooled-
# session cases test SQL paths on the same threads; they run in the release and ASan suites.
GTEST_FILTER='-*SmallMemoryBudget*:*WhateverTheClientEncodingSettings:*CostOverflowIsAPoisonEvent*:*PooledSessions*' ctest --preset tsan -j1 --timeout 900 \
  -R "$(regex "${tsan_tests[@]}")"
echo "test: libFuzzer, 60 s"
fuzz/build.sh 60
