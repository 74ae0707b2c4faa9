// The writer's per-batch cost rollup (roll_up_costs): a batch of invocation chunks summed per
// (tenant, day) and (tenant, month), as before every cost upsert.
#include <benchmark/benchmark.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "sinks/batch_writer.h"

namespace sentinel {
namespace {

/// `rows` invocation rows over `tenants` tenants (Zipf-like skew) and 30 days, in 256-row chunks.
std::vector<ChunkPtr> make_batch(int rows, int tenants) {
  std::mt19937_64 rng(7);
  std::vector<double> weights;
  for (int t = 1; t <= tenants; ++t) weights.push_back(1.0 / t);
  std::discrete_distribution<int> tenant(weights.begin(), weights.end());
  std::uniform_int_distribution<int> day(20'400, 20'430);
  std::vector<ChunkPtr> chunks;
  for (int r = 0; r < rows; ++r) {
    if (r % 256 == 0) {
      chunks.push_back(std::make_unique<Chunk>());
      chunks.back()->type = static_cast<int>(EventTable::kInvocations);
    }
    Chunk& c = *chunks.back();
    const std::string name = "tenant-" + std::to_string(tenant(rng));
    CostItem item;
    item.tenant_begin = static_cast<uint32_t>(c.arena.size());
    item.tenant_size = static_cast<uint32_t>(name.size());
    c.arena += name;
    item.unix_day = day(rng);
    item.cost_nanos = 1'234'567;
    item.prompt_tokens = 812;
    item.completion_tokens = 233;
    RowRef row;
    row.cost_index = static_cast<int32_t>(c.costs.size());
    c.costs.push_back(item);
    c.rows.push_back(row);
  }
  return chunks;
}

void BM_CostRollup(benchmark::State& state) {
  const auto rows = static_cast<int>(state.range(0));
  const std::vector<ChunkPtr> owned = make_batch(rows, static_cast<int>(state.range(1)));
  std::vector<Chunk*> chunks;
  for (const auto& c : owned) chunks.push_back(c.get());
  const std::set<std::pair<uint32_t, uint32_t>> none;
  size_t keys = 0;
  for (auto _ : state) {
    const CostRollup sums = roll_up_costs(chunks, none);
    keys = sums.size();
    benchmark::DoNotOptimize(keys);
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_CostRollup)->Args({25'000, 200})->Args({25'000, 10'000});

}  // namespace
}  // namespace sentinel
