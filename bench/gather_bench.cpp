// The writer's gather (rows/gather.h): a batch's tuples copied out of its chunks in index
// order, into the pieces handed to libpq. Real sample events, encoded by the parser into 256 KiB
// chunks as the consumer builds them, then ordered by (tenant_id, ts) as BatchWriter does.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/samples.h"
#include "ingest/event_parser.h"
#include "rows/copy_encoder.h"
#include "rows/gather.h"

namespace sentinel {
namespace {

/// One batch: `rows` audit events in chunks of ~256 KiB, and their index order.
struct Batch {
  std::vector<std::unique_ptr<Chunk>> owned;
  std::vector<Chunk*> chunks;
  std::vector<RowPos> order;
  size_t bytes = 0;
};

Batch make_batch(size_t rows) {
  const bench::Samples samples = bench::load("audit_sample.jsonl");
  const int64_t now = bench::now_micros();
  EventParser parser;
  Batch b;
  // Chunks of a few partitions interleave in memory as the consumer builds them at once.
  constexpr size_t kPartitions = 8;
  constexpr size_t kChunkBytes = 256 << 10;
  std::vector<Chunk*> open(kPartitions, nullptr);
  for (size_t i = 0; i < rows; ++i) {
    const size_t p = i % kPartitions;
    if (open[p] == nullptr || open[p]->tuples.size() >= kChunkBytes) {
      b.owned.push_back(std::make_unique<Chunk>());
      open[p] = b.owned.back().get();
      open[p]->tuples.reserve(kChunkBytes + (16 << 10));
      b.chunks.push_back(open[p]);
    }
    Chunk& c = *open[p];
    const std::string& json = samples.padded[i % samples.padded.size()];
    const size_t size = samples.sizes[i % samples.sizes.size()];
    RowRef row;
    row.tuple_begin = static_cast<uint32_t>(c.tuples.size());
    int64_t ts = 0;
    if (parser.parse_audit(json.data(), size,
                           {static_cast<int32_t>(p), static_cast<int64_t>(i), now}, c.tuples, ts)) {
      continue;  // a sample meant to be rejected
    }
    row.tuple_end = static_cast<uint32_t>(c.tuples.size());
    c.rows.push_back(row);
  }
  struct Keyed {
    EventTupleKey key;
    RowPos pos;
  };
  std::vector<Keyed> keyed;
  for (uint32_t ci = 0; ci < b.chunks.size(); ++ci) {
    const Chunk& c = *b.chunks[ci];
    for (uint32_t r = 0; r < c.rows.size(); ++r) {
      keyed.push_back({event_tuple_key(c.tuple(c.rows[r])), {ci, r}});
      b.bytes += c.rows[r].tuple_end - c.rows[r].tuple_begin;
    }
  }
  // The samples repeat: order equal keys by position, scattered as distinct events would be.
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const Keyed& x, const Keyed& y) { return x.key < y.key; });
  for (const Keyed& k : keyed) b.order.push_back(k.pos);
  return b;
}

/// Arg: how many rows ahead the gather prefetches (0: it does not).
void BM_GatherIndexOrder(benchmark::State& state) {
  const Batch b = make_batch(50'000);
  std::string out;
  out.reserve(300 << 10);
  size_t pieces = 0;
  // The writer gathers rows the consumer thread wrote on the other core while the previous
  // batch committed: out of every cache. Each pass starts so (untimed).
  std::vector<char> evict(64 << 20);
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < evict.size(); i += 64) evict[i] = static_cast<char>(i + pieces);
    benchmark::DoNotOptimize(evict.data());
    state.ResumeTiming();
    out.clear();
    gather_tuples(b.chunks, b.order, static_cast<size_t>(state.range(0)), 256 << 10, out,
                  [&](std::string_view piece) {
                    benchmark::DoNotOptimize(piece.data());
                    ++pieces;
                  });
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(b.order.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.bytes));
  state.counters["rows"] = static_cast<double>(b.order.size());
  state.counters["MiB"] = static_cast<double>(b.bytes) / (1 << 20);
}
BENCHMARK(BM_GatherIndexOrder)->Arg(0)->Arg(4)->Arg(8)->Arg(16);

}  // namespace
}  // namespace sentinel
