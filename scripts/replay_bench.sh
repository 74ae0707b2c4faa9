#!/usr/bin/env bash
# `rejects replay` throughput (issue 19): a throwaway PostgreSQL 15 + PgBouncer, N rejects of
# valid invocation events stored as if a too-tight limit had refused them, then `rejects replay`
# through PgBouncer as the ingest role, timed; each round on a fresh database. Prints rows/s.
#
#   scripts/replay_bench.sh [--rejects N] [--rounds R] [--page-rejects P]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
rejects=200000
rounds=3
page=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --rejects) rejects=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --page-rejects) page=$2; shift 2 ;;
    *) echo "replay_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
cmake --build "$build" --target sentinel-ingest >/dev/null
bin=$build/app/sentinel-ingest

pgdir=$(mktemp -d /tmp/sentinel-replay-bench.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"' EXIT
scripts/pg.sh start "$pgdir" >/dev/null
# shellcheck disable=SC1091
. "$pgdir/env"
psql_admin() { psql "$SENTINEL_TEST_PG_URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql_admin -c "DO \$\$ BEGIN CREATE ROLE sentinel_test_ingest LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"

for round in $(seq "$rounds"); do
  db=replay_bench_$round
  psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  direct="$SENTINEL_TEST_PG_URL dbname=$db"
  "$bin" migrate --pg "$direct" >/dev/null
  psql "$direct" -qAtX -v ON_ERROR_STOP=1 <<SQL
GRANT sentinel_ingest TO sentinel_test_ingest;
INSERT INTO ingest_rejects (topic, kafka_partition, kafka_offset, reason, detail, payload)
SELECT 'sentinel.invocations', i % 8, i / 8, 'invalid_value',
       'invalid value: cost_usd: above --max-cost-usd',
       convert_to(format(
         '{"invocation_id":"%s","ts":"%s","tenant_id":"tenant-%s","user_id":"user-%s",'
         '"session_id":"%s","provider":"openai","model":"gpt-4o-mini","prompt_tokens":%s,'
         '"completion_tokens":%s,"latency_ms":%s,"cost_usd":"%s","status":"ok",'
         '"metadata":{"route":"/v1/chat/completions","region":"eu-west-1"}}',
         gen_random_uuid(),
         to_char((now() - (i % 40) * interval '1 day' - (i % 86400) * interval '1 second')
                 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
         i % 200, i % 5000, gen_random_uuid(), 100 + i % 900, 50 + i % 400, 80 + i % 5000,
         ((i % 100000) / 1000000.0)::text), 'UTF8')
FROM generate_series(1, $rejects) i;
VACUUM ANALYZE ingest_rejects;
SQL
  bytes=$(psql "$direct" -qAtX -c "SELECT sum(octet_length(payload)) FROM ingest_rejects")
  start=$(date +%s.%N)
  "$bin" rejects replay --pg "host=127.0.0.1 port=$SENTINEL_TEST_PGBOUNCER_PORT dbname=$db user=sentinel_test_ingest" \
    --page-rejects "$page" >"$pgdir/replay-$round.out" 2>&1
  end=$(date +%s.%N)
  rows=$(psql "$direct" -qAtX -c "SELECT count(*) FROM invocations")
  replayed=$(psql "$direct" -qAtX -c "SELECT count(*) FROM ingest_rejects WHERE replay_state = 'replayed'")
  [ "$rows" = "$rejects" ] && [ "$replayed" = "$rejects" ] || {
    echo "replay_bench: round $round: $rows rows, $replayed replayed of $rejects" >&2
    cat "$pgdir/replay-$round.out" >&2
    exit 1
  }
  awk -v r="$round" -v n="$rejects" -v s="$start" -v e="$end" -v b="$bytes" -v p="$page" 'BEGIN {
    printf "round %d: %d rejects (%.0f MB of payloads), page %d: %.2f s, %.0f rows/s\n",
           r, n, b / 1e6, p, e - s, n / (e - s) }'
done
