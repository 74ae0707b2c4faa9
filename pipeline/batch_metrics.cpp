#include "pipeline/batch_metrics.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace sentinel {
namespace {

bool fenced(const BatchResult& r, const Chunk& c) {
  return !r.fenced.empty() && std::find(r.fenced.begin(), r.fenced.end(),
                                        std::pair{c.topic_index, c.partition}) != r.fenced.end();
}

}  // namespace

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void record_batch(Metrics& metrics, const BatchResult& r, const std::vector<Chunk*>& live,
                  double commit_seconds) {
  metrics.pg_up = 1;
  metrics.last_commit_unix_ms = now_unix_ms();
  metrics.batch_commit_seconds.observe(commit_seconds);
  ++metrics.batches;
  metrics.bisections += r.bisections;
  metrics.partitions_ensured += r.partitions_ensured;
  uint64_t rows = 0;
  // By catalog type index; at(): a Metrics whose streams were not set is a bug, not a count to
  // drop.
  for (size_t t = 0; t < r.rows.size(); ++t) {
    metrics.rows_written.at(t) += r.rows[t];
    rows += r.rows[t];
  }
  for (int i = 0; i < kRejectReasonCount; ++i) metrics.rejects[i] += r.rejects[i];
  metrics.batch_rows.observe(static_cast<double>(rows));
  // End-to-end latency of every stored row (Kafka message timestamp → now).
  const int64_t now_ms = now_unix_ms();
  Histogram::Tally end_to_end(metrics.end_to_end_latency_seconds);
  for (const Chunk* c : live) {
    if (fenced(r, *c)) continue;
    metrics.batch_bytes += c->tuples.size();
    metrics.ingest_latency_seconds.observe(
        static_cast<double>(now_ms * 1000 - c->received_unix_micros) / 1e6, c->rows.size());
    for (const RowRef& row : c->rows) {
      if (row.kafka_timestamp_ms < 0) continue;
      end_to_end.observe(static_cast<double>(now_ms - row.kafka_timestamp_ms) / 1000.0);
    }
  }
  metrics.end_to_end_latency_seconds.add(end_to_end);
  metrics.fenced += r.fenced.size();
}

}  // namespace sentinel
