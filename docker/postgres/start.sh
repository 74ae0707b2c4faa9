#!/bin/sh
# Starts the official postgres image's entrypoint with the memory settings derived from the
# memory this container may use (its cgroup limit, else the host's RAM): shared_buffers 25%,
# effective_cache_size 75%. The other settings come as arguments (docker-compose.yml).
set -eu
total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo max)
if [ "$limit" != max ]; then
  limit_kb=$((limit / 1024))
  if [ "$limit_kb" -gt 0 ] && [ "$limit_kb" -lt "$total_kb" ]; then total_kb=$limit_kb; fi
fi
shared_buffers_kb=$((total_kb / 4))
effective_cache_kb=$((total_kb * 3 / 4))
echo "postgres: ${total_kb} kB of memory: shared_buffers=${shared_buffers_kb}kB effective_cache_size=${effective_cache_kb}kB"
exec docker-entrypoint.sh postgres \
  -c shared_buffers="${shared_buffers_kb}kB" \
  -c effective_cache_size="${effective_cache_kb}kB" \
  "$@"
