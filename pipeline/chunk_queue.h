#pragma once

#include <chrono>
#include <memory>

#include "rows/chunk.h"

namespace sentinel {

/// A multi-producer, single-consumer queue of chunks for one writer. Wraps
/// moodycamel::BlockingConcurrentQueue so that its header stays out of every other file.
/// Unbounded by count: the pipeline bounds it by bytes (pausing Kafka partitions).
class ChunkQueue {
 public:
  ChunkQueue();
  ~ChunkQueue();
  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;

  void push(ChunkPtr chunk);
  /// Waits up to `timeout` for a chunk; null if none came.
  ChunkPtr pop(std::chrono::microseconds timeout);
  /// Approximate number of queued chunks.
  size_t size_approx() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentinel
