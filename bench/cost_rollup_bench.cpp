// The writer's per-batch rollup (roll_up) of the built-in `costs`: a batch of invocation chunks
// summed per (tenant, day) and (tenant, month), as before every cost upsert.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sinks/rollup_upsert.h"

namespace sentinel {
namespace {

/// `rows` invocation rows over `tenants` tenants (Zipf-like skew) and 30 days, in 256-row chunks,
/// with their `costs` rollup items as the chunk builder makes them.
std::vector<ChunkPtr> make_batch(const Catalog& catalog, int rows, int tenants) {
  std::mt19937_64 rng(7);
  std::vector<double> weights;
  for (int t = 1; t <= tenants; ++t) weights.push_back(1.0 / t);
  std::discrete_distribution<int> tenant(weights.begin(), weights.end());
  std::uniform_int_distribution<int> day(20'400, 20'430);
  const int type = catalog.index_of("invocation");
  std::vector<ChunkPtr> chunks;
  for (int r = 0; r < rows; ++r) {
    if (r % 256 == 0) {
      chunks.push_back(std::make_unique<Chunk>());
      chunks.back()->type = type;
    }
    Chunk& c = *chunks.back();
    const std::string name = "tenant-" + std::to_string(tenant(rng));
    const std::string_view key = name;
    RollupItem item;
    item.keys_begin = static_cast<uint32_t>(c.arena.size());
    append_key_value(c.arena, &key);
    item.keys_size = static_cast<uint32_t>(c.arena.size() - item.keys_begin);
    item.unix_day = day(rng);
    item.sums_begin = static_cast<uint32_t>(c.rollup_sums.size());
    c.rollup_sums.insert(c.rollup_sums.end(), {1'234'567, 812, 233});  // cost, prompt, completion
    RowRef row;
    row.rollup_index = static_cast<int32_t>(c.rollups.size());
    c.rollups.push_back(item);
    c.rows.push_back(row);
  }
  return chunks;
}

void BM_CostRollup(benchmark::State& state) {
  const auto rows = static_cast<int>(state.range(0));
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  const std::vector<ChunkPtr> owned = make_batch(*catalog, rows, static_cast<int>(state.range(1)));
  std::vector<Chunk*> chunks;
  for (const auto& c : owned) chunks.push_back(c.get());
  const std::set<std::pair<uint32_t, uint32_t>> none;
  size_t keys = 0;
  for (auto _ : state) {
    const std::vector<RollupDeltas> deltas = roll_up(*catalog, chunks, none);
    keys = deltas.empty() ? 0 : deltas[0].lines.size();
    benchmark::DoNotOptimize(keys);
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_CostRollup)->Args({25'000, 200})->Args({25'000, 10'000});

}  // namespace
}  // namespace sentinel
