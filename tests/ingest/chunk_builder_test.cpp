#include "ingest/chunk_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentinel {
namespace {

constexpr int64_t kNow = 1'790'000'000'000'000;

ChunkBuilder builder() {
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  return ChunkBuilder(catalog, {{"sentinel.audit", catalog->index_of("audit")}}, ParserLimits{},
                      256 << 10);
}

/// Adds a message whose content does not matter here (it becomes a reject).
void add(ChunkBuilder& b, int32_t partition, int64_t offset) {
  b.add(0, partition, offset, -1, "{}", kNow);
}

/// One valid message of each built-in event type, by name. A type added to the built-in catalog
/// without a sample here fails EveryEventTypeIsParsedIntoAChunkOfItsOwnTable.
const std::map<std::string, std::string_view> kSamples = {
    {"audit", R"({"event_id":"b7d943f8-c429-4bf5-b3cd-554079c71e4f","ts":1790000000000,)"
              R"("tenant_id":"acme","action":"auth.login","outcome":"success"})"},
    {"invocation", R"({"invocation_id":"d121763d-3862-46fe-8f75-586e23ce8890","ts":1790000000000,)"
                   R"("tenant_id":"acme","provider":"openai","model":"gpt-4o","prompt_tokens":10,)"
                   R"("completion_tokens":5,"status":"ok","cost_usd":"0.5"})"},
};

TEST(ChunkBuilder, EveryEventTypeIsParsedIntoAChunkOfItsOwnTable) {
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  std::vector<TopicSpec> topics;
  for (size_t t = 0; t < catalog->size(); ++t) {
    topics.push_back({"sentinel." + (*catalog)[t].table, static_cast<int>(t)});
  }
  ChunkBuilder b(catalog, topics, ParserLimits{}, 256 << 10);
  for (size_t t = 0; t < catalog->size(); ++t) {
    const auto sample = kSamples.find((*catalog)[t].name);
    ASSERT_NE(sample, kSamples.end()) << "no sample message for " << (*catalog)[t].name;
    const int topic = static_cast<int>(t);
    b.open(topic, 0, Chunk::kNoStoredOffset, 1);
    b.add(topic, 0, 0, -1, sample->second, kNow);
  }
  std::vector<ChunkPtr> out;
  b.flush(out);
  ASSERT_EQ(out.size(), catalog->size());
  for (const ChunkPtr& c : out) {
    EXPECT_EQ(c->type, topics[c->topic_index].type);
    const EventType& type = (*catalog)[static_cast<size_t>(c->type)];
    EXPECT_EQ(c->reject_count, 0u) << type.name;
    ASSERT_EQ(c->rows.size(), 1u) << type.name;
    // A binary COPY tuple starts with its field count (int16, network order).
    const std::string_view tuple = c->tuple(c->rows[0]);
    ASSERT_GE(tuple.size(), 2u);
    EXPECT_EQ(static_cast<uint8_t>(tuple[0]) << 8 | static_cast<uint8_t>(tuple[1]),
              type.field_count())
        << type.name;
    // One rollup item per rollup of its type.
    EXPECT_EQ(c->rollups.size(), type.rollups.size()) << type.name;
    EXPECT_EQ(c->rows[0].rollup_index, type.rollups.empty() ? -1 : 0) << type.name;
  }
}

/// The values of a packed key, missing ones as "NULL".
std::vector<std::string> key_values(std::string_view packed) {
  std::vector<std::string> out;
  KeyValue v;
  while (next_key_value(packed, v)) out.emplace_back(v.missing ? "NULL" : v.text);
  return out;
}

TEST(ChunkBuilder, EachRowCarriesItsRollupKeysDayAndSumsFromTheCatalog) {
  // The catalog's third type (architecture.md §9): key (tenant_id, verdict), sum of score
  // numeric(6,4).
  const std::shared_ptr<const Catalog> catalog = load_catalog(SENTINEL_TEST_DATA_DIR "/catalog");
  const int guardrail = catalog->index_of("guardrail");
  const int invocation = catalog->index_of("invocation");
  ChunkBuilder b(catalog, {{"g", guardrail}, {"i", invocation}}, ParserLimits{}, 256 << 10);
  b.open(0, 0, Chunk::kNoStoredOffset, 1);
  b.open(1, 0, Chunk::kNoStoredOffset, 1);
  b.add(0, 0, 0, -1,
        R"({"decision_id":"B7D943F8-C429-4BF5-B3CD-554079C71E4F","ts":"2026-09-20T23:59:59.5Z",)"
        R"("tenant_id":"acme","verdict":"block","score":0.25})",
        kNow);
  b.add(0, 0, 1, -1,
        R"({"decision_id":"b7d943f8-c429-4bf5-b3cd-554079c71e50","ts":"2026-09-21T00:00:00Z",)"
        R"("tenant_id":"acme","verdict":"allow"})",
        kNow);
  b.add(1, 0, 0, -1, kSamples.at("invocation"), kNow);
  std::vector<ChunkPtr> out;
  b.flush(out);
  ASSERT_EQ(out.size(), 2u);
  const Chunk& g = *out[out[0]->type == guardrail ? 0 : 1];
  const Chunk& i = *out[out[0]->type == guardrail ? 1 : 0];
  ASSERT_EQ(g.rows.size(), 2u);
  ASSERT_EQ(g.rollups.size(), 2u);
  const RollupItem& first = g.rollups[static_cast<size_t>(g.rows[0].rollup_index)];
  EXPECT_EQ(key_values(g.keys(first)), (std::vector<std::string>{"acme", "block"}));
  EXPECT_EQ(first.unix_day, 20'716);  // 2026-09-20, UTC
  EXPECT_EQ(g.rollup_sums[first.sums_begin], 2'500) << "0.25 at scale 4";
  const RollupItem& second = g.rollups[static_cast<size_t>(g.rows[1].rollup_index)];
  EXPECT_EQ(key_values(g.keys(second)), (std::vector<std::string>{"acme", "allow"}));
  EXPECT_EQ(second.unix_day, 20'717);
  EXPECT_EQ(g.rollup_sums[second.sums_begin], 0) << "no score adds nothing (still counted)";
  // The built-in `costs`: key tenant_id; sums cost_usd (nano-dollars), prompt and completion.
  ASSERT_EQ(i.rollups.size(), 1u);
  EXPECT_EQ(key_values(i.keys(i.rollups[0])), (std::vector<std::string>{"acme"}));
  const Rollup& costs = (*catalog)[static_cast<size_t>(invocation)].rollups[0];
  std::map<std::string, int64_t> sums;
  for (size_t s = 0; s < costs.sums.size(); ++s) {
    sums[costs.sums[s].first] = i.rollup_sums[i.rollups[0].sums_begin + s];
  }
  EXPECT_EQ(sums, (std::map<std::string, int64_t>{
                      {"completion_tokens", 5}, {"cost_usd", 500'000'000}, {"prompt_tokens", 10}}));
}

TEST(ChunkBuilder, APartitionWithNothingStoredThatStartsPastZeroIsReportedOnce) {
  ChunkBuilder b = builder();
  b.open(0, 3, Chunk::kNoStoredOffset, 1);
  add(b, 3, 1042);
  add(b, 3, 1043);
  const auto late = b.take_late_starts();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].topic_index, 0);
  EXPECT_EQ(late[0].partition, 3);
  EXPECT_EQ(late[0].offset, 1042);
  EXPECT_TRUE(b.take_late_starts().empty()) << "reported once";
  EXPECT_EQ(b.offsets_skipped_by_kafka(), 0u) << "before the first message is not a gap";
}

TEST(ChunkBuilder, StartsAtZeroOrAtTheStoredOffsetAreNotLate) {
  ChunkBuilder b = builder();
  b.open(0, 0, Chunk::kNoStoredOffset, 1);
  b.open(0, 1, 500, 2);
  add(b, 0, 0);
  add(b, 1, 500);
  EXPECT_TRUE(b.take_late_starts().empty());
}

TEST(ChunkBuilder, GapsAfterTheStartAreCountedAsSkippedAndRepeatsAsDuplicates) {
  ChunkBuilder b = builder();
  b.open(0, 2, 100, 1);
  add(b, 2, 100);
  add(b, 2, 104);  // 101..103 never delivered
  add(b, 2, 104);  // delivered twice
  add(b, 2, 90);   // below the stored offset
  EXPECT_EQ(b.offsets_skipped_by_kafka(), 3u);
  EXPECT_EQ(b.duplicates_skipped(), 2u);
  EXPECT_TRUE(b.take_late_starts().empty());
  std::vector<ChunkPtr> out;
  b.flush(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->from_offset, 100);
  EXPECT_EQ(out[0]->next_offset, 105);
  EXPECT_EQ(out[0]->messages, 2u);
}

// A partition opened at its stored offset S whose first message is above S (a seek that failed
// and was only logged: librdkafka still fetching from wherever it was) used to be taken as a
// Kafka gap: the chunk claimed S.., the compare-and-set at S matched, and the offsets in between
// were committed as done without ever being read.
TEST(ChunkBuilder, FirstMessagePastTheStoredOffsetIsRefusedNotCommittedOverAsAGap) {
  ChunkBuilder b = builder();
  b.open(0, 2, 100, 1);
  add(b, 2, 5000);  // the fetch position was elsewhere
  add(b, 2, 5001);
  std::vector<ChunkPtr> out;
  b.flush(out);
  EXPECT_TRUE(out.empty()) << "a chunk from 100 holding offset 5000 would skip 100..4999";
  EXPECT_EQ(b.offsets_skipped_by_kafka(), 0u);
  const auto refused = b.take_refused_starts();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].partition, 2);
  EXPECT_EQ(refused[0].expected, 100);
  EXPECT_EQ(refused[0].offset, 5000);
  // Opened again (after a new seek to 100), the right first message is taken.
  b.open(0, 2, 100, 2);
  add(b, 2, 100);
  add(b, 2, 101);
  b.flush(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->from_offset, 100);
  EXPECT_EQ(out[0]->next_offset, 102);
  EXPECT_TRUE(b.take_refused_starts().empty());
}

TEST(ChunkBuilder, GapAtTheStoredOffsetIsTakenOnceASeekThereConfirmedIt) {
  ChunkBuilder b = builder();
  // Sought to 100 and Kafka answered with 130 again: 100..129 are gone (retention) or markers.
  b.open(0, 2, 100, 3, /*gap_confirmed=*/true);
  add(b, 2, 130);
  std::vector<ChunkPtr> out;
  b.flush(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->from_offset, 100);
  EXPECT_EQ(out[0]->next_offset, 131);
  EXPECT_EQ(b.offsets_skipped_by_kafka(), 30u);
  EXPECT_TRUE(b.take_refused_starts().empty());
}

}  // namespace
}  // namespace sentinel
