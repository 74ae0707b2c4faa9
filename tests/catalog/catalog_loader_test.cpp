// The catalog loader (DESIGN §8): the built-in types describe exactly the tables of §3, and a
// third type from a file loads into the model every layer reads.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "catalog/catalog.h"
#include "rows/tables.h"

namespace sentinel {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kGuardrailFile = SENTINEL_TEST_DATA_DIR "/catalog/guardrail.schema.json";

/// `columns` of rows/tables.h with the jsonb column `extra` before the lineage columns.
std::string with_extra(std::string_view columns) {
  std::string s(columns);
  s.insert(s.size() - kLineageColumns.size(), "extra, ");
  return s;
}

const Property& property(const EventType& t, std::string_view name) {
  const int i = t.property_index(name);
  EXPECT_GE(i, 0) << name;
  return t.properties.at(static_cast<size_t>(i < 0 ? 0 : i));
}

TEST(CatalogLoader, TheBuiltInTypesLoadInOrder) {
  const auto catalog = load_catalog();
  ASSERT_EQ(catalog->size(), 2U);
  EXPECT_EQ((*catalog)[0].name, "audit");
  EXPECT_EQ((*catalog)[1].name, "invocation");
  for (const EventType& t : catalog->types()) {
    EXPECT_TRUE(t.built_in);
    EXPECT_EQ(t.source, "built-in");
    EXPECT_EQ(t.partition_by, "ts");
    EXPECT_EQ(t.unknown_fields, UnknownFields::kKeep);
    EXPECT_EQ(t.max_age_days, 400);
    EXPECT_EQ(t.max_future_days, 1);
    EXPECT_EQ(t.checksum.size(), 64U);
  }
}

TEST(CatalogLoader, TheBuiltInTypesHaveTheColumnsOfTheExistingTablesPlusExtra) {
  const auto catalog = load_catalog();
  const EventType& audit = *catalog->find("audit");
  const EventType& invocation = *catalog->find("invocation");
  EXPECT_EQ(audit.table, kAuditTable);
  EXPECT_EQ(invocation.table, kInvocationsTable);
  EXPECT_EQ(audit.copy_columns(), with_extra(kAuditColumns));
  EXPECT_EQ(invocation.copy_columns(), with_extra(kInvocationsColumns));
  EXPECT_EQ(audit.field_count(), kAuditFieldCount + 1);
  EXPECT_EQ(invocation.field_count(), kInvocationsFieldCount + 1);
  EXPECT_EQ(audit.topic, "sentinel.audit");
  EXPECT_EQ(invocation.topic, "sentinel.invocations");
  EXPECT_EQ(audit.indexes, (std::vector<std::vector<std::string>>{{"tenant_id", "ts"}}));
  EXPECT_TRUE(audit.rollups.empty());
}

TEST(CatalogLoader, TheInvocationTypeRollsUpExactlyCosts) {
  const auto catalog = load_catalog();
  const EventType& t = *catalog->find("invocation");
  ASSERT_EQ(t.rollups.size(), 1U);
  const Rollup& r = t.rollups[0];
  EXPECT_EQ(r.table, "costs");
  EXPECT_EQ(r.key, std::vector<std::string>{"tenant_id"});
  EXPECT_EQ(r.periods, (std::vector<std::string>{"day", "month"}));
  EXPECT_EQ(r.count, "invocations");
  EXPECT_EQ(r.sums, (std::vector<std::pair<std::string, std::string>>{
                        {"cost_usd", "cost_usd"},
                        {"prompt_tokens", "prompt_tokens"},
                        {"completion_tokens", "completion_tokens"}}));
}

TEST(CatalogLoader, TheBuiltInPropertiesMapToTheColumnTypesOfTheExistingTables) {
  const auto catalog = load_catalog();
  const EventType& inv = *catalog->find("invocation");
  const Property& cost = property(inv, "cost_usd");
  EXPECT_EQ(cost.type, ColumnType::kNumeric);
  EXPECT_EQ(cost.pg_type(), "numeric(20,9)");
  EXPECT_EQ(cost.minimum, 0);
  EXPECT_FALSE(cost.maximum.has_value());
  EXPECT_EQ(cost.json_types, kJsonNumber | kJsonString);
  EXPECT_TRUE(cost.required);
  EXPECT_EQ(property(inv, "invocation_id").type, ColumnType::kUuid);
  EXPECT_EQ(property(inv, "ts").type, ColumnType::kTimestamptz);
  EXPECT_EQ(property(inv, "ts").json_types, kJsonString | kJsonInteger);
  EXPECT_EQ(property(inv, "prompt_tokens").type, ColumnType::kInt4);
  EXPECT_EQ(property(inv, "prompt_tokens").maximum, 2147483647);
  EXPECT_EQ(property(inv, "metadata").type, ColumnType::kJsonb);
  EXPECT_FALSE(property(inv, "user_id").required);
  const EventType& audit = *catalog->find("audit");
  EXPECT_EQ(property(audit, "source_ip").type, ColumnType::kInet);
  EXPECT_EQ(property(audit, "outcome").enum_values,
            (std::vector<std::string>{"success", "failure", "denied"}));
  EXPECT_EQ(property(audit, "tenant_id").min_length, 1);
  EXPECT_EQ(property(audit, "tenant_id").max_length, 128);
  EXPECT_EQ(audit.title, "Security audit event");
}

TEST(CatalogLoader, TheGuardrailExampleOfTheDesignLoads) {
  const EventType t = load_event_type(read_text(kGuardrailFile), kGuardrailFile);
  EXPECT_EQ(t.name, "guardrail");
  EXPECT_EQ(t.topic, "sentinel.guardrails");
  EXPECT_EQ(t.table, "guardrail_events");
  EXPECT_EQ(t.title, "Guardrail decision");
  EXPECT_EQ(t.source, kGuardrailFile);
  EXPECT_EQ(t.copy_columns(),
            "decision_id, ts, tenant_id, verdict, score, prompt_tokens, client_ip, flagged, "
            "categories, extra, kafka_partition, kafka_offset");
  const Property& score = property(t, "score");
  EXPECT_EQ(score.type, ColumnType::kNumeric);
  EXPECT_EQ(score.numeric_precision, 6);
  EXPECT_EQ(score.numeric_scale, 4);
  EXPECT_EQ(score.minimum, 0);
  EXPECT_EQ(score.maximum, 10000);  // 1 at scale 4
  EXPECT_FALSE(score.required);
  EXPECT_EQ(property(t, "prompt_tokens").path,
            (std::vector<std::string>{"usage", "prompt_tokens"}));
  EXPECT_EQ(property(t, "prompt_tokens").column, "prompt_tokens");
  EXPECT_EQ(property(t, "prompt_tokens").type, ColumnType::kInt4);
  EXPECT_EQ(property(t, "client_ip").type, ColumnType::kInet);
  EXPECT_EQ(property(t, "categories").type, ColumnType::kJsonb);
  EXPECT_EQ(property(t, "flagged").type, ColumnType::kBool);
  EXPECT_EQ(property(t, "decision_id").type, ColumnType::kUuid);
  EXPECT_EQ(property(t, "verdict").enum_values,
            (std::vector<std::string>{"allow", "block", "redact"}));
  ASSERT_EQ(t.rollups.size(), 1U);
  EXPECT_EQ(t.rollups[0].table, "guardrail_daily");
  EXPECT_EQ(t.rollups[0].key, (std::vector<std::string>{"tenant_id", "verdict"}));
  EXPECT_EQ(t.rollups[0].periods, (std::vector<std::string>{"day", "month"}));
  EXPECT_EQ(t.rollups[0].count, "decisions");
  EXPECT_EQ(t.rollups[0].sums,
            (std::vector<std::pair<std::string, std::string>>{{"score_total", "score"}}));
}

TEST(CatalogLoader, AFolderAddsItsTypesAfterTheBuiltInOnes) {
  const auto catalog = load_catalog(SENTINEL_TEST_DATA_DIR "/catalog");
  ASSERT_EQ(catalog->size(), 3U);
  EXPECT_EQ((*catalog)[2].name, "guardrail");
  EXPECT_FALSE((*catalog)[2].built_in);
  EXPECT_EQ(catalog->index_of("guardrail"), 2);
}

TEST(CatalogLoader, TheEffectiveSchemaLoadsBackToTheSameTypeAndChecksum) {
  const auto catalog = load_catalog(SENTINEL_TEST_DATA_DIR "/catalog");
  for (const EventType& t : catalog->types()) {
    const EventType again = load_event_type(t.document, "show.schema.json");
    EXPECT_EQ(again.document, t.document) << t.document;
    EXPECT_EQ(again.checksum, t.checksum);
    EXPECT_EQ(again.copy_columns(), t.copy_columns());
  }
}

}  // namespace
}  // namespace sentinel
