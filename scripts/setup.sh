#!/usr/bin/env bash
# Installs what sentinel-ingest needs to build, test and run its demo, from Debian 12's packages.
# Safe to run again: it installs only what is missing. Runs apt-get through sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libpqxx-dev libpq-dev libsimdjson-dev libconcurrentqueue-dev
  libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcpp-httplib-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 pgbouncer kcat gnuplot-nox help2man
  clang-14 libclang-rt-14-dev python3 procps openssl
  clang-tidy      # scripts/tidy.sh (the checks in .clang-tidy), run by CI
  docker-compose  # tests/docker: validates docker-compose.yml without a Docker engine
  prometheus      # tests/docker: promtool checks and unit-tests the alert rules and dashboard queries
  prometheus-postgres-exporter prometheus-node-exporter  # tests/docker: their metric names
  locales         # a non-English lc_messages for tests (de_DE.UTF-8, generated below)
)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # Debian starts a cluster and a PgBouncer service on install; the project never uses them.
fi

# tests/sinks/batch_writer_pg_test runs PostgreSQL with lc_messages = de_DE.UTF-8: errors must be
# classified by their fields, not their (translated) text. PostgreSQL needs the OS locale.
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
  echo "setup: generating the de_DE.UTF-8 locale"
  "${sudo[@]}" sed -i 's/^# *\(de_DE\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^de_DE\.UTF-8 UTF-8' /etc/locale.gen ||
    echo 'de_DE.UTF-8 UTF-8' | "${sudo[@]}" tee -a /etc/locale.gen >/dev/null
  "${sudo[@]}" locale-gen >/dev/null
fi
echo "setup: done"
