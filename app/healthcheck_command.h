#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sentinel {

/// Adds `healthcheck` to `app`: a probe for container HEALTHCHECKs (the runtime image carries no
/// curl) that GETs /healthz (or --path) of a running `run` and exits 0 on HTTP 200, 1 otherwise.
/// It reads --metrics-listen / SENTINEL_METRICS_LISTEN like `run`, so a container's environment
/// configures both. Returns what to run once `healthcheck` was parsed.
std::function<int()> add_healthcheck_command(CLI::App& app);

}  // namespace sentinel
