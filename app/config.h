#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
/// when the flag is absent). --kafka-prop is the exception: its environment variables are read
/// by apply_config_file (kafka_props_from_environment), merged property by property.
void add_env_names(CLI::App& command);

/// The librdkafka properties the environment sets, in the order they apply:
/// - SENTINEL_KAFKA_PROP: KEY=VALUE settings separated by whitespace ("a=1 b=2" is two); each
///   must contain '=' (UsageError otherwise, naming the per-key form as the fix);
/// - SENTINEL_KAFKA_PROP_<NAME>=VALUE, one property each, sorted by name: NAME in lower case with
///   every '_' read as '.' (SENTINEL_KAFKA_PROP_FETCH_WAIT_MAX_MS=100 is fetch.wait.max.ms=100).
///   A property whose name has '_' (librdkafka's log_level, enabled_events) cannot be set this
///   way, nor a value with whitespace through SENTINEL_KAFKA_PROP: --kafka-prop or `kafka-prop:`.
std::vector<std::string> kafka_props_from_environment();

/// Fills the options of `command` that neither a flag nor the environment set from the YAML
/// config file at `path` (keys are the long option names, e.g. `pg:`, `brokers:`, `writers:`).
/// One file serves every sub-command:
/// - a key of another sub-command (`brokers:` for `migrate`) is skipped, with a debug line;
/// - a key of the global options (`log-level:`, `log-format:`) sets it unless a flag or the
///   environment did, and logging is set up again with it;
/// - a list joins with commas for a one-value option (`brokers: [a:9092, b:9092]`) and gives one
///   value per item to a repeatable one (`topic:`, `kafka-prop:`); a map gives KEY=VALUE items
///   (`kafka-prop: {fetch.wait.max.ms: 100}`).
/// Precedence: flags, environment, file; --kafka-prop merges per property instead: the file's,
/// then the environment's (kafka_props_from_environment), then the flags', the last one winning.
/// `path` may be empty (no file): the environment's Kafka properties still apply.
/// Throws UsageError for an unreadable file, a malformed one or a key no sub-command knows
/// (naming the key and the file).
void apply_config_file(CLI::App& command, const std::string& path);

/// --max-cost-usd: a positive decimal number of USD, read exactly (as cost_usd itself is), in
/// nano-dollars. Throws UsageError.
int64_t parse_max_cost_usd(const std::string& text);

}  // namespace sentinel
