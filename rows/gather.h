#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "rows/chunk.h"

namespace sentinel {

/// A row of a batch: its chunk's index in the batch and its index in that chunk's rows.
struct RowPos {
  uint32_t chunk;
  uint32_t row;
};

/// Appends the COPY tuples of `rows`, in that order, to `out`; each time `out` holds `piece`
/// bytes or more it is passed to `flush` and cleared. What is left at the end stays in `out`.
///
/// In index order (tenant_id, ts) consecutive rows lie anywhere in the batch's chunks, so each
/// copy would wait for memory: the first bytes of the tuple `prefetch_ahead` rows on are asked
/// for first (0: none). bench/gather_bench.cpp measures both.
template <typename Flush>
void gather_tuples(std::span<Chunk* const> chunks, std::span<const RowPos> rows,
                   size_t prefetch_ahead, size_t piece, std::string& out, Flush&& flush) {
  constexpr size_t kPrefetchBytes = 512;
  constexpr size_t kCacheLine = 64;
  for (size_t i = 0; i < rows.size(); ++i) {
    // Two steps: the row's RowRef twice as far ahead (reading it there would wait for memory
    // too), then its tuple, whose place that RowRef gives.
    if (prefetch_ahead > 0 && i + 2 * prefetch_ahead < rows.size()) {
      const RowPos& far = rows[i + 2 * prefetch_ahead];
      __builtin_prefetch(chunks[far.chunk]->rows.data() + far.row);
    }
    if (prefetch_ahead > 0 && i + prefetch_ahead < rows.size()) {
      const RowPos& ahead = rows[i + prefetch_ahead];
      const Chunk& c = *chunks[ahead.chunk];
      const std::string_view t = c.tuple(c.rows[ahead.row]);
      for (size_t at = 0; at < std::min(t.size(), kPrefetchBytes); at += kCacheLine) {
        __builtin_prefetch(t.data() + at);
      }
    }
    const Chunk& c = *chunks[rows[i].chunk];
    out.append(c.tuple(c.rows[rows[i].row]));
    if (out.size() >= piece) {
      flush(std::string_view(out));
      out.clear();
    }
  }
}

}  // namespace sentinel
