// Hand-off of chunks from the consumer thread to a writer thread through a ChunkQueue.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "pipeline/chunk_queue.h"

namespace sentinel {
namespace {

ChunkPtr make_chunk(size_t tuple_bytes) {
  auto c = std::make_unique<Chunk>();
  c->tuples.assign(tuple_bytes, 'x');
  return c;
}

/// Push and pop on one thread: the queue's own cost per chunk.
void BM_ChunkQueuePushPop(benchmark::State& state) {
  ChunkQueue q;
  ChunkPtr c = make_chunk(64);
  for (auto _ : state) {
    q.push(std::move(c));
    c = q.pop(std::chrono::microseconds(0));
    benchmark::DoNotOptimize(c.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChunkQueuePushPop);

/// A producer thread pushes chunks of `range(0)` bytes, this thread pops them (blocking), as a
/// writer does; bytes/s counts the tuple bytes handed over.
void BM_ChunkQueueHandOff(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  ChunkQueue q;
  ChunkQueue back;  // chunks return to the producer, so nothing is allocated per hand-off
  for (int i = 0; i < 64; ++i) back.push(make_chunk(bytes));
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (ChunkPtr c = back.pop(std::chrono::milliseconds(1))) q.push(std::move(c));
    }
  });
  for (auto _ : state) {
    ChunkPtr c = q.pop(std::chrono::seconds(1));
    benchmark::DoNotOptimize(c.get());
    back.push(std::move(c));
  }
  stop = true;
  producer.join();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ChunkQueueHandOff)->Arg(256 << 10)->UseRealTime();

}  // namespace
}  // namespace sentinel
