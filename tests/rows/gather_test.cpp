#include "rows/gather.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace sentinel {
namespace {

/// Three chunks whose rows are the strings "c<chunk>r<row>|", of varied lengths.
struct Batch {
  std::vector<std::unique_ptr<Chunk>> owned;
  std::vector<Chunk*> chunks;
};

Batch make_batch() {
  Batch b;
  for (int c = 0; c < 3; ++c) {
    b.owned.push_back(std::make_unique<Chunk>());
    Chunk& chunk = *b.owned.back();
    for (int r = 0; r < 40; ++r) {
      RowRef row;
      row.tuple_begin = static_cast<uint32_t>(chunk.tuples.size());
      chunk.tuples.append(fmt::format("c{}r{}{:.<{}}|", c, r, "", r % 7));
      row.tuple_end = static_cast<uint32_t>(chunk.tuples.size());
      chunk.rows.push_back(row);
    }
    b.chunks.push_back(&chunk);
  }
  return b;
}

TEST(GatherTuples, SendsEveryRowOnceInTheGivenOrderWhateverThePrefetch) {
  const Batch b = make_batch();
  // An order that jumps between chunks, as index order does, including each chunk's last row.
  std::vector<RowPos> order;
  std::string expected;
  for (uint32_t r = 40; r-- > 0;) {
    for (uint32_t c : {2u, 0u, 1u}) {
      order.push_back({c, r});
      expected += std::string(b.chunks[c]->tuple(b.chunks[c]->rows[r]));
    }
  }
  for (size_t ahead : {0, 1, 8, 500}) {
    for (size_t piece : {1, 37, 1 << 20}) {
      std::string sent, out;
      size_t flushes = 0;
      gather_tuples(b.chunks, order, ahead, piece, out, [&](std::string_view p) {
        EXPECT_GE(p.size(), piece);
        sent += p;
        ++flushes;
      });
      EXPECT_LT(out.size(), piece);
      EXPECT_EQ(sent + out, expected) << "prefetch " << ahead << ", piece " << piece;
      if (piece == 1) {
        EXPECT_EQ(flushes, order.size());
      }
    }
  }
}

TEST(GatherTuples, NoRowsSendNothing) {
  const Batch b = make_batch();
  std::string out;
  bool flushed = false;
  gather_tuples(b.chunks, std::span<const RowPos>(), 8, 1, out,
                [&](std::string_view) { flushed = true; });
  EXPECT_FALSE(flushed);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sentinel
