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
# The parser compiles each event type of the catalog into a plan: the built-in catalog (the
# loader and its embedded schema files) comes along.
embedded="$out/embedded_event_schemas.cpp"
cmake -DOUT="$embedded" "-DFILES=$PWD/schemas/events/audit.schema.json|$PWD/schemas/events/invocation.schema.json" \
  -P catalog/embed_schemas.cmake
srcs=(fuzz/parser_fuzzer.cpp ingest/event_parser.cpp ingest/event_plan.cpp ingest/scalars.cpp
  rows/copy_encoder.cpp catalog/*.cpp)
if [ ! -x "$out/parser_fuzzer" ] || [ -n "$(find "${srcs[@]}" ingest/*.h rows/*.h catalog/*.h schemas/events -newer "$out/parser_fuzzer")" ]; then
  echo "fuzz: building $out/parser_fuzzer"
  "$cxx" "${flags[@]}" "${srcs[@]}" "$embedded" -o "$out/parser_fuzzer" \
    $(pkg-config --libs simdjson fmt yaml-cpp libcrypto)
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
rm -f "$out"/fuzz-*.log
rc=0
"$out/parser_fuzzer" "$out/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/" \
  "${parallel[@]}" >"$out/last-run.log" 2>&1 || rc=$?
grep -hE 'stat::(number_of_executed_units|new_units_added|peak_rss_mb)|^Done' "$out"/last-run.log \
  "$out"/fuzz-*.log 2>/dev/null || true
if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|contract broken|runtime error' \
  "$out"/last-run.log "$out"/fuzz-*.log 2>/dev/null; then
  echo "fuzz: FINDING (exit $rc) — see $out/last-run.log and $out/crash-*, timeout-*, leak-*" >&2
  exit 1
fi
echo "fuzz: no findings; corpus $(ls "$out/corpus" | wc -l) inputs"
