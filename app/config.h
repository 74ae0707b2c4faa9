#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace sentinel {

/// Thrown for bad usage or configuration: main prints it and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The environment variable that can set a long option: SENTINEL_ + the name in upper case with
/// '-' as '_', except --pg (SENTINEL_PG_URL) and --brokers (SENTINEL_KAFKA_BROKERS).
std::string env_name_for(const std::string& long_name);

/// Gives every long option of `command` its environment form (shown in --help; CLI11 applies it
/// when the flag is absent).
void add_env_names(CLI::App& command);

/// Fills the options of `command` that neither a flag nor the environment set from the YAML
/// config file at `path` (keys are the long option names, e.g. `pg:`, `brokers:`, `writers:`;
/// `kafka-prop:` may be a map or a list of KEY=VALUE). Precedence: flags, environment, file.
/// Throws UsageError for an unreadable file, a malformed one or an unknown key.
void apply_config_file(CLI::App& command, const std::string& path);

/// --max-cost-usd: a positive decimal number of USD, read exactly (as cost_usd itself is), in
/// nano-dollars. Throws UsageError.
int64_t parse_max_cost_usd(const std::string& text);

}  // namespace sentinel
