#!/usr/bin/env bash
# The fault-injection suite: the real binary ingests a live stream while things break around it
# (SIGKILL many times, PostgreSQL restarted fast/immediate and down for a while, PgBouncer
# restarted, Kafka brokers down and leaders moved, instances joining and leaving, a SIGSTOPped
# zombie, failover to a promoted streaming standby). Every scenario ends with the exactly-once
# check; the results table is printed at the end. Each scenario starts and stops its own
# PostgreSQL + PgBouncer (scripts/pg.sh) and its own mock Kafka cluster.
#   scripts/faults.sh                     CI size (small): a few minutes
#   scripts/faults.sh --size large        by hand: longer runs, 30 kills, PostgreSQL down 3 min
#   scripts/faults.sh --filter 'Zombie*'  some scenarios only (a gtest filter on Faults.*)
set -euo pipefail
cd "$(dirname "$0")/.."
size=small
filter='*'
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
  esac
done
case "$size" in small|large) ;; *) echo "faults: --size small|large" >&2; exit 2 ;; esac

scripts/setup.sh
scripts/build.sh release

report=$(mktemp)
trap 'rm -f "$report"' EXIT
rc=0
SENTINEL_FAULTS_SIZE=$size SENTINEL_FAULTS_REPORT=$report \
  build/release/tests/integration/integration_faults_test --gtest_filter="Faults.$filter" || rc=$?

echo
echo "fault-injection results ($size)"
printf '%-36s %9s %6s %8s %16s\n' scenario events lost doubled 'recover (s)'
sed -E 's/^FAULTS-RESULT scenario=([^ ]*) events=([^ ]*) lost=([^ ]*) doubled=([^ ]*) recover_s=([^ ]*)$/\1 \2 \3 \4 \5/' \
  "$report" | while read -r s e l d r; do printf '%-36s %9s %6s %8s %16s\n' "$s" "$e" "$l" "$d" "$r"; done
exit $rc
