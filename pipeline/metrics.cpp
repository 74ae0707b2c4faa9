#include "pipeline/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "ingest/kafka_stats.h"
#include "pipeline/process_stats.h"

#ifndef SENTINEL_VERSION
#define SENTINEL_VERSION "unknown"
#endif
#ifndef SENTINEL_COMMIT
#define SENTINEL_COMMIT "unknown"
#endif

namespace sentinel {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double value, uint64_t count) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(count, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, value) * 1e6) * count,
                        std::memory_order_relaxed);
  count_.fetch_add(count, std::memory_order_relaxed);
}

void Histogram::Tally::observe(double value, uint64_t count) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i] += count;
  sum_micros_ += static_cast<uint64_t>(std::max(0.0, value) * 1e6) * count;
  count_ += count;
}

void Histogram::add(const Tally& t) {
  for (size_t i = 0; i < t.buckets_.size(); ++i) {
    if (t.buckets_[i] != 0) buckets_[i].fetch_add(t.buckets_[i], std::memory_order_relaxed);
  }
  sum_micros_.fetch_add(t.sum_micros_, std::memory_order_relaxed);
  count_.fetch_add(t.count_, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name,
                     static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  out += fmt::format("{}_count {}\n", name, cumulative);
}

double Histogram::quantile(double q) const {
  const uint64_t total = count();
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    const uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    if (static_cast<double>(cumulative + n) >= rank && n > 0) {
      if (i == bounds_.size()) return bounds_.back();
      const double lo = i == 0 ? 0.0 : bounds_[i - 1];
      return lo +
             (bounds_[i] - lo) * (rank - static_cast<double>(cumulative)) / static_cast<double>(n);
    }
    cumulative += n;
  }
  return bounds_.back();
}

namespace {
std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15,
          0.25,  0.5,    1,     2.5,  5,     10,   30,    60,  300};
}
}  // namespace

Metrics::Metrics()
    : batch_commit_seconds(latency_buckets()),
      end_to_end_latency_seconds(latency_buckets()),
      ingest_latency_seconds(latency_buckets()),
      batch_rows({1, 10, 100, 1000, 5000, 10000, 25000, 50000, 100000}),
      build{SENTINEL_VERSION, SENTINEL_COMMIT, kafka_library_version()} {}

void Metrics::set_streams(std::vector<std::string> topic_names,
                          std::vector<std::string> table_names) {
  std::lock_guard lock(streams_mutex);
  messages_consumed = std::vector<std::atomic<uint64_t>>(topic_names.size());
  rows_written = std::vector<std::atomic<uint64_t>>(table_names.size());
  topics = std::move(topic_names);
  tables = std::move(table_names);
}

// Longer than the house's ~60 lines on purpose: one flat list of every exported metric in
// exposition order, so that the names (a contract, architecture.md §7) are reviewed in one place.
// NOLINTNEXTLINE(readability-function-size)
std::string Metrics::render() {
  std::string out;
  const auto counter = [&](const char* name, const char* help) {
    out += fmt::format("# HELP sentinel_ingest_{} {}\n# TYPE sentinel_ingest_{} counter\n", name,
                       help, name);
  };
  const auto gauge = [&](const char* name, const char* help) {
    out += fmt::format("# HELP sentinel_ingest_{} {}\n# TYPE sentinel_ingest_{} gauge\n", name,
                       help, name);
  };
  std::lock_guard streams_lock(streams_mutex);
  counter("messages_consumed_total", "Kafka messages consumed, by topic.");
  for (size_t t = 0; t < topics.size(); ++t) {
    out += fmt::format("sentinel_ingest_messages_consumed_total{{topic=\"{}\"}} {}\n", topics[t],
                       messages_consumed[t].load());
  }
  counter("rows_written_total", "Rows committed to PostgreSQL, by table.");
  for (size_t t = 0; t < tables.size(); ++t) {
    out += fmt::format("sentinel_ingest_rows_written_total{{table=\"{}\"}} {}\n", tables[t],
                       rows_written[t].load());
  }
  counter("rejects_total", "Messages stored as rejects, by reason.");
  for (int r = 0; r < kRejectReasonCount; ++r) {
    out += fmt::format("sentinel_ingest_rejects_total{{reason=\"{}\"}} {}\n", kRejectReasonNames[r],
                       rejects[r].load());
  }
  batch_commit_seconds.render(out, "sentinel_ingest_batch_commit_seconds",
                              "Time to store one batch (COPY, costs, offsets, COMMIT).");
  end_to_end_latency_seconds.render(out, "sentinel_ingest_end_to_end_latency_seconds",
                                    "Kafka message timestamp to PostgreSQL commit.");
  ingest_latency_seconds.render(out, "sentinel_ingest_ingest_latency_seconds",
                                "From the consumer receiving a message to its PostgreSQL commit "
                                "(the ingestor's own share of the end-to-end latency).");
  batch_rows.render(out, "sentinel_ingest_batch_rows", "Rows per committed batch.");
  gauge("consumer_lag", "Messages in Kafka not yet committed to PostgreSQL.");
  {
    std::lock_guard lock(lag_mutex);
    for (const auto& [key, lag] : consumer_lag) {
      out += fmt::format("sentinel_ingest_consumer_lag{{topic=\"{}\",partition=\"{}\"}} {}\n",
                         topics[key.first], key.second, lag);
    }
  }
  gauge("inflight_bytes", "Bytes of encoded rows waiting for or inside a transaction.");
  out += fmt::format("sentinel_ingest_inflight_bytes {}\n", inflight_bytes.load());
  gauge("pg_up", "1 when the last PostgreSQL operation succeeded.");
  out += fmt::format("sentinel_ingest_pg_up {}\n", pg_up.load());
  gauge("assigned_partitions", "Kafka partitions assigned to this instance.");
  out += fmt::format("sentinel_ingest_assigned_partitions {}\n", assigned_partitions.load());
  gauge("paused_partitions", "Assigned partitions paused for backpressure.");
  out += fmt::format("sentinel_ingest_paused_partitions {}\n", paused_partitions.load());
  counter("backpressure_seconds_total",
          "Time the consumer was held back because the writers were over the in-flight budget "
          "(PostgreSQL slower than Kafka).");
  out += fmt::format("sentinel_ingest_backpressure_seconds_total {:.3f}\n",
                     static_cast<double>(throttled_micros.load()) / 1e6);
  gauge("last_commit_timestamp_seconds",
        "Unix time of the last batch committed to PostgreSQL (0: none yet).");
  out += fmt::format("sentinel_ingest_last_commit_timestamp_seconds {:.3f}\n",
                     static_cast<double>(last_commit_unix_ms.load()) / 1000.0);
  struct Counter {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>* value;
  };
  const Counter counters[] = {
      {"batches_total", "Batches committed.", &batches},
      {"batch_bytes_total", "Bytes of encoded rows committed.", &batch_bytes},
      {"retries_total", "Batch attempts retried after a transient PostgreSQL error.", &retries},
      {"reconnects_total", "PostgreSQL connections re-established.", &reconnects},
      {"bisections_total", "COPY attempts made to isolate rows PostgreSQL refused.", &bisections},
      {"partitions_ensured_total", "Month partitions checked or created before COPY.",
       &partitions_ensured},
      {"fenced_total", "Partitions whose offset compare-and-set failed (zombie fencing).", &fenced},
      {"duplicates_skipped_total", "Messages Kafka delivered again below the next offset.",
       &duplicates_skipped},
      {"kafka_offsets_skipped_total",
       "Offsets Kafka never delivered (retention, compaction, transaction markers).",
       &offsets_skipped_by_kafka},
      {"rebalances_total", "Consumer group assignments and revocations.", &rebalances},
  };
  for (const Counter& c : counters) {
    counter(c.name, c.help);
    out += fmt::format("sentinel_ingest_{} {}\n", c.name, c.value->load());
  }
  gauge("kafka_brokers_up",
        "Kafka brokers the consumer is connected to (state UP in librdkafka's statistics).");
  if (const int up = kafka_brokers_up.load(); up >= 0) {
    out += fmt::format("sentinel_ingest_kafka_brokers_up {}\n", up);
  }
  gauge("rejects_pending",
        "Rejects still to replay (never replayed, or still invalid at the last replay), by "
        "stored reason; read from ingest_rejects every minute.");
  for (int r = 0; r < kRejectReasonCount && rejects_pending_known.load(); ++r) {
    out += fmt::format("sentinel_ingest_rejects_pending{{reason=\"{}\"}} {}\n",
                       kRejectReasonNames[r], rejects_pending[r].load());
  }
  gauge("build_info", "Always 1; the labels say what is running.");
  out += fmt::format(
      "sentinel_ingest_build_info{{version=\"{}\",commit=\"{}\",librdkafka=\"{}\"}} 1\n",
      build.version, build.commit, build.librdkafka);
  ProcessStats::read().render(out);
  return out;
}

}  // namespace sentinel
