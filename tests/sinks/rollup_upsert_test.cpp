// The rollups of a batch without a database: what roll_up sums and in which order, and the
// arithmetic that decides whether a sum still fits its column.
#include "sinks/rollup_upsert.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace sentinel {
namespace {

constexpr int32_t kNov24 = 20'781;  // 2026-11-24 in days since 1970-01-01
constexpr int32_t kDec4 = kNov24 + 10;

const std::shared_ptr<const Catalog>& catalog() {
  static const std::shared_ptr<const Catalog> c = load_catalog(SENTINEL_TEST_DATA_DIR "/catalog");
  return c;
}

/// Adds a row of the guardrail type with its one rollup item (key tenant, verdict; sum score).
void add_row(Chunk& c, std::string_view tenant, std::string_view verdict, int32_t day,
             int64_t score) {
  RowRef row;
  row.rollup_index = static_cast<int32_t>(c.rollups.size());
  RollupItem item;
  item.unix_day = day;
  item.keys_begin = static_cast<uint32_t>(c.arena.size());
  append_key_value(c.arena, &tenant);
  append_key_value(c.arena, &verdict);
  item.keys_size = static_cast<uint32_t>(c.arena.size() - item.keys_begin);
  item.sums_begin = static_cast<uint32_t>(c.rollup_sums.size());
  c.rollup_sums.push_back(score);
  c.rollups.push_back(item);
  c.rows.push_back(row);
}

/// "tenant verdict period start count sum" per line.
std::vector<std::string> lines_text(const RollupDeltas& d) {
  std::vector<std::string> out;
  for (const RollupLine& line : d.lines) {
    std::string keys;
    std::string_view packed = line.keys;
    KeyValue v;
    while (next_key_value(packed, v)) keys += std::string(v.missing ? "NULL" : v.text) + " ";
    out.push_back(keys + std::string(line.period()) + " " + date_text(line.period_start) + " " +
                  std::to_string(line.count) + " " + decimal_text(line.sums.at(0), 4));
  }
  return out;
}

TEST(RollUp, SumsEachKeyPerDayAndMonthInKeyOrderWithoutRefusedRows) {
  Chunk a;
  a.type = catalog()->index_of("guardrail");
  add_row(a, "zeta", "block", kNov24, 5'000);
  add_row(a, "acme", "redact", kNov24, 1);
  add_row(a, "acme", "allow", kDec4, 2'500);
  add_row(a, "acme", "allow", kNov24, 10'000);
  Chunk b = a;  // the same rows again, from another partition
  const std::vector<Chunk*> chunks = {&a, &b};
  // Row 0 of chunk 1 (zeta) was refused by PostgreSQL: only chunk 0's zeta counts.
  const std::vector<RollupDeltas> deltas = roll_up(*catalog(), chunks, {{1, 0}});
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].rollup->table, "guardrail_daily");
  EXPECT_EQ(lines_text(deltas[0]), (std::vector<std::string>{
                                       "acme allow day 2026-11-24 2 2.0000",
                                       "acme allow day 2026-12-04 2 0.5000",
                                       "acme allow month 2026-11-01 2 2.0000",
                                       "acme allow month 2026-12-01 2 0.5000",
                                       "acme redact day 2026-11-24 2 0.0002",
                                       "acme redact month 2026-11-01 2 0.0002",
                                       "zeta block day 2026-11-24 1 0.5000",
                                       "zeta block month 2026-11-01 1 0.5000",
                                   }));
}

TEST(RollUp, KeysOrderValueByValueNotByPackedBytes) {
  // Packed, "b" (length 1) would sort before "aa" (length 2) byte by byte; by value it is after.
  std::string aa;
  std::string b;
  const std::string_view vaa = "aa";
  const std::string_view vb = "b";
  append_key_value(aa, &vaa);
  append_key_value(b, &vb);
  EXPECT_TRUE(keys_less(aa, b));
  EXPECT_FALSE(keys_less(b, aa));
  std::string missing;
  append_key_value(missing, nullptr);
  EXPECT_TRUE(keys_less(missing, aa));
}

TEST(RollUp, AColumnsLimitIsInThePropertysUnits) {
  // costs.cost_usd numeric(20,9), summed in nano-dollars: 99 999 999 999.999999999.
  const int numeric_20_9 = ((20 << 16) | 9) + 4;
  EXPECT_EQ(short_decimal_text(column_max_units("numeric", numeric_20_9, 9), 9),
            "99999999999.999999999");
  // numeric(5,4) summed at scale 4 holds 9.9999; at scale 2, 9.99.
  const int numeric_5_4 = ((5 << 16) | 4) + 4;
  EXPECT_EQ(column_max_units("numeric", numeric_5_4, 4), 99'999);
  EXPECT_EQ(column_max_units("numeric", numeric_5_4, 2), 999);
  EXPECT_EQ(column_max_units("bigint", -1, 0), INT64_MAX);
  EXPECT_EQ(column_max_units("numeric", -1, 4), -1) << "numeric without a typmod is unbounded";
  EXPECT_EQ(parse_units("12.34567", 4), 123'456) << "digits past the scale are dropped";
  EXPECT_EQ(parse_units("-3", 2), -300);
}

}  // namespace
}  // namespace sentinel
