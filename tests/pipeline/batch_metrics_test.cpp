// What /metrics shows after a batch committed: recorded from the batch's result and chunks, with
// nothing counted for the partitions the batch was fenced on (their rows were not stored).
#include "pipeline/batch_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace sentinel {
namespace {

Chunk chunk_with_rows(int32_t partition, size_t rows, size_t tuple_bytes) {
  Chunk c;
  c.partition = partition;
  c.tuples.assign(tuple_bytes, 'x');
  c.received_unix_micros = (now_unix_ms() - 1000) * 1000;
  for (size_t i = 0; i < rows; ++i) c.rows.push_back({.kafka_timestamp_ms = now_unix_ms() - 2000});
  return c;
}

TEST(BatchMetrics, AFencedPartitionsRowsAreNotCountedAsStored) {
  Metrics metrics;
  metrics.set_streams({"sentinel.audit", "sentinel.invocations"}, {"audit_logs", "invocations"});
  Chunk stored = chunk_with_rows(1, 3, 30);
  Chunk fenced = chunk_with_rows(2, 2, 50);
  BatchResult r;
  r.rows = {3, 0};  // by type: audit, invocation
  r.fenced = {{0, 2}};
  record_batch(metrics, r, {&stored, &fenced}, 0.25);

  EXPECT_EQ(metrics.batches.load(), 1u);
  EXPECT_EQ(metrics.rows_written[0].load(), 3u) << "audit_logs";
  EXPECT_EQ(metrics.batch_bytes.load(), 30u) << "the fenced chunk's bytes were not stored";
  EXPECT_EQ(metrics.end_to_end_latency_seconds.count(), 3u) << "one sample per stored row";
  EXPECT_EQ(metrics.ingest_latency_seconds.count(), 3u);
  EXPECT_EQ(metrics.fenced.load(), 1u);
  EXPECT_EQ(metrics.batch_commit_seconds.count(), 1u);
  EXPECT_EQ(metrics.pg_up.load(), 1);
  EXPECT_GT(metrics.last_commit_unix_ms.load(), 0);
  // Stored 2 s after the message's timestamp: the end-to-end latency says so.
  EXPECT_GE(metrics.end_to_end_latency_seconds.quantile(0.5), 1.0);
}

}  // namespace
}  // namespace sentinel
