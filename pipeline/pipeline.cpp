#include "pipeline/pipeline.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sentinel {
namespace {

using Clock = std::chrono::steady_clock;

/// What a graceful stop may take in all, from SIGTERM to the exit (architecture.md §5): 10 s, less
/// a margin for the process's own exit.
constexpr auto kStopBudget = std::chrono::milliseconds(9500);

/// The chunk builder's topic of each event type: every type of the catalog is consumed, type i
/// from topics[i].
std::vector<TopicSpec> topic_specs(const std::vector<std::string>& topics) {
  std::vector<TopicSpec> specs;
  specs.reserve(topics.size());
  for (size_t i = 0; i < topics.size(); ++i) specs.push_back({topics[i], static_cast<int>(i)});
  return specs;
}

/// `options` with its defaults filled (resolve_types).
PipelineOptions resolved(PipelineOptions options) {
  resolve_types(options);
  return options;
}

/// The event table of each type, by catalog index: what rows_written{table} is labelled with.
std::vector<std::string> tables_of(const Catalog& catalog) {
  std::vector<std::string> tables;
  tables.reserve(catalog.size());
  for (const EventType& t : catalog.types()) tables.push_back(t.table);
  return tables;
}

}  // namespace

std::string topics_problem(const Catalog& catalog, const std::vector<std::string>& topics) {
  if (topics.size() != catalog.size()) {
    return fmt::format("{} topics for {} event types: give one topic per type", topics.size(),
                       catalog.size());
  }
  for (size_t i = 0; i < topics.size(); ++i) {
    if (topics[i].empty()) {
      return fmt::format("event type '{}' has an empty topic: name one with --topic {}=TOPIC",
                         catalog[i].name, catalog[i].name);
    }
    for (size_t j = 0; j < i; ++j) {
      if (topics[j] == topics[i]) {
        return fmt::format(
            "event types '{}' and '{}' would both read topic '{}': a topic carries one type; "
            "give each its own with --topic NAME=TOPIC",
            catalog[j].name, catalog[i].name, topics[i]);
      }
    }
  }
  return {};
}

std::vector<std::string> own_topics(const Catalog& catalog) {
  std::vector<std::string> topics;
  topics.reserve(catalog.size());
  for (const EventType& t : catalog.types()) topics.push_back(t.topic);
  return topics;
}

void resolve_types(PipelineOptions& options) {
  if (!options.catalog) options.catalog = load_catalog();
  if (options.topics.empty()) options.topics = own_topics(*options.catalog);
  const std::string problem = topics_problem(*options.catalog, options.topics);
  if (!problem.empty()) throw std::invalid_argument(problem);
}

Pipeline::Pipeline(PipelineOptions options, Metrics& metrics)
    : options_(resolved(std::move(options))),
      metrics_(metrics),
      topics_(options_.topics.begin(), options_.topics.end()),
      builder_(options_.catalog, topic_specs(options_.topics), options_.limits,
               options_.chunk_bytes),
      offsets_([this](const PartitionKey& key) { builder_.close(key.first, key.second); }),
      budget_(options_.inflight_budget_bytes, options_.writers, options_.pause_after),
      stored_(options_.pg_url, options_.group, topics_, options_.max_backoff, metrics_, failure_),
      writers_(options_, topics_, metrics_,
               {offsets_, budget_, failure_, stored_.connection_lost()}),
      loop_(options_, topics_, metrics_,
            {builder_, offsets_, budget_, writers_, stored_, failure_}) {
  metrics_.set_streams(topics_, tables_of(*options_.catalog));
}

Pipeline::~Pipeline() = default;

int Pipeline::run(const std::atomic<bool>& stop) {
  loop_.open(stop);
  writers_.start();
  spdlog::info("consuming {} as group {} with {} writers", fmt::join(topics_, ", "), options_.group,
               options_.writers);
  loop_.run();

  // Graceful stop: nothing new is built; wait for the writers to commit what is in flight,
  // including chunks still open.
  spdlog::info("stopping: committing what is in flight");
  const auto stopping_since = Clock::now();
  if (!failure_.failed()) loop_.flush();
  drain();
  // Leaving the group gets what is left of the 10 s a stop may take (at least 1 s, at most
  // its default): a broker that does not answer must not hold the exit.
  loop_.close(std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                             stopping_since + kStopBudget - Clock::now()),
                         std::chrono::milliseconds(1000), KafkaConsumer::kCloseTimeout));
  if (failure_.code() != 0) spdlog::error("{}", failure_.message());
  return failure_.code();
}

void Pipeline::drain() {
  const auto deadline = Clock::now() + options_.drain_timeout;
  // Waiting for writers that cannot commit (PostgreSQL down or hung for the last 2 s) only
  // delays the exit past its 10 s: what they hold is consumed again on restart.
  std::optional<Clock::time_point> pg_down_since;
  while (budget_.inflight() > 0 && Clock::now() < deadline && !failure_.failed()) {
    if (metrics_.pg_up.load() != 0) {
      pg_down_since.reset();
    } else if (!pg_down_since) {
      pg_down_since = Clock::now();
    } else if (Clock::now() - *pg_down_since > std::chrono::seconds(2)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (budget_.inflight() > 0) {
    spdlog::warn("stopping with {} bytes uncommitted; they will be consumed again on restart",
                 budget_.inflight());
  }
  abandoned_writers_ = !writers_.stop(std::chrono::seconds(1));
}

}  // namespace sentinel
