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
#   scripts/faults.sh --chaos [--seed N] [--minutes M]
#       the nemesis: a seeded random schedule mixing all of the above with a lagging-standby
#       failover, a hung server, 1-3 instances, every reject kind, poison costs, NUL escapes,
#       deep metadata, non-ASCII text and LATIN1 client settings, then the exactly-once check.
#       The seed (default: the clock) is printed; --seed N replays the schedule. Choose with
#       SENTINEL_CHAOS_FAULTS=kill,stop,pg_restart,pg_outage,pg_hang,bouncer_restart,broker_down,
#       leader_move,join_leave,failover and SENTINEL_CHAOS_INPUTS=rejects,poison,nul,deep,unicode,
#       latin1 (default all of each); SENTINEL_CHAOS_RATE=events/s (default 400).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,18p' "$0"; exit 2; }
size=small
filter='*'
chaos=0
seed=''
minutes=3
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --chaos) chaos=1; shift ;;
    --seed) seed=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    *) usage ;;
  esac
done
case "$size" in small|large) ;; *) echo "faults: --size small|large" >&2; exit 2 ;; esac
[ -z "$seed" ] || [[ "$seed" =~ ^[0-9]+$ ]] || { echo "faults: --seed takes a number" >&2; exit 2; }
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "faults: --minutes takes a number" >&2; exit 2; }

scripts/setup.sh
scripts/build.sh release

if [ "$chaos" = 1 ]; then
  [ -n "$seed" ] || seed=$(( $(date +%s%N) / 1000 % 1000000000 ))
  echo "chaos: seed $seed, $minutes minutes (replay: scripts/faults.sh --chaos --seed $seed --minutes $minutes)"
  # librdkafka 2.0's mock cluster runs inside the test process and can abort on its own group
  # bookkeeping (rdkafka_mock_cgrp.c: "Assertion `!member->resp' failed") when a member it still
  # owes an answer rejoins. That says nothing about the ingestor, whose processes are separate:
  # such a run is reported as inconclusive and the next seed runs instead (at most twice).
  for attempt in 1 2 3; do
    work=$(mktemp -d)
    chmod 755 "$work"
    out="$work/chaos.log"
    rc=0
    # In a session of its own, so that whatever an aborted run leaves behind can be ended.
    TEST_TMPDIR=$work SENTINEL_CHAOS_SEED=$seed SENTINEL_CHAOS_MINUTES=$minutes \
      setsid build/release/tests/integration/integration_chaos_test \
      --gtest_filter='Chaos.SeededScheduleKeepsExactlyOnce' > "$out" 2>&1 &
    pid=$!
    tail -n +1 -f --pid="$pid" "$out" &
    tail_pid=$!
    wait "$pid" || rc=$?
    wait "$tail_pid" || true
    mock_abort=0
    if [ "$rc" -ne 0 ] && grep -q "rdkafka_mock.*Assertion" "$out"; then mock_abort=1; fi
    pkill -KILL -s "$pid" 2>/dev/null || true
    for pid_file in "$work"/*/*/data/postmaster.pid "$work"/*/*/*/data/postmaster.pid; do
      [ -f "$pid_file" ] || continue
      server_dir=$(dirname "$(dirname "$pid_file")")
      scripts/pg.sh thaw "$server_dir" >/dev/null 2>&1 || true
      scripts/pg.sh stop "$server_dir" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
    [ "$mock_abort" = 1 ] || break
    echo "chaos: inconclusive with seed $seed: librdkafka's mock cluster aborted (not the ingestor)"
    seed=$((seed + 1))
    echo "chaos: seed $seed, $minutes minutes (replay: scripts/faults.sh --chaos --seed $seed --minutes $minutes)"
  done
  if [ "$rc" -ne 0 ]; then
    echo "chaos: FAILED with seed $seed (replay: scripts/faults.sh --chaos --seed $seed --minutes $minutes)"
  else
    echo "chaos: passed with seed $seed"
  fi
  exit $rc
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
rc=0
SENTINEL_FAULTS_SIZE=$size SENTINEL_FAULTS_REPORT=$report \
  build/release/tests/integration/integration_faults_test --gtest_filter="Faults.$filter" || rc=$?
# The consumer's own faults: a failover to a standby that was behind with no new traffic (and
# with traffic resuming), consumer_lag from the stored offsets, a hung server during a rebalance.
build/release/tests/integration/integration_consumer_faults_test \
  --gtest_filter="ConsumerFaults.$filter" || rc=$?

echo
echo "fault-injection results ($size)"
printf '%-36s %9s %6s %8s %16s\n' scenario events lost doubled 'recover (s)'
sed -E 's/^FAULTS-RESULT scenario=([^ ]*) events=([^ ]*) lost=([^ ]*) doubled=([^ ]*) recover_s=([^ ]*)$/\1 \2 \3 \4 \5/' \
  "$report" | while read -r s e l d r; do printf '%-36s %9s %6s %8s %16s\n' "$s" "$e" "$l" "$d" "$r"; done
exit $rc
