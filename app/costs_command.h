#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sentinel {

/// Adds `costs` (per-tenant daily and monthly spend, or the month's top tenants, from the
/// `costs` table) to `app`. Returns what to run once the command line has been parsed and
/// `costs` was chosen; it returns the exit code and throws UsageError for bad arguments.
std::function<int()> add_costs_command(CLI::App& app);

}  // namespace sentinel
