#include "app/config.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "app/logging.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in <unistd.h>

#include "ingest/scalars.h"

namespace sentinel {
namespace {

constexpr std::string_view kKafkaPropEnv = "SENTINEL_KAFKA_PROP";

/// The option of `app` itself (not of its sub-commands) whose long names include `key`.
CLI::Option* own_option(CLI::App& app, const std::string& key) {
  for (CLI::Option* o : app.get_options()) {
    const auto& names = o->get_lnames();
    if (std::find(names.begin(), names.end(), key) != names.end()) return o;
  }
  return nullptr;
}

/// The global option `key` of `program` (--log-level, --log-format; not --help or --version,
/// which a file cannot ask for).
CLI::Option* global_option(CLI::App& program, const std::string& key) {
  if (key == "help" || key == "version") return nullptr;
  return own_option(program, key);
}

/// The top of the command tree `command` belongs to (the program with its global options).
CLI::App& root_of(CLI::App& command) {
  CLI::App* app = &command;
  while (app->get_parent() != nullptr) app = app->get_parent();
  return *app;
}

/// The sub-commands of `root`, at every depth, whose options include `key`.
void commands_knowing(CLI::App& app, const std::string& key, std::vector<std::string>& names) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (own_option(*sub, key) != nullptr) names.push_back(sub->get_name());
    commands_knowing(*sub, key, names);
  }
}

/// A YAML value as the option's results: a scalar is one, a map is KEY=VALUE items, a list is
/// one per item for a repeatable option and joined with commas otherwise.
std::vector<std::string> yaml_results(const YAML::Node& value, bool repeatable) {
  std::vector<std::string> out;
  if (value.IsMap()) {
    for (const auto& kv : value) {
      out.push_back(kv.first.as<std::string>() + "=" + kv.second.as<std::string>());
    }
  } else if (value.IsSequence()) {
    std::string joined;
    for (const auto& item : value) {
      if (repeatable) {
        out.push_back(item.as<std::string>());
      } else {
        joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      }
    }
    if (!repeatable) out.push_back(joined);
  } else {
    out.push_back(value.as<std::string>());
  }
  return out;
}

/// yaml_results, its errors as UsageError naming the file and the key.
std::vector<std::string> results_of(const YAML::Node& value, bool repeatable,
                                    const std::string& key, const std::string& path) {
  try {
    return yaml_results(value, repeatable);
  } catch (const YAML::Exception& e) {
    throw UsageError("config file " + path + ": key '" + key + "': " + e.what());
  }
}

/// Sets `opt` to `results` (replacing what it had) and runs its checks and callback.
void set_results(CLI::Option& opt, const std::vector<std::string>& results) {
  opt.clear();
  for (const std::string& r : results) opt.add_result(r);
  opt.run_callback();
}

/// Sets `opt` from the file's `value` of `key`; a value it refuses is a UsageError naming both.
void set_option(CLI::Option& opt, const std::string& key, const YAML::Node& value,
                const std::string& path) {
  const std::vector<std::string> results =
      results_of(value, opt.get_items_expected_max() > 1, key, path);
  try {
    set_results(opt, results);
  } catch (const CLI::Error& e) {
    throw UsageError("config file " + path + ": key '" + key + "': " + e.what());
  }
}

/// The value of global option `name` as it stands (flag, environment, or the file), or
/// `fallback` when nothing set it.
std::string global_value(CLI::App& root, const std::string& name, const std::string& fallback) {
  CLI::Option* opt = own_option(root, name);
  if (opt == nullptr || opt->results().empty()) return fallback;
  return opt->results().front();
}

/// --kafka-prop of `command`: the file's items, the environment's, then the flags' (last wins).
void merge_kafka_props(CLI::Option& opt, const std::vector<std::string>& from_file) {
  std::vector<std::string> merged = from_file;
  for (std::string& kv : kafka_props_from_environment()) merged.push_back(std::move(kv));
  for (const std::string& kv : opt.results()) merged.push_back(kv);
  if (merged.empty()) return;
  set_results(opt, merged);
}

YAML::Node load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("config file " + path + ": cannot be read");
  try {
    return YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw UsageError("config file " + path + ": " + e.what());
  }
}

}  // namespace

std::string env_name_for(const std::string& long_name) {
  if (long_name == "pg") return "SENTINEL_PG_URL";
  if (long_name == "brokers") return "SENTINEL_KAFKA_BROKERS";
  std::string env = "SENTINEL_";
  for (char c : long_name) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return env;
}

void add_env_names(CLI::App& command) {
  for (CLI::Option* opt : command.get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames().front();
    if (name == "help" || name == "kafka-prop") continue;
    opt->envname(env_name_for(name));
  }
}

std::vector<std::string> kafka_props_from_environment() {
  std::vector<std::string> out;
  if (const char* list = std::getenv(std::string(kKafkaPropEnv).c_str())) {
    std::istringstream words(list);
    std::string kv;
    while (words >> kv) {
      if (kv.find('=') == std::string::npos || kv.front() == '=') {
        throw UsageError(std::string(kKafkaPropEnv) + ": expected KEY=VALUE settings separated " +
                         "by spaces, got '" + kv + "' (a value with spaces goes in its own " +
                         "variable, SENTINEL_KAFKA_PROP_<NAME>, e.g. " +
                         "SENTINEL_KAFKA_PROP_SASL_OAUTHBEARER_CONFIG)");
      }
      out.push_back(kv);
    }
  }
  const std::string prefix = std::string(kKafkaPropEnv) + "_";
  std::map<std::string, std::string> per_key;  // sorted: the same order on every machine
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq <= prefix.size() ||
        entry.substr(0, prefix.size()) != prefix)
      continue;
    std::string key;
    for (char c : entry.substr(prefix.size(), eq - prefix.size())) {
      key.push_back(c == '_' ? '.'
                             : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    per_key[key] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : per_key) out.push_back(key + "=" + value);
  return out;
}

void apply_config_file(CLI::App& command, const std::string& path) {
  CLI::Option* kafka_prop = own_option(command, "kafka-prop");
  std::vector<std::string> file_props;
  YAML::Node root = path.empty() ? YAML::Node() : load_file(path);
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw UsageError("config file " + path + ": expected a map of option: value");
  CLI::App& program = root_of(command);
  // The global options first (logging set up again with them), so the rest may log.
  if (&program != &command) {
    bool globals_changed = false;
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      CLI::Option* opt = global_option(program, key);
      if (opt == nullptr || own_option(command, key) != nullptr || opt->count() > 0) continue;
      set_option(*opt, key, entry.second, path);
      globals_changed = true;
    }
    if (globals_changed) {
      setup_logging(global_value(program, "log-format", "text"),
                    global_value(program, "log-level", "info"));
    }
  }
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    CLI::Option* opt = own_option(command, key);
    if (opt == nullptr) {
      if (global_option(program, key) != nullptr) continue;  // applied above
      std::vector<std::string> users;
      commands_knowing(program, key, users);
      if (users.empty()) {
        throw UsageError("config file " + path + ": unknown key '" + key +
                         "' (keys are the long option names of a sub-command or the global "
                         "options; see sentinel-ingest SUB-COMMAND --help)");
      }
      spdlog::debug("config file {}: key '{}' is for {}, not `{}`: skipped", path, key,
                    fmt::join(users, ", "), command.get_name());
      continue;
    }
    if (opt == kafka_prop) {
      file_props = results_of(entry.second, true, key, path);
    } else if (opt->count() == 0) {  // a flag or the environment did not set it
      set_option(*opt, key, entry.second, path);
    }
  }
  if (kafka_prop != nullptr) merge_kafka_props(*kafka_prop, file_props);
}

int64_t parse_max_cost_usd(const std::string& text) {
  const DecimalResult r = parse_decimal_nanos(text);
  if (!r.ok() || r.nanos <= 0) {
    throw UsageError("--max-cost-usd: expected a positive decimal number of USD (at most " +
                     format_decimal_nanos(INT64_MAX) + "), got '" + text + "'");
  }
  return r.nanos;
}

}  // namespace sentinel
