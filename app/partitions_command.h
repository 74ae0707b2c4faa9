#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sentinel {

/// Adds `partitions` (month-partition maintenance: list, premake, retention) to `app`. Returns
/// what to run once the command line has been parsed and `partitions` was chosen; it returns the
/// exit code and throws UsageError for bad arguments.
std::function<int()> add_partitions_command(CLI::App& app);

}  // namespace sentinel
