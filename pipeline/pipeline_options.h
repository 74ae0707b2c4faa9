#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "ingest/event_parser.h"

namespace sentinel {

/// Everything `sentinel-ingest run` can be told (defaults: architecture.md §1, for a 2-core box).
struct PipelineOptions {
  std::string pg_url;
  std::string brokers;
  std::string group = "sentinel-ingest";
  /// The event types to ingest (`--catalog DIR`); null: the built-in ones (resolve_types).
  std::shared_ptr<const Catalog> catalog;
  /// The topic of each type, by catalog index (`--topic NAME=TOPIC`); empty: each type's own
  /// `topic` (resolve_types).
  std::vector<std::string> topics;
  int writers = 2;
  size_t chunk_bytes = 256 << 10;
  size_t batch_rows = 50'000;
  size_t batch_bytes = 16 << 20;
  /// The end-to-end latency rows may take at moderate load: a batch smaller than the limits waits
  /// for more rows while its oldest row is within this budget (LingerPolicy, D32).
  std::chrono::milliseconds latency_budget{100};
  /// A fixed wait instead (`--linger-ms`); 0: commit what is queued as soon as the previous
  /// transaction is done (batches still grow with the load, because rows queue up meanwhile).
  std::optional<std::chrono::milliseconds> linger;
  size_t inflight_budget_bytes = 64 << 20;
  /// A writer over its budget first slows the consumer down (messages stay in librdkafka's
  /// fetch queue); only if it stays over this long are its partitions paused. Pausing makes
  /// librdkafka drop what it had fetched and fetch it again on resume, so it is kept for
  /// long stalls (PostgreSQL down), not for the ordinary case of PostgreSQL being slower than
  /// Kafka.
  std::chrono::milliseconds pause_after{2000};
  /// Where a partition with no stored offset starts: "earliest" or "latest".
  std::string offset_reset = "earliest";
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  ParserLimits limits;
  std::chrono::seconds status_interval{10};
  /// How long a graceful stop may spend committing what is in flight.
  std::chrono::milliseconds drain_timeout{8000};
  /// Longest wait between reconnection attempts to PostgreSQL.
  std::chrono::milliseconds max_backoff{10000};
};

/// Each type's own `topic`, by catalog index: what is consumed unless configured otherwise.
std::vector<std::string> own_topics(const Catalog& catalog);

/// Why `topics` (by catalog index) cannot be consumed for `catalog`, or "": one non-empty topic
/// per type, no topic read by two types (a message's topic says its type).
std::string topics_problem(const Catalog& catalog, const std::vector<std::string>& topics);

/// Fills what `options` left to the defaults: the built-in catalog when none was given, each
/// type's own topic when no topics were. Throws std::invalid_argument when the topics are not one
/// per type or two types would read one topic (a configuration error, exit 2), CatalogError from
/// loading the built-in catalog.
void resolve_types(PipelineOptions& options);

}  // namespace sentinel
