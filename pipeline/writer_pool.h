#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/backpressure.h"
#include "pipeline/chunk_queue.h"
#include "pipeline/failure.h"
#include "pipeline/linger_policy.h"
#include "pipeline/metrics.h"
#include "pipeline/offset_coordinator.h"
#include "pipeline/pipeline_options.h"

namespace sentinel {

class BatchWriter;
struct BatchResult;

/// The writer threads: each owns one PostgreSQL connection, a queue of chunks, and the Kafka
/// partitions that map to it (so a partition's offsets advance in order). A writer takes what is
/// queued into a batch, writes it, and on a lost connection retries the same batch with a
/// doubling backoff (up to max_backoff) until it commits, the run fails, or a hard stop.
class WriterPool {
 public:
  /// The parts the writers report to.
  struct Parts {
    OffsetCoordinator& offsets;  ///< drops stale chunks, takes fences and committed offsets
    Backpressure& budget;        ///< charged by submit(), released as chunks are done
    Failure& failure;
    std::atomic<bool>& connection_lost;  ///< set when a writer loses its connection
  };

  WriterPool(const PipelineOptions& options, const std::vector<std::string>& topics,
             Metrics& metrics, Parts parts);
  /// Stops the writers (hard) and joins them.
  ~WriterPool();
  WriterPool(const WriterPool&) = delete;
  WriterPool& operator=(const WriterPool&) = delete;

  void start();
  /// The writer a partition's chunks go to.
  int writer_of(const PartitionKey& key) const;
  /// Queues a chunk for its partition's writer, charging its bytes to the budget.
  void submit(ChunkPtr chunk);
  /// Ends the writers: what is still queued or being retried is dropped (consumed again on
  /// restart). Waits up to `join_wait` for them to leave; returns false if one is still blocked
  /// inside libpq, which is then detached (the caller must end the process without destroying
  /// the pool).
  bool stop(std::chrono::milliseconds join_wait);

 private:
  /// How one try of a batch ended.
  enum class Outcome { kDone, kRetry };
  /// The retry state of one batch: the warnings are logged once per batch, not per try.
  struct Retry {
    std::chrono::milliseconds backoff{100};
    bool reconnecting = false;
    bool payloads_missing = false;  ///< retried with backoff until Kafka answers
  };

  void writer_loop(int w);
  /// Moves into `batch` what is queued after `first`, up to the batch limits (see the .cpp).
  void collect_batch(ChunkQueue& queue, ChunkPtr first, std::vector<ChunkPtr>& batch,
                     const LingerPolicy& linger) const;
  void write_batch(int w, BatchWriter& bw, std::vector<ChunkPtr>& batch);
  Outcome try_write(int w, BatchWriter& bw, std::vector<Chunk*>& live, Retry& retry);
  /// A batch committed: metrics, fences, and its offsets for Kafka.
  void committed(int w, const BatchResult& r, const std::vector<Chunk*>& live, double seconds,
                 const Retry& retry);
  /// Waits out the backoff; false when a hard stop or a failure ends the retries.
  bool back_off(Retry& retry) const;
  void release(const Chunk& chunk, int w);

  const PipelineOptions& options_;
  const std::vector<std::string>& topics_;
  Metrics& metrics_;
  Parts parts_;
  std::vector<std::unique_ptr<ChunkQueue>> queues_;
  std::atomic<bool> stopping_{false};  ///< leave when the queue is empty; no more retries
  std::atomic<int> done_{0};           ///< writer threads that have left writer_loop
  std::vector<std::thread> threads_;
};

}  // namespace sentinel
