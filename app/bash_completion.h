#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace sentinel {

/// A bash completion script for `app` (its sub-commands, nested ones included, and each one's
/// long flags; the values of --log-level and --log-format), generated from CLI11's own
/// definitions so that it cannot drift from the binary. The build writes it with
/// `sentinel-ingest --bash-completion` and installs it (app/CMakeLists.txt).
std::string bash_completion(const CLI::App& app);

}  // namespace sentinel
