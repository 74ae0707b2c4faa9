#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sentinel {

/// Adds `catalog` to `app`: the event types, built in and from --catalog DIR (or
/// SENTINEL_CATALOG). `catalog list` prints one line per type, `catalog show NAME` its effective
/// schema (JSON, ready to be edited and saved into a catalog folder), `catalog check` validates
/// the folder. A catalog with problems exits 2 printing every problem, one per line (the
/// CatalogError reaches main). Returns what to run once `catalog` was parsed; the code is what
/// the chosen sub-command returns.
std::function<int()> add_catalog_command(CLI::App& app);

}  // namespace sentinel
