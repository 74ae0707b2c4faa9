#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "ingest/chunk_builder.h"
#include "pipeline/backpressure.h"
#include "pipeline/consumer_loop.h"
#include "pipeline/failure.h"
#include "pipeline/metrics.h"
#include "pipeline/offset_coordinator.h"
#include "pipeline/pipeline_options.h"
#include "pipeline/stored_offsets.h"
#include "pipeline/writer_pool.h"

namespace sentinel {

/// The running ingestor: one consumer thread (the caller of run()) building chunks, and
/// `writers` writer threads each owning one PostgreSQL connection and the Kafka partitions that
/// map to it (so a partition's offsets advance in order).
///
/// Backpressure: each writer has a byte budget (inflight_budget / writers) for its queued and
/// in-transaction chunks. When the writers still fetching are over their budgets together, the
/// consumer is throttled (a few messages every 10 ms; prefetched ones wait in librdkafka's
/// bounded queue). A writer over its share for `pause_after` (stalled) has its partitions paused
/// while the consumer keeps polling (so it stays in the group); they resume below half its share.
/// A writer's batch takes at most half its share, so the next batch is built while it commits.
///
/// It is the owner that wires the parts, each with one job: the consumer loop (consumer_loop.h),
/// the writer pool and its retries (writer_pool.h), the offset coordinator (epochs, fences,
/// commits: offset_coordinator.h), the backpressure controller (backpressure.h), the control
/// connection reading stored offsets (stored_offsets.h) and the metrics of a batch
/// (batch_metrics.h).
class Pipeline final {
 public:
  Pipeline(PipelineOptions options, Metrics& metrics);
  ~Pipeline();

  /// Runs until `stop` becomes true (then drains and leaves the group) or a fatal error.
  /// Returns the process exit code: 0 clean stop, 1 runtime failure, 2 configuration error.
  int run(const std::atomic<bool>& stop);

  /// The message of the fatal error that ended run(), if any.
  std::string fatal_message() const { return failure_.message(); }

  /// True when run() returned while a writer was still blocked inside libpq: the caller must
  /// end the process (std::_Exit) instead of destroying the Pipeline.
  bool abandoned_writers() const { return abandoned_writers_; }

 private:
  /// Graceful stop: waits (bounded) for the writers to commit what is in flight, then ends them.
  void drain();

  PipelineOptions options_;
  Metrics& metrics_;
  std::vector<std::string> topics_;
  Failure failure_;
  ChunkBuilder builder_;
  OffsetCoordinator offsets_;
  Backpressure budget_;
  StoredOffsets stored_;
  WriterPool writers_;
  ConsumerLoop loop_;
  bool abandoned_writers_ = false;
};

}  // namespace sentinel
