// Parse + validate + encode, one core, on the real sample events of tests/data.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "bench/samples.h"
#include "ingest/chunk_builder.h"
#include "ingest/event_parser.h"

namespace sentinel {
namespace {

using bench::load;
using bench::now_micros;
using bench::Samples;

void BM_ParseAudit(benchmark::State& state) {
  const Samples s = load("audit_sample.jsonl");
  EventParser parser;
  std::string out;
  out.reserve(1 << 20);
  MessageContext ctx{3, 0, now_micros()};
  int64_t rejected = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < s.padded.size(); ++i) {
      int64_t ts = 0;
      ++ctx.kafka_offset;
      rejected += parser.parse_audit(s.padded[i].data(), s.sizes[i], ctx, out, ts).has_value();
      benchmark::DoNotOptimize(ts);
    }
    if (out.size() > (512 << 10)) out.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.padded.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(s.total_bytes));
  state.counters["rejected"] = static_cast<double>(rejected);
}
BENCHMARK(BM_ParseAudit);

void BM_ParseInvocation(benchmark::State& state) {
  const Samples s = load("invocations_sample.jsonl");
  EventParser parser;
  std::string out;
  out.reserve(1 << 20);
  MessageContext ctx{3, 0, now_micros()};
  int64_t rejected = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < s.padded.size(); ++i) {
      InvocationCost cost;
      ++ctx.kafka_offset;
      rejected +=
          parser.parse_invocation(s.padded[i].data(), s.sizes[i], ctx, out, cost).has_value();
      benchmark::DoNotOptimize(cost);
    }
    if (out.size() > (512 << 10)) out.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(s.padded.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(s.total_bytes));
  state.counters["rejected"] = static_cast<double>(rejected);
}
BENCHMARK(BM_ParseInvocation);

/// What the consumer thread does per message: copy into the chunk arena, parse, validate,
/// encode, record the row (and its cost); both event types alternating, chunks of 256 KiB.
void BM_ChunkBuilderAdd(benchmark::State& state) {
  const Samples audit = load("audit_sample.jsonl");
  const Samples inv = load("invocations_sample.jsonl");
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  ChunkBuilder builder(catalog,
                       {{"sentinel.audit", catalog->index_of("audit")},
                        {"sentinel.invocations", catalog->index_of("invocation")}},
                       ParserLimits{}, 256 << 10);
  builder.open(0, 0, Chunk::kNoStoredOffset, 1);
  builder.open(1, 0, Chunk::kNoStoredOffset, 1);
  const int64_t now = now_micros();
  int64_t offset = 0;
  int64_t chunks = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < audit.padded.size(); ++i) {
      ChunkPtr a = builder.add(0, 0, offset, 0, {audit.padded[i].data(), audit.sizes[i]}, now);
      ChunkPtr b = builder.add(1, 0, offset, 0, {inv.padded[i].data(), inv.sizes[i]}, now);
      ++offset;
      chunks += (a != nullptr) + (b != nullptr);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(2 * audit.padded.size()));
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(audit.total_bytes + inv.total_bytes));
  state.counters["chunks"] = static_cast<double>(chunks);
}
BENCHMARK(BM_ChunkBuilderAdd);

}  // namespace
}  // namespace sentinel
