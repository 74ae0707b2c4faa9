#include "pipeline/chunk_queue.h"

#include <concurrentqueue/blockingconcurrentqueue.h>

namespace sentinel {

struct ChunkQueue::Impl {
  moodycamel::BlockingConcurrentQueue<Chunk*> queue;
};

ChunkQueue::ChunkQueue() : impl_(std::make_unique<Impl>()) {}

ChunkQueue::~ChunkQueue() {
  Chunk* c = nullptr;
  while (impl_->queue.try_dequeue(c)) delete c;
}

void ChunkQueue::push(ChunkPtr chunk) { impl_->queue.enqueue(chunk.release()); }

ChunkPtr ChunkQueue::pop(std::chrono::microseconds timeout) {
  Chunk* c = nullptr;
  if (!impl_->queue.wait_dequeue_timed(c, timeout)) return nullptr;
  return ChunkPtr(c);
}

size_t ChunkQueue::size_approx() const { return impl_->queue.size_approx(); }

}  // namespace sentinel
