#!/usr/bin/env bash
# The container image, for real (issue 21): builds docker/Dockerfile with podman and runs the
# image against a throwaway PostgreSQL and the mock Kafka.
#
#   scripts/container_test.sh        (as root, on Debian 12; CI runs it from .ci/run)
#
# There is no Docker engine and no registry here, so: podman + runc from Debian, a base image
# from `debootstrap --variant=minbase bookworm` (the machine's own apt mirror) imported as
# debian:bookworm and, for the runtime stage, debian:bookworm-slim (the same minbase tree),
# docker/containers.conf (cgroupfs, the host's ulimits), host networking. The image is built with
# `--format docker` so that its HEALTHCHECK is kept. Then, as the image's user (uid 10001):
# `migrate`, `run` consuming 20 000 events published by the host's `sentinel-ingest publish`
# into `sentinel-ingest kafka-mock`; every event must land exactly once (rows + rejects = 20 000,
# no (topic, partition, offset) twice, stored offsets = published count); the HEALTHCHECK must be
# in the image and pass; SIGTERM must stop the container with exit 0 within 10 s.
# Skips (exit 0, says why) only where podman cannot start a container at all.
# Everything it makes (podman storage, base tree, PostgreSQL) lives in one temporary folder that
# is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
events=20000
t0=$SECONDS
say() { echo "container_test: $*"; }
fail() {
  say "FAILED: $*"
  say "0 passed, 1 failed"
  exit 1
}
step() { # name start: prints how long a step took
  say "$1 took $((SECONDS - $2)) s"
}

[ "$(id -u)" -eq 0 ] || fail "podman builds here as root (run as root, like CI)"

# --- packages ---------------------------------------------------------------------------------
missing=()
for p in podman runc debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  t=$SECONDS
  say "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    "${missing[@]}" >/dev/null
  step "apt-get install" "$t"
fi
bin=$repo/build/release/app/sentinel-ingest
if [ ! -x "$bin" ]; then
  bash scripts/setup.sh >/dev/null
  cmake --preset release >/dev/null
  cmake --build --preset release --target sentinel-ingest
fi

# --- a private podman world -------------------------------------------------------------------
work=$(mktemp -d /tmp/container-test.XXXXXX)
export CONTAINERS_CONF=$repo/docker/containers.conf
export CONTAINERS_STORAGE_CONF=$work/storage.conf
# overlay: each build step is a thin layer, where vfs copies the whole tree at every step.
# overlay cannot stack on an overlayfs (a machine that is itself a container): vfs there.
driver=overlay
[ "$(stat -f -c %T "$work")" != overlayfs ] || driver=vfs
cat >"$work/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
name=sentinel-ingest-ct-$$
mock_pid=
cleanup() {
  set +e
  podman rm -f -t 0 "$name" >/dev/null 2>&1
  [ -z "$mock_pid" ] || { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; }
  [ ! -d "$work/pg" ] || bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1
  podman system reset --force >/dev/null 2>&1
  # Whatever overlay mount is still there (an interrupted run), deepest first.
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n 1 umount -l
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base image: Debian 12 minbase from the machine's apt mirror ---------------------------
# The first URI that serves the suite "bookworm" in one-line (.list) or deb822 (.sources) files.
mirror=$(
  shopt -s nullglob
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
         if ($(i + 1) == "bookworm") print $i }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    awk 'BEGIN { RS = ""; FS = "\n" }
         { uris = ""; ok = 0
           for (j = 1; j <= NF; j++) {
             if ($j ~ /^URIs:/) { uris = $j; sub(/^URIs:[ \t]*/, "", uris) }
             if ($j ~ /^Suites:/ && (" " $j " ") ~ /[ \t]bookworm[ \t]/) ok = 1
           }
           if (ok && uris != "") { split(uris, u, /[ \t]+/); print u[1] } }' "$f"
  done | head -n 1
)
[ -n "$mirror" ] || fail "no apt source for bookworm in /etc/apt/sources.list*"
t=$SECONDS
say "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log"; fail "debootstrap"; }
tar -C "$work/rootfs" -c . | podman import -q - debian:bookworm >/dev/null
podman tag debian:bookworm debian:bookworm-slim
rm -rf "$work/rootfs"
step "base image" "$t"

if ! out=$(podman run --rm --network=host --runtime runc debian:bookworm true 2>&1); then
  say "SKIPPED: podman cannot start a container on this machine: $out"
  say "0 passed, 0 failed, 1 skipped"
  exit 0
fi

# --- the image, from docker/Dockerfile --------------------------------------------------------
# One apt package cache for both stages, outside the layers: the runtime stage's libraries were
# downloaded as dependencies of the build stage's -dev packages, and the .debs, which the
# official Debian images delete after each install and a debootstrap tree keeps, stay out of
# the image.
mkdir "$work/apt-archives"
t=$SECONDS
podman build --format docker --runtime runc --network=host --pull=never \
  -v "$work/apt-archives:/var/cache/apt/archives" \
  -f docker/Dockerfile -t sentinel-ingest:ct . >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log"; fail "podman build -f docker/Dockerfile"; }
step "podman build" "$t"
say "image size: $(podman image inspect --format '{{.Size}}' sentinel-ingest:ct) bytes"
health_cfg=$(podman image inspect --format '{{json .HealthCheck}}' sentinel-ingest:ct)
say "image HEALTHCHECK: $health_cfg"
echo "$health_cfg" | grep -q '"sentinel-ingest","healthcheck"' ||
  fail "the image has no HEALTHCHECK running \`sentinel-ingest healthcheck\` (built without --format docker?)"

# --- PostgreSQL, the mock Kafka, 20 000 events ------------------------------------------------
bash scripts/pg.sh start "$work/pg" >/dev/null
set -a
. "$work/pg/env"
set +a
psql_q() { psql "$SENTINEL_TEST_PG_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
"$bin" kafka-mock --partitions 8 >"$work/mock.log" 2>&1 &
mock_pid=$!
brokers=
for _ in $(seq 200); do
  brokers=$(head -n 1 "$work/mock.log" 2>/dev/null || true)
  case $brokers in *:*) break ;; esac
  sleep 0.1
done
case $brokers in *:*) ;; *) cat "$work/mock.log"; fail "kafka-mock printed no bootstrap list" ;; esac
"$bin" publish --brokers "$brokers" --count "$events" --invalid-ratio 0.02 >"$work/publish.log" 2>&1 ||
  { cat "$work/publish.log"; fail "publish"; }
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

ctr() { # podman run of the image (as its own USER), on the host's network, with the test's servers
  podman run --runtime runc --network=host \
    -e SENTINEL_PG_URL="$SENTINEL_TEST_PGBOUNCER_URL" -e SENTINEL_KAFKA_BROKERS="$brokers" \
    -e SENTINEL_METRICS_LISTEN="127.0.0.1:$metrics_port" "$@"
}
ctr --rm sentinel-ingest:ct migrate >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log"; fail "migrate in the container"; }

# --- run: exactly once ------------------------------------------------------------------------
t=$SECONDS
# podman schedules the periodic HEALTHCHECK with systemd timers; without systemd it says so on
# stderr ("unable to get systemd connection") and the container runs without them: the test runs
# the check itself below.
ctr -d --name "$name" sentinel-ingest:ct run >/dev/null 2>"$work/run.err" ||
  { cat "$work/run.err"; fail "podman run"; }
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[ "$uid" = 10001 ] || fail "the container's process runs as uid $uid, not 10001 (USER in docker/Dockerfile)"
say "the container runs as uid $uid"
total_sql="SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM invocations)
                + (SELECT count(*) FROM ingest_rejects)"
n=0
for _ in $(seq 180); do
  n=$(psql_q "$total_sql")
  [ "$n" -lt "$events" ] || break
  if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then
    podman logs "$name" 2>&1 | tail -n 30
    fail "the container stopped while ingesting"
  fi
  sleep 1
done
[ "$n" -eq "$events" ] || { podman logs "$name" 2>&1 | tail -n 30; fail "rows + rejects = $n, want $events"; }
step "ingest of $events events" "$t"
sleep 2 # a late duplicate would show up now
dup=$(psql_q "SELECT count(*) - count(DISTINCT (topic, kafka_partition, kafka_offset)) FROM (
  SELECT 'sentinel.audit' AS topic, kafka_partition, kafka_offset FROM audit_logs
  UNION ALL SELECT 'sentinel.invocations', kafka_partition, kafka_offset FROM invocations
  UNION ALL SELECT topic, kafka_partition, kafka_offset FROM ingest_rejects) l")
n=$(psql_q "$total_sql")
stored=$(psql_q "SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets")
rows=$(psql_q "SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM invocations)")
rejects=$(psql_q "SELECT count(*) FROM ingest_rejects")
say "rows $rows + rejects $rejects = $n, lineage duplicates $dup, stored offsets $stored"
[ "$n" -eq "$events" ] && [ "$dup" -eq 0 ] && [ "$stored" -eq "$events" ] ||
  fail "not exactly once: rows + rejects = $n, $dup duplicates, offsets sum to $stored (want $events, 0, $events)"

# --- HEALTHCHECK ------------------------------------------------------------------------------
hc=$(podman healthcheck run "$name" 2>&1) || fail "podman healthcheck run: $hc"
status=$(podman inspect --format '{{.State.Health.Status}}' "$name")
say "podman healthcheck run: ${hc:-ok}; health status: $status"
[ "$status" = healthy ] || fail "health status is '$status', want healthy"

# --- SIGTERM: exit 0 within 10 s --------------------------------------------------------------
start_ns=$(date +%s%N)
podman kill --signal TERM "$name" >/dev/null
code=$(timeout 15 podman wait "$name") || code=timeout
ms=$((($(date +%s%N) - start_ns) / 1000000))
say "SIGTERM: exit $code after $ms ms"
[ "$code" = 0 ] && [ "$ms" -le 10000 ] ||
  { podman logs "$name" 2>&1 | tail -n 30; fail "SIGTERM: exit $code after $ms ms (want 0 within 10 s)"; }

say "passed in $((SECONDS - t0)) s"
say "1 passed, 0 failed"
