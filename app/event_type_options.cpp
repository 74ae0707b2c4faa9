#include "app/event_type_options.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>
#include <utility>

#include "app/config.h"
#include "pipeline/pipeline_options.h"

namespace sentinel {
namespace {

/// The topic aliases kept from before the catalog: flag (no leading --), type name.
struct TopicAlias {
  const char* flag;
  const char* type;
  std::string EventTypeOptions::*value;
};
constexpr TopicAlias kTopicAliases[] = {
    {"audit-topic", "audit", &EventTypeOptions::audit_topic},
    {"invocations-topic", "invocation", &EventTypeOptions::invocations_topic},
};

std::string verb_of(TopicHelp help) {
  switch (help) {
    case TopicHelp::kConsumed:
      return "read from";
    case TopicHelp::kPublished:
      return "published to";
    case TopicHelp::kCreated:
      return "created for";
  }
  return "of";
}

std::string known_types(const Catalog& catalog) {
  std::string names;
  for (const EventType& t : catalog.types()) names += (names.empty() ? "" : ", ") + t.name;
  return names;
}

/// Sets `type`'s topic in `chosen` (by type index), refusing a second, different one.
void choose(const Catalog& catalog, std::map<int, std::pair<std::string, std::string>>& chosen,
            const std::string& type, const std::string& topic, const std::string& setting) {
  const int index = catalog.index_of(type);
  if (index < 0) {
    throw UsageError(fmt::format("{}: no event type named '{}' (known types: {})", setting, type,
                                 known_types(catalog)));
  }
  if (topic.empty()) throw UsageError(setting + ": the topic is empty");
  const auto [it, inserted] = chosen.try_emplace(index, topic, setting);
  if (!inserted && it->second.first != topic) {
    throw UsageError(fmt::format("{} and {} give event type '{}' two topics: keep one",
                                 it->second.second, setting, type));
  }
}

}  // namespace

void add_catalog_option(CLI::App& cmd, std::string& catalog_dir) {
  cmd.add_option(
      "--catalog", catalog_dir,
      "Folder of event type schemas (NAME.schema.json or .schema.yaml) added to the "
      "built-in audit and invocation types; a file of a built-in type's name replaces it");
}

void add_topic_options(CLI::App& cmd, EventTypeOptions& options, TopicHelp help, bool with_topic) {
  const std::string verb = verb_of(help);
  if (with_topic) {
    cmd.add_option("--topic", options.topic_settings,
                   fmt::format("NAME=TOPIC: the topic event type NAME is {} (repeatable; "
                               "default: the type's own `topic`, e.g. audit=sentinel.audit)",
                               verb));
  }
  for (const TopicAlias& alias : kTopicAliases) {
    const std::string text =
        with_topic ? fmt::format("Alias of --topic {}=TOPIC", alias.type)
                   : fmt::format("Topic {} events are {} (default: the type's own topic)",
                                 alias.type, verb);
    cmd.add_option(fmt::format("--{}", alias.flag), options.*alias.value, text);
  }
}

std::shared_ptr<const Catalog> load_catalog_for(const std::string& dir) {
  try {
    return load_catalog(dir);
  } catch (const CatalogError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw UsageError(
        fmt::format("--catalog {}: {} (give a readable folder of *.schema.json "
                    "files)",
                    dir, e.what()));
  }
}

std::vector<std::string> resolve_topics(const Catalog& catalog, const EventTypeOptions& options) {
  std::map<int, std::pair<std::string, std::string>> chosen;  // index → (topic, setting)
  for (const TopicAlias& alias : kTopicAliases) {
    const std::string& topic = options.*alias.value;
    if (!topic.empty()) choose(catalog, chosen, alias.type, topic, "--" + std::string(alias.flag));
  }
  for (const std::string& setting : options.topic_settings) {
    const size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError(fmt::format("--topic {}: expected NAME=TOPIC (known types: {})", setting,
                                   known_types(catalog)));
    }
    choose(catalog, chosen, setting.substr(0, eq), setting.substr(eq + 1), "--topic " + setting);
  }
  std::vector<std::string> topics;
  topics.reserve(catalog.size());
  for (size_t i = 0; i < catalog.size(); ++i) {
    const auto it = chosen.find(static_cast<int>(i));
    topics.push_back(it == chosen.end() ? catalog[i].topic : it->second.first);
  }
  const std::string problem = topics_problem(catalog, topics);
  if (!problem.empty()) throw UsageError(problem);
  return topics;
}

}  // namespace sentinel
