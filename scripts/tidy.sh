#!/usr/bin/env bash
# clang-tidy (the checks in .clang-tidy) over every production .cpp: rows catalog ingest sinks pipeline
# testkit app. Exits non-zero on any finding. Needs build/release/compile_commands.json: it
# configures the release preset when it is missing (no build is needed, only the configure).
#   scripts/tidy.sh                 every production .cpp, $(nproc) in parallel
#   scripts/tidy.sh FILE.cpp...     only these
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy is missing (run scripts/setup.sh)" >&2; exit 2; }
[ -f build/release/compile_commands.json ] || cmake --preset release >/dev/null

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- 'rows/*.cpp' 'catalog/*.cpp' 'ingest/*.cpp' 'sinks/*.cpp' 'pipeline/*.cpp' \
    'testkit/*.cpp' 'app/*.cpp')
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$SECONDS
# A header's finding is reported by every file that includes it: the summary counts it once.
status=0
printf '%s\0' "${files[@]}" |
  xargs -0 -n1 -P"$(nproc)" clang-tidy -p build/release --quiet \
    --header-filter="^$root/(rows|catalog|ingest|sinks|pipeline|testkit|app)/" >"$out" 2>&1 ||
  status=$?
findings=$(grep -E '^/.*:[0-9]+:[0-9]+: (warning|error):' "$out" | sort -u || true)
if [ "$status" -ne 0 ] || [ -n "$findings" ]; then
  cat "$out"
  echo "tidy: $(printf '%s\n' "$findings" | grep -c . || true) distinct finding(s) in ${#files[@]} file(s), $((SECONDS - start)) s:"
  printf '%s\n' "$findings" | sed "s|^$root/||"
  exit 1
fi
echo "tidy: ${#files[@]} file(s) clean, $((SECONDS - start)) s"
