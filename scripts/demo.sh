#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: installs what is missing, builds the release preset
# and runs `sentinel-ingest demo` (embedded mock Kafka, throwaway PostgreSQL, sample events,
# a summary). Extra arguments go to the demo, e.g. scripts/demo.sh --events 100000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/release/app/sentinel-ingest demo "$@"
