// The JSON pieces SchemaGenerator builds events from: drafts, string escapes, lengths in code
// points, exact decimals.
#include "testkit/json_draft.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <set>
#include <string>

namespace sentinel {
namespace {

TEST(JsonDraft, NestedPathsShareTheirObjectAndMembersCanBeReplacedRemovedOrDoubled) {
  JsonDraft d;
  d.set({"id"}, "1");
  d.set({"usage", "prompt_tokens"}, "10");
  d.set({"usage", "completion_tokens"}, "20");
  d.set({"id"}, "2");
  EXPECT_EQ(d.render(), R"({"id":2,"usage":{"prompt_tokens":10,"completion_tokens":20}})");
  ASSERT_NE(d.get({"usage", "completion_tokens"}), nullptr);
  EXPECT_EQ(*d.get({"usage", "completion_tokens"}), "20");
  EXPECT_EQ(d.get({"usage"}), nullptr);  // an object, not a raw value
  EXPECT_TRUE(d.remove({"usage", "prompt_tokens"}));
  EXPECT_FALSE(d.remove({"usage", "prompt_tokens"}));
  d.append("id", "3");
  EXPECT_EQ(d.render(), R"({"id":2,"usage":{"completion_tokens":20},"id":3})");
}

TEST(JsonDraft, StringsAreEscapedAndBeyondAsciiOptionallyAsUnicodeEscapes) {
  EXPECT_EQ(json_string("say \"hi\"\\\n", false), R"("say \"hi\"\\\u000a")");
  EXPECT_EQ(json_string("café 🚀", false), "\"café 🚀\"");
  EXPECT_EQ(json_string("café 🚀", true), R"("caf\u00e9 \ud83d\ude80")");
}

TEST(JsonDraft, LengthsAreCountedAndFittedInCodePoints) {
  EXPECT_EQ(code_points("zürich 日本"), 9);
  EXPECT_EQ(fit_length("zürich", 0, 2), "zü");
  EXPECT_EQ(fit_length("ab", 5, 8), "ab-ab");
  EXPECT_EQ(fit_length("", 3, -1), "abc");
  EXPECT_EQ(fit_length("日本", 3, 3), "日本-");
}

TEST(JsonDraft, DecimalsAreExactAtTheirScaleInEverySpelling) {
  EXPECT_EQ(decimal_text(1234, 4), "0.1234");
  EXPECT_EQ(decimal_text(-500, 4), "-0.0500");
  EXPECT_EQ(decimal_text(12, 0), "12");
  EXPECT_EQ(decimal_text(std::numeric_limits<int64_t>::min(), 9), "-9223372036.854775808");
  EXPECT_EQ(nanos_to_units(123'456'789, 4), 1234);
  EXPECT_EQ(nanos_to_units(5, 12), 5000);
  EXPECT_EQ(units_below_precision(6), 999'999);
  EXPECT_EQ(saturating_scale(10'000, 18), std::numeric_limits<int64_t>::max());
  std::mt19937_64 rng(2);
  std::set<std::string> spellings;
  for (int i = 0; i < 200; ++i) spellings.insert(numeric_json(2500, 4, true, true, rng));
  EXPECT_EQ(spellings, (std::set<std::string>{"0.2500", "0.25", "2500e-4", "\"0.2500\""}));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(numeric_json(2500, 4, true, false, rng), "\"0.2500\"");
  for (int i = 0; i < 50; ++i) EXPECT_NE(numeric_json(2500, 4, false, true, rng)[0], '"');
}

TEST(JsonDraft, LogUniformStaysInItsRangeAndSpreadsOverMagnitudes) {
  std::mt19937_64 rng(3);
  int below_100 = 0, above_100k = 0;
  for (int i = 0; i < 6000; ++i) {
    const int64_t v = log_uniform(rng, 0, 1'000'000);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 1'000'000);
    below_100 += v < 100 ? 1 : 0;
    above_100k += v >= 100'000 ? 1 : 0;
  }
  EXPECT_GT(below_100, 1000);
  EXPECT_GT(above_100k, 500);
  EXPECT_EQ(log_uniform(rng, 7, 7), 7);
  const int64_t extreme =
      log_uniform(rng, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  (void)extreme;  // the whole range: no overflow (UBSan in the dev preset)
}

}  // namespace
}  // namespace sentinel
