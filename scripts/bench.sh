#!/usr/bin/env bash
# The end-to-end benchmark (bench/README.md): builds the release binaries, starts a throwaway
# PostgreSQL 15 tuned like a production box, then runs bench/e2e_bench.cpp against it.
#
#   scripts/bench.sh [--events N] [--rate R] [--partitions P] [--out DIR] [... -- RUN-ARGS]
#
# Default: 1 000 000 events preloaded, ingestor vs binary-COPY ceiling. --rate R publishes at R
# events/s while ingesting and reports end-to-end latency. Arguments after `--` go to
# `sentinel-ingest run` (e.g. -- --writers 3). BUILD_DIR (default build/release) picks the build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}

if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target sentinel-ingest sentinel-e2e-bench

mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
pgdir=$(mktemp -d /tmp/sentinel-bench-pg.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"' EXIT
scripts/pg.sh start "$pgdir" \
  -c shared_buffers=$((mem_mb / 4))MB -c effective_cache_size=$((mem_mb * 3 / 4))MB \
  -c maintenance_work_mem=1GB -c fsync=on -c synchronous_commit=on >/dev/null
# shellcheck disable=SC1091
. "$pgdir/env"
out=${BENCH_OUT:-bench-out}
mkdir -p "$out"
# What it prints is kept next to result.json (bench.txt); pipefail keeps its exit status.
"$build/bench/sentinel-e2e-bench" --pg "$SENTINEL_TEST_PG_URL" --ingest-bin "$build/app/sentinel-ingest" \
  --out "$out" "$@" | tee "$out/bench.txt"
