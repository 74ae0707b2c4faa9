#!/usr/bin/env bash
# Two builds of the ingestor alternated on the same machine (issue 20: "compare with the previous
# main alternated"): scripts/bench.sh --rounds 1 with the old build, then the new, N times, and a
# table of each round's rows/s, ceiling, ratio, CPU per message and peak RSS.
#
#   scripts/bench_ab.sh OLD_BUILD_DIR NEW_BUILD_DIR [N (default 3)] [-- BENCH-ARGS]
#
# A build dir is a configured release build of a checkout (e.g. `git worktree add ../old REV`,
# `cmake --preset release` there). Results go to BENCH_OUT (default bench-ab/).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
old=$1 new=$2
shift 2
n=3
if [ $# -gt 0 ] && [ "$1" != -- ]; then n=$1; shift; fi
[ "${1:-}" = -- ] && shift
out=${BENCH_OUT:-bench-ab}
mkdir -p "$out"
for i in $(seq 1 "$n"); do
  for which in old new; do
    dir=$old
    [ "$which" = new ] && dir=$new
    BUILD_DIR=$dir BENCH_OUT="$out/$which-$i" bash scripts/bench.sh --rounds 1 "$@" \
      >"$out/$which-$i.txt" 2>&1 || { echo "bench_ab: $which round $i failed, see $out/$which-$i.txt" >&2; exit 1; }
  done
done
printf '| round | build | rows/s | ceiling | ratio | CPU per message | peak RSS |\n|---|---|---|---|---|---|---|\n'
for i in $(seq 1 "$n"); do
  for which in old new; do
    python3 - "$out/$which-$i/result.json" "$i" "$which" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
cpu = d['ingest_cpu_seconds'] / d['events'] * 1e6
print(f"| {sys.argv[2]} | {sys.argv[3]} | {d['ingest_rows_per_s']:.0f} | {d['ceiling_rows_per_s']:.0f} | "
      f"{d['ratio']:.3f} | {cpu:.2f} µs | {d['peak_rss_mib']:.1f} MiB |")
PY
  done
done
