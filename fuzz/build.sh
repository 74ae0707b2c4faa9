#!/usr/bin/env bash
# Builds and runs the libFuzzer target over the message parser/validator and the scalar readers
# with clang-14 (-fsanitize=fuzzer,address,undefined), outside the main gcc build.
#   fuzz/build.sh [SECONDS] [JOBS]    build, then fuzz for SECONDS (default 60) with JOBS workers
# The seed corpus is tests/data's samples plus fuzz/seeds (malformed messages and scalars); new
# inputs go to build/fuzz/corpus, crashes to build/fuzz/crash-*. Exit code non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=${2:-1}
out=build/fuzz
mkdir -p "$out/corpus"
cxx=${CXX_FUZZ:-clang++-14}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -I. $(pkg-config --cflags simdjson fmt))
srcs=(fuzz/parser_fuzzer.cpp ingest/event_parser.cpp ingest/scalars.cpp pipeline/copy_encoder.cpp)
if [ ! -x "$out/parser_fuzzer" ] || [ -n "$(find "${srcs[@]}" ingest/*.h pipeline/*.h -newer "$out/parser_fuzzer")" ]; then
  echo "fuzz: building $out/parser_fuzzer"
  "$cxx" "${flags[@]}" "${srcs[@]}" -o "$out/parser_fuzzer" $(pkg-config --libs simdjson fmt)
fi

# Seeds: each sample line as an audit (0x00) or invocation (0x01) message; fuzz/seeds as is.
seeds="$out/seeds"
rm -rf "$seeds"; mkdir -p "$seeds"
n=0
while IFS= read -r line; do
  printf '\x00%s' "$line" >"$seeds/audit_$((n++))"
done <tests/data/audit_sample.jsonl
while IFS= read -r line; do
  printf '\x01%s' "$line" >"$seeds/invocation_$((n++))"
done <tests/data/invocations_sample.jsonl
cp fuzz/seeds/* "$seeds/"

parallel=()
[ "$jobs" -le 1 ] || parallel=(-jobs="$jobs" -workers="$jobs")
echo "fuzz: ${seconds}s, $jobs job(s), corpus $out/corpus + $(ls "$seeds" | wc -l) seeds"
"$out/parser_fuzzer" "$out/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/" \
  "${parallel[@]}" 2>&1 | tee "$out/last-run.log" | grep -E 'stat::|ERROR|SUMMARY|contract|Done' || true
if grep -qE '^==[0-9]+==ERROR|contract broken|SUMMARY: (Address|Undefined)|deadly signal|timeout' "$out"/last-run.log "$out"/fuzz-*.log 2>/dev/null; then
  echo "fuzz: FINDING — see $out/last-run.log and $out/crash-* / timeout-*" >&2
  exit 1
fi
echo "fuzz: no findings"
