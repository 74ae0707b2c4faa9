#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "ingest/scalars.h"

namespace sentinel {

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
    if (name == "help") continue;
    opt->envname(env_name_for(name));
  }
}

void apply_config_file(CLI::App& command, const std::string& path) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw UsageError("config file " + path + ": cannot be read");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    throw UsageError("config file " + path + ": " + e.what());
  }
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) throw UsageError("config file " + path + ": expected a map of option: value");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    CLI::Option* opt = nullptr;
    for (CLI::Option* o : command.get_options()) {
      const auto& names = o->get_lnames();
      if (std::find(names.begin(), names.end(), key) != names.end()) opt = o;
    }
    if (opt == nullptr) {
      throw UsageError("config file " + path + ": unknown key '" + key + "' for `" +
                       command.get_name() + "` (keys are the long option names)");
    }
    if (opt->count() > 0) continue;  // a flag or the environment already set it
    const YAML::Node& value = entry.second;
    try {
      if (value.IsMap()) {
        for (const auto& kv : value) {
          opt->add_result(kv.first.as<std::string>() + "=" + kv.second.as<std::string>());
        }
      } else if (value.IsSequence()) {
        for (const auto& item : value) opt->add_result(item.as<std::string>());
      } else {
        opt->add_result(value.as<std::string>());
      }
      opt->run_callback();
    } catch (const YAML::Exception& e) {
      throw UsageError("config file " + path + ": key '" + key + "': " + e.what());
    } catch (const CLI::Error& e) {
      throw UsageError("config file " + path + ": key '" + key + "': " + e.what());
    }
  }
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
