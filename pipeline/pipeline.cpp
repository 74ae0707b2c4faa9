#include "pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sentinel {
namespace {

using Clock = std::chrono::steady_clock;

/// What a graceful stop may take in all, from SIGTERM to the exit (architecture.md §5): 10 s, less
/// a margin for the process's own exit.
constexpr auto kStopBudget = std::chrono::milliseconds(9500);

/// The chunk builder's topic of each event type: every spec'd type is consumed. Topic i carries
/// the catalog's type i (the built-in catalog lists the types in kEventSpecs order).
std::vector<TopicSpec> topic_specs(const std::array<std::string, kEventTableCount>& topics) {
  std::vector<TopicSpec> specs;
  specs.reserve(kEventSpecs.size());
  for (const EventSpec& s : kEventSpecs) {
    specs.push_back({topics[static_cast<size_t>(s.table)], static_cast<int>(s.table)});
  }
  return specs;
}

/// The options with the catalog filled in (the built-in one unless given).
PipelineOptions with_catalog(PipelineOptions options) {
  if (!options.catalog) options.catalog = load_catalog();
  return options;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, Metrics& metrics)
    : options_(with_catalog(std::move(options))),
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
  metrics_.topics = topics_;
}

Pipeline::~Pipeline() = default;

int Pipeline::run(const std::atomic<bool>& stop) {
  loop_.open(stop);
  writers_.start();
  spdlog::info("consuming {} and {} as group {} with {} writers", topics_[0], topics_[1],
               options_.group, options_.writers);
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
