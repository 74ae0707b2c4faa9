#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sentinel {

/// Adds `rollup` (a month of any catalog rollup table: keys, day or month, count and exact sums)
/// to `app`: what `costs` is for the built-in invocation type, for every type's rollups. Returns
/// what to run once the command line has been parsed and `rollup` was chosen; it returns the exit
/// code and throws UsageError for bad arguments.
std::function<int()> add_rollup_command(CLI::App& app);

}  // namespace sentinel
