#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "pipeline/pipeline.h"

namespace sentinel {

/// Set by SIGINT/SIGTERM: every long-running command stops gracefully when it turns true.
extern std::atomic<bool> g_stop;
void install_signal_handlers();

struct RunArgs {
  PipelineOptions pipeline;
  std::string metrics_listen;  ///< HOST:PORT, empty: no HTTP server
};
int cmd_run(RunArgs args);

/// `migrate`: the numbered migrations, then the event catalog (built-in types plus the files of
/// `catalog_dir`, "" for none). Exit code 2 when the catalog is refused (the plan with the SQL a
/// DBA would run goes to stderr); throws CatalogError for an invalid one.
int cmd_migrate(const std::string& pg_url, const std::string& catalog_dir = {});

struct PublishArgs {
  std::string brokers;
  uint64_t count = 10'000;
  double rate = 0;  ///< events per second; 0: as fast as possible
  int tenants = 200;
  double invalid_ratio = 0;
  uint64_t seed = 1;
  int days_back = 42;
  std::string from_file;  ///< JSONL to replay instead of generating
  std::string topic;      ///< with from_file, or with one of `types`
  /// With `publish --type`: the catalog and the indices of the types to generate (SchemaGenerator,
  /// each type to its own topic); empty: the built-in audit + invocation mix (EventGenerator).
  std::shared_ptr<const Catalog> catalog;
  std::vector<int> types;
  /// The topic of each built-in event type, by catalog index (audit, invocation: the generator's
  /// topic_index); empty: each type's own topic.
  std::vector<std::string> topics;
  std::vector<std::pair<std::string, std::string>> kafka_properties;
};
int cmd_publish(const PublishArgs& args);

int cmd_kafka_mock(int partitions, int brokers, const std::vector<std::string>& topics);

struct DemoArgs {
  uint64_t events = 20'000;
  double invalid_ratio = 0.02;
  int writers = 2;
};
int cmd_demo(const DemoArgs& args);

}  // namespace sentinel
