#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace sentinel {

/// What a sub-command is told about the event types (architecture.md §9): where the catalog is and
/// which topic each type is read from (or published to). The command line, the environment and the
/// config file fill it; resolve() turns it into a catalog and one topic per type.
struct EventTypeOptions {
  std::string catalog_dir;                  ///< --catalog DIR (SENTINEL_CATALOG, `catalog:`)
  std::vector<std::string> topic_settings;  ///< --topic NAME=TOPIC, repeatable
  /// The aliases, one per built-in type: --audit-topic T is --topic audit=T.
  std::string audit_topic;
  std::string invocations_topic;
};

/// How the topic options of a sub-command read in --help.
enum class TopicHelp { kConsumed, kPublished, kCreated };

/// Adds --catalog DIR to `cmd`.
void add_catalog_option(CLI::App& cmd, std::string& catalog_dir);

/// Adds --topic NAME=TOPIC (unless `with_topic` is false: `publish` has its own --topic) and the
/// aliases --audit-topic and --invocations-topic to `cmd`, bound to `options`.
void add_topic_options(CLI::App& cmd, EventTypeOptions& options, TopicHelp help,
                       bool with_topic = true);

/// The built-in types plus those of `dir` (load_catalog). A folder that cannot be read is a
/// UsageError naming it; a bad schema file throws CatalogError (every problem; exit 2).
std::shared_ptr<const Catalog> load_catalog_for(const std::string& dir);

/// The topic of each type of `catalog`, by index: its own `topic`, unless the aliases or --topic
/// say otherwise. Throws UsageError for a malformed setting, an unknown type (naming the known
/// ones), two different topics for one type, and two types on one topic.
std::vector<std::string> resolve_topics(const Catalog& catalog, const EventTypeOptions& options);

}  // namespace sentinel
