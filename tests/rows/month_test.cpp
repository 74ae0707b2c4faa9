#include "rows/month.h"

#include <gtest/gtest.h>

#include <chrono>

#include "rows/chunk.h"

namespace sentinel {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

TEST(Month, IndexIsYearTimesTwelvePlusMonthMinusOne) {
  EXPECT_EQ(make_month(2026, 11), 2026 * 12 + 10);
  EXPECT_EQ(month_year(make_month(2026, 11)), 2026);
  EXPECT_EQ(month_of_year(make_month(2026, 11)), 11);
  EXPECT_EQ(make_month(2026, 12) + 1, make_month(2027, 1));
  EXPECT_EQ(month_of_year(make_month(2027, 1)), 1);
}

TEST(Month, AgreesWithTheChunkMonthOfEveryRow) {
  // 2026-11-30T23:59:59.999999Z and 2026-12-01T00:00:00Z.
  EXPECT_EQ(month_of_unix_micros(1'796'083'199'999'999), make_month(2026, 11));
  EXPECT_EQ(month_of_unix_micros(1'796'083'200'000'000), make_month(2026, 12));
  EXPECT_EQ(month_of_unix_micros(-1), make_month(1969, 12));
}

TEST(Month, PartitionNameAndStartText) {
  EXPECT_EQ(partition_name("audit_logs", make_month(2026, 11)), "audit_logs_2026_11");
  EXPECT_EQ(partition_name("invocations", make_month(2027, 1)), "invocations_2027_01");
  EXPECT_EQ(month_start_text(make_month(2026, 11)), "2026-11-01");
  EXPECT_EQ(month_start_text(make_month(2000, 1)), "2000-01-01");
  EXPECT_EQ(month_text(make_month(2026, 2)), "2026-02");
}

TEST(Month, CurrentMonthIsUtc) {
  const auto last_micro = sys_days{std::chrono::November / 30 / 2026} + 24h - 1us;
  EXPECT_EQ(current_month(last_micro), make_month(2026, 11));
  EXPECT_EQ(current_month(last_micro + 1us), make_month(2026, 12));
  EXPECT_EQ(current_month(sys_days{std::chrono::January / 1 / 2027}), make_month(2027, 1));
}

TEST(Month, ParseMonthRoundTrips) {
  EXPECT_EQ(parse_month("2026-11"), make_month(2026, 11));
  EXPECT_EQ(parse_month("1999-01"), make_month(1999, 1));
  for (int32_t m = make_month(2020, 1); m < make_month(2030, 1); ++m) {
    EXPECT_EQ(parse_month(month_text(m)), m);
  }
}

TEST(Month, ParseMonthRefusesAnythingElse) {
  for (const char* bad : {"", "2026", "2026-1", "2026-13", "2026-00", "2026/11", "2026-11-01",
                          " 2026-11", "0999-12", "20a6-11", "2026-+1"}) {
    EXPECT_EQ(parse_month(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace sentinel
