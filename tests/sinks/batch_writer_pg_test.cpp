// BatchWriter against a real PostgreSQL 15, through PgBouncer in transaction mode: one
// transaction per batch, compare-and-set offsets, bisection of refused rows, costs.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rows/copy_encoder.h"
#include "rows/month.h"
#include "rows/tables.h"
#include "sinks/batch_writer.h"
#include "sinks/migrator.h"
#include "tests/support/pg_helpers.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::TestDb;

const std::vector<std::string> kTopics = {"sentinel.audit", "sentinel.invocations"};

/// The built-in catalog: audit is type 0, invocation type 1 (topic indexes as kTopics).
const std::shared_ptr<const Catalog>& builtin() {
  static const std::shared_ptr<const Catalog> catalog = load_catalog();
  return catalog;
}
int16_t field_count(std::string_view type) { return builtin()->find(type)->field_count(); }
constexpr int64_t kNov24 = 1'795'478'400'000'000;  // 2026-11-24T00:00:00Z in unix micros

std::array<uint8_t, 16> uuid_for(int64_t n, uint8_t kind) {
  std::array<uint8_t, 16> id{};
  id[0] = kind;
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  id[6] = 0x40;
  return id;
}

/// Adds a row's item for each rollup of `type` to `c`, as the chunk builder does: the key values
/// and the summed values (in the property's units) by property name.
void add_rollup_items(Chunk& c, RowRef& row, const EventType& type, int64_t ts,
                      const std::map<std::string, std::string>& keys,
                      const std::map<std::string, int64_t>& values) {
  row.rollup_index = type.rollups.empty() ? -1 : static_cast<int32_t>(c.rollups.size());
  for (size_t r = 0; r < type.rollups.size(); ++r) {
    RollupItem item;
    item.rollup = static_cast<uint16_t>(r);
    item.ts_unix_micros = ts;
    item.unix_day = day_of_unix_micros(ts);
    item.keys_begin = static_cast<uint32_t>(c.arena.size());
    for (const std::string& key : type.rollups[r].key) {
      const std::string_view value = keys.at(key);
      append_key_value(c.arena, &value);
    }
    item.keys_size = static_cast<uint32_t>(c.arena.size() - item.keys_begin);
    item.sums_begin = static_cast<uint32_t>(c.rollup_sums.size());
    for (const auto& [column, property] : type.rollups[r].sums) {
      const auto it = values.find(property);
      c.rollup_sums.push_back(it == values.end() ? 0 : it->second);
    }
    c.rollups.push_back(item);
  }
}

/// A chunk of `n` audit rows for partition `partition`, Kafka offsets [first, first+n).
Chunk audit_chunk(int32_t partition, int64_t from, int64_t first, int n,
                  const std::vector<int>& evil_rows = {}) {
  Chunk c;
  c.topic_index = 0;
  c.type = builtin()->index_of("audit");
  c.partition = partition;
  c.from_offset = from;
  c.next_offset = first + n;
  CopyEncoder e(c.tuples);
  for (int i = 0; i < n; ++i) {
    const int64_t offset = first + i;
    const bool evil = std::find(evil_rows.begin(), evil_rows.end(), i) != evil_rows.end();
    RowRef row;
    row.tuple_begin = static_cast<uint32_t>(c.tuples.size());
    e.begin_row(field_count("audit"));
    e.uuid(uuid_for(offset + partition * 1'000'000, 1));
    e.timestamptz(kNov24 + offset);
    e.text("tenant-a");
    e.null();
    e.null();
    e.text(evil ? "evil.action" : "auth.login");
    e.null();
    e.text("success");
    e.null();
    e.null();
    e.null();
    e.null();
    e.null();  // extra
    e.int4(partition);
    e.int8(offset);
    row.tuple_end = static_cast<uint32_t>(c.tuples.size());
    row.kafka_offset = offset;
    row.month = month_of_unix_micros(kNov24);
    c.rows.push_back(row);
    ++c.messages;
  }
  return c;
}

struct Call {
  std::string tenant;
  int64_t ts;
  int64_t nanos;
  std::string model = "gpt-4o";
};

Chunk invocation_chunk(int32_t partition, int64_t from, const std::vector<Call>& calls) {
  Chunk c;
  c.topic_index = 1;
  c.type = builtin()->index_of("invocation");
  c.partition = partition;
  c.from_offset = from;
  const int64_t first = from < 0 ? 0 : from;
  c.next_offset = first + static_cast<int64_t>(calls.size());
  CopyEncoder e(c.tuples);
  for (size_t i = 0; i < calls.size(); ++i) {
    const Call& call = calls[i];
    const int64_t offset = first + static_cast<int64_t>(i);
    RowRef row;
    row.tuple_begin = static_cast<uint32_t>(c.tuples.size());
    e.begin_row(field_count("invocation"));
    e.uuid(uuid_for(offset + partition * 1'000'000, 2));
    e.timestamptz(call.ts);
    e.text(call.tenant);
    e.null();
    e.null();
    e.text("openai");
    e.text(call.model);
    e.int4(100);
    e.int4(10);
    e.null();
    e.text("ok");
    e.numeric_nanos(call.nanos);
    e.null();
    e.null();
    e.null();  // extra
    e.int4(partition);
    e.int8(offset);
    row.tuple_end = static_cast<uint32_t>(c.tuples.size());
    row.kafka_offset = offset;
    row.month = month_of_unix_micros(call.ts);
    add_rollup_items(c, row, *builtin()->find("invocation"), call.ts, {{"tenant_id", call.tenant}},
                     {{"cost_usd", call.nanos}, {"prompt_tokens", 100}, {"completion_tokens", 10}});
    c.rows.push_back(row);
    ++c.messages;
  }
  return c;
}

/// A chunk of a few rows of the built-in type `type`, Kafka offsets from 0. A type added to the
/// built-in catalog without a sample here fails ABatchWithRowsOfEveryEventTypeStoresThemAll.
Chunk sample_chunk(std::string_view type, int32_t partition) {
  if (type == "audit") return audit_chunk(partition, Chunk::kNoStoredOffset, 0, 3);
  if (type == "invocation") {
    return invocation_chunk(partition, Chunk::kNoStoredOffset,
                            {{"tenant-a", kNov24, 1000}, {"tenant-b", kNov24 + 1, 2000}});
  }
  ADD_FAILURE() << "no sample chunk for event type " << type;
  return Chunk{};
}

/// Kafka as the writer reads refused rows' payloads back: the payload of offset N is
/// {"offset":N}; `gone` offsets were deleted by retention; `down` means unreachable.
class FakeKafka : public PayloadSource {
 public:
  std::vector<std::optional<std::string>> payloads(std::span<const MessageId> ids) override {
    if (down) throw PayloadUnavailable("Kafka is down");
    std::vector<std::optional<std::string>> out;
    for (const MessageId& id : ids) {
      asked.push_back(id.offset);
      if (gone.contains(id.offset)) {
        out.push_back(std::nullopt);
      } else {
        out.push_back("{\"offset\":" + std::to_string(id.offset) + "}");
      }
    }
    return out;
  }
  bool down = false;
  std::set<int64_t> gone;
  std::vector<int64_t> asked;
};

/// The `extra` jsonb column of the built-in tables (architecture.md §9), made by hand until the
/// catalog's migration makes it.
void add_extra_columns(const TestDb& db) {
  for (const EventType& type : builtin()->types()) {
    if (type.unknown_fields != UnknownFields::kKeep) continue;
    db.query("ALTER TABLE public." + type.table + " ADD COLUMN IF NOT EXISTS " +
             std::string(kExtraColumn) + " jsonb");
  }
}

class BatchWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apply_migrations(db_.direct_url());
    add_extra_columns(db_);
  }
  BatchWriter writer() { return BatchWriter(db_.bouncer_url(), "g1", kTopics, builtin(), &kafka_); }
  std::string q(const std::string& sql) { return db_.query(sql); }

  TestDb db_;
  FakeKafka kafka_;
};

TEST_F(BatchWriterTest, CommitsRowsAndStoresTheNextOffset) {
  BatchWriter w = writer();
  Chunk c = audit_chunk(3, Chunk::kNoStoredOffset, 0, 5);
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  EXPECT_EQ(r.rows[0], 5u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "5");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets WHERE consumer_group = 'g1' AND "
              "topic = 'sentinel.audit' AND kafka_partition = 3"),
            "5");
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs_2026_11"), "5");
}

TEST_F(BatchWriterTest, ABatchWithRowsOfEveryEventTypeStoresThemAll) {
  // The offsets of every chunk are committed whatever its table: a table the writer did not
  // COPY would lose its rows for good. One topic per spec, in spec order.
  std::vector<std::string> topics;
  for (const EventType& type : builtin()->types()) topics.push_back("sentinel." + type.table);
  BatchWriter w(db_.bouncer_url(), "g1", topics, builtin(), &kafka_);
  std::vector<Chunk> chunks;
  for (const EventType& type : builtin()->types()) {
    chunks.push_back(sample_chunk(type.name, 2));
    chunks.back().topic_index = chunks.back().type;
    ASSERT_FALSE(chunks.back().rows.empty()) << type.name;
  }
  std::vector<Chunk*> batch;
  for (Chunk& c : chunks) batch.push_back(&c);
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  for (size_t t = 0; t < builtin()->size(); ++t) {
    const EventType& type = (*builtin())[t];
    const Chunk& c = chunks[t];
    const std::string rows = std::to_string(c.rows.size());
    EXPECT_EQ(r.rows[t], c.rows.size()) << type.name;
    EXPECT_EQ(q("SELECT count(*) FROM public." + type.table), rows) << type.name;
    EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets WHERE topic = '" + topics[c.topic_index] +
                "' AND kafka_partition = 2"),
              std::to_string(c.next_offset))
        << type.name;
  }
  EXPECT_EQ(q("SELECT count(*) FROM costs WHERE period = 'day'"), "2");
}

TEST_F(BatchWriterTest, ChainedChunksCommitAsOneRange) {
  BatchWriter w = writer();
  Chunk a = audit_chunk(0, Chunk::kNoStoredOffset, 0, 3);
  Chunk b = audit_chunk(0, 3, 3, 4);
  std::vector<Chunk*> batch = {&a, &b};
  w.write(batch);
  Chunk c = audit_chunk(0, 7, 7, 2);
  std::vector<Chunk*> next = {&c};
  w.write(next);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "9");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "9");
}

TEST_F(BatchWriterTest, ZombieWithTheSameRangeIsFencedAndCommitsNothing) {
  BatchWriter owner = writer();
  BatchWriter zombie = writer();
  Chunk first = audit_chunk(1, Chunk::kNoStoredOffset, 0, 4);
  std::vector<Chunk*> b1 = {&first};
  owner.write(b1);
  // The zombie still holds a batch built before it lost the partition.
  Chunk stale = audit_chunk(1, Chunk::kNoStoredOffset, 0, 4);
  std::vector<Chunk*> b2 = {&stale};
  const BatchResult r = zombie.write(b2);
  ASSERT_EQ(r.fenced.size(), 1u);
  EXPECT_EQ(r.fenced[0], std::make_pair(0, 1));
  EXPECT_EQ(r.rows[0], 0u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "4");
  // And once a stored offset exists, a stale expected value is fenced the same way.
  Chunk second = audit_chunk(1, 4, 4, 2);
  std::vector<Chunk*> b3 = {&second};
  owner.write(b3);
  Chunk stale2 = audit_chunk(1, 4, 4, 2);
  std::vector<Chunk*> b4 = {&stale2};
  EXPECT_EQ(zombie.write(b4).fenced.size(), 1u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "6");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "6");
}

TEST_F(BatchWriterTest, RetryAfterAnUnknownCommitOutcomeNeverDoubles) {
  BatchWriter w = writer();
  Chunk c = audit_chunk(2, Chunk::kNoStoredOffset, 0, 3);
  std::vector<Chunk*> batch = {&c};
  w.write(batch);
  // As if the COMMIT's answer was lost and the writer retried the same batch.
  const BatchResult again = w.write(batch);
  EXPECT_EQ(again.fenced.size(), 1u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "3");
}

TEST_F(BatchWriterTest, FencedPartitionIsLeftOutAndTheRestCommits) {
  BatchWriter w = writer();
  Chunk p0 = audit_chunk(0, Chunk::kNoStoredOffset, 0, 2);
  std::vector<Chunk*> first = {&p0};
  w.write(first);
  Chunk stale = audit_chunk(0, Chunk::kNoStoredOffset, 0, 2);
  Chunk fresh = audit_chunk(5, Chunk::kNoStoredOffset, 0, 3);
  std::vector<Chunk*> batch = {&stale, &fresh};
  const BatchResult r = w.write(batch);
  ASSERT_EQ(r.fenced.size(), 1u);
  EXPECT_EQ(r.rows[0], 3u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "5");
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs WHERE kafka_partition = 5"), "3");
}

TEST_F(BatchWriterTest, RowsPostgresRefusesAreBisectedIntoRejects) {
  q("ALTER TABLE audit_logs ADD CONSTRAINT no_evil CHECK (action <> 'evil.action')");
  BatchWriter w = writer();
  Chunk c = audit_chunk(0, Chunk::kNoStoredOffset, 0, 40, {3, 17, 39});
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[0], 37u);
  EXPECT_EQ(r.rejects[static_cast<int>(RejectReason::kDbRejected)], 3u);
  EXPECT_GT(r.bisections, 0u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "37");
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs WHERE action = 'evil.action'"), "0");
  EXPECT_EQ(q("SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM "
              "ingest_rejects WHERE reason = 'db_rejected'"),
            "3,17,39");
  EXPECT_EQ(q("SELECT convert_from(payload, 'UTF8') FROM ingest_rejects WHERE kafka_offset = 17"),
            "{\"offset\":17}");
  EXPECT_NE(q("SELECT detail FROM ingest_rejects WHERE kafka_offset = 3").find("no_evil"),
            std::string::npos);
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "40");
  // Only the refused rows' payloads were read back from Kafka.
  EXPECT_EQ(kafka_.asked, (std::vector<int64_t>{3, 17, 39}));
}

TEST_F(BatchWriterTest, ARefusedRowKafkaNoLongerHasIsStoredWithoutPayload) {
  q("ALTER TABLE audit_logs ADD CONSTRAINT no_evil CHECK (action <> 'evil.action')");
  kafka_.gone = {17};
  BatchWriter w = writer();
  Chunk c = audit_chunk(0, Chunk::kNoStoredOffset, 0, 20, {3, 17});
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[0], 18u);
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects WHERE reason = 'db_rejected'"), "2");
  EXPECT_EQ(q("SELECT payload IS NULL FROM ingest_rejects WHERE kafka_offset = 17"), "t");
  EXPECT_NE(q("SELECT detail FROM ingest_rejects WHERE kafka_offset = 17")
                .find("payload no longer in Kafka"),
            std::string::npos);
  EXPECT_EQ(q("SELECT convert_from(payload, 'UTF8') FROM ingest_rejects WHERE kafka_offset = 3"),
            "{\"offset\":3}");
}

TEST_F(BatchWriterTest, WhenKafkaCannotGiveRefusedPayloadsBackNothingIsCommitted) {
  q("ALTER TABLE audit_logs ADD CONSTRAINT no_evil CHECK (action <> 'evil.action')");
  kafka_.down = true;
  BatchWriter w = writer();
  Chunk c = audit_chunk(0, Chunk::kNoStoredOffset, 0, 10, {4});
  std::vector<Chunk*> batch = {&c};
  EXPECT_THROW(w.write(batch), PayloadUnavailable);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "0");
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects"), "0");
  EXPECT_EQ(q("SELECT count(*) FROM ingest_offsets"), "0");
  // Kafka is back: the same batch stores everything once.
  kafka_.down = false;
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[0], 9u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "9");
  EXPECT_EQ(q("SELECT convert_from(payload, 'UTF8') FROM ingest_rejects"), "{\"offset\":4}");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "10");
}

TEST_F(BatchWriterTest, CostsAreExactPerDayAndMonthAndSkipRefusedRows) {
  q("ALTER TABLE invocations ADD CONSTRAINT no_bad_model CHECK (model <> 'bad-model')");
  BatchWriter w = writer();
  const int64_t day = 86'400'000'000;
  const int64_t oct31 = kNov24 - 24 * day;
  Chunk c = invocation_chunk(0, Chunk::kNoStoredOffset,
                             {{"acme", kNov24, 1},
                              {"acme", kNov24 + 5, 999'999'999},
                              {"acme", kNov24 + day, 123'456'789'012},
                              {"acme", oct31, 7},
                              {"globex", kNov24, 5},
                              {"acme", kNov24, 1'000'000'000'000, "bad-model"}});
  std::vector<Chunk*> batch = {&c};
  w.write(batch);
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE tenant_id = 'acme' "
              "AND period = 'day' AND period_start = '2026-11-24'"),
            "1.000000000/2");
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations || '/' || prompt_tokens FROM costs "
              "WHERE tenant_id = 'acme' AND period = 'month' AND period_start = '2026-11-01'"),
            "124.456789012/3/300");
  EXPECT_EQ(q("SELECT cost_usd::text FROM costs WHERE tenant_id = 'acme' AND period = 'month' "
              "AND period_start = '2026-10-01'"),
            "0.000000007");
  EXPECT_EQ(q("SELECT count(*) FROM invocations_2026_10"), "1");
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects WHERE reason = 'db_rejected'"), "1");
  // A second batch adds to the same rows.
  Chunk more = invocation_chunk(0, 6, {{"globex", kNov24, 10}});
  std::vector<Chunk*> again = {&more};
  w.write(again);
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE tenant_id = 'globex' "
              "AND period = 'day'"),
            "0.000000015/2");
}

TEST_F(BatchWriterTest, ABatchIsStoredInIndexOrderEachTenantsRowsTogether) {
  // Kafka order interleaves tenants across partitions and times; the batch is stored sorted by
  // (tenant_id, ts), so each tenant's rows of the batch share heap pages and index leaves.
  BatchWriter w = writer();
  Chunk p0 = invocation_chunk(0, Chunk::kNoStoredOffset,
                              {{"globex", kNov24 + 3, 1},
                               {"acme", kNov24 + 2, 1},
                               {"globex", kNov24 + 1, 1},
                               {"acme", kNov24 + 4, 1}});
  Chunk p1 =
      invocation_chunk(1, Chunk::kNoStoredOffset,
                       {{"acme", kNov24 + 1, 1}, {"initech", kNov24, 1}, {"acme", kNov24 + 3, 1}});
  std::vector<Chunk*> batch = {&p0, &p1};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[1], 7u);
  EXPECT_EQ(q("SELECT string_agg(tenant_id || '+' || extract(microseconds FROM ts)::int || '@' || "
              "kafka_partition || ':' || kafka_offset, ' ' ORDER BY ctid) FROM invocations"),
            "acme+1@1:0 acme+2@0:1 acme+3@1:2 acme+4@0:3 globex+1@0:2 globex+3@0:0 initech+0@1:1");
  // Offsets and costs are as for any order.
  EXPECT_EQ(q("SELECT string_agg(kafka_partition || ':' || next_offset, ' ' ORDER BY "
              "kafka_partition) FROM ingest_offsets"),
            "0:4 1:3");
  EXPECT_EQ(q("SELECT invocations FROM costs WHERE tenant_id = 'acme' AND period = 'day'"), "4");
}

TEST_F(BatchWriterTest, ARefusedRowAmongSortedOnesIsStillTheOneRejected) {
  q("ALTER TABLE invocations ADD CONSTRAINT no_bad_model CHECK (model <> 'bad-model')");
  BatchWriter w = writer();
  Chunk p0 = invocation_chunk(
      0, Chunk::kNoStoredOffset,
      {{"globex", kNov24 + 3, 1}, {"acme", kNov24 + 9, 1, "bad-model"}, {"acme", kNov24 + 1, 1}});
  Chunk p1 = invocation_chunk(1, Chunk::kNoStoredOffset,
                              {{"acme", kNov24 + 5, 1}, {"globex", kNov24, 1, "bad-model"}});
  std::vector<Chunk*> batch = {&p0, &p1};
  w.write(batch);
  EXPECT_EQ(q("SELECT string_agg(kafka_partition || ':' || kafka_offset, ' ' ORDER BY "
              "kafka_partition, kafka_offset) FROM ingest_rejects"),
            "0:1 1:1");
  EXPECT_EQ(q("SELECT string_agg(tenant_id || '@' || kafka_partition || ':' || kafka_offset, ' ' "
              "ORDER BY ctid) FROM invocations"),
            "acme@0:2 acme@1:0 globex@0:0");
  EXPECT_EQ(q("SELECT invocations FROM costs WHERE tenant_id = 'acme' AND period = 'day'"), "2");
}

TEST_F(BatchWriterTest, MonthPartitionsAreCreatedOnDemand) {
  BatchWriter w = writer();
  const int64_t far = kNov24 - 200LL * 86'400'000'000;  // 2026-05-08
  Chunk c = invocation_chunk(0, Chunk::kNoStoredOffset, {{"acme", far, 1}});
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_GE(r.partitions_ensured, 1u);
  EXPECT_EQ(q("SELECT count(*) FROM invocations_2026_05"), "1");
}

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kDec4 = kNov24 + 10 * kDay;           // 2026-12-04T00:00:00Z
constexpr int64_t kPoison = 9'200'000'000'000'000'000;  // USD 9 200 000 000 in nano-dollars

TEST_F(BatchWriterTest, CostOverflowIsolatesThePoisonEventAndCommitsTheRest) {
  // Eleven invocations of USD 9.2e9 for one tenant and month do not fit in costs.cost_usd
  // (numeric(20,9), below 10^11): the cost upsert failed with 22003 on every retry and the
  // writer halted for good. Now the one that cannot be added is a db_rejected reject, not stored,
  // and everything else of the batch commits.
  BatchWriter w = writer();
  std::vector<Call> calls;
  calls.push_back({"t1", kDec4, 1'000'000'000});  // USD 1
  for (int i = 0; i < 11; ++i) {
    calls.push_back({"t1", kDec4 + 10 + i, kPoison});
    calls.push_back({"t2", kDec4 + 10 + i, 5});
  }
  calls.push_back({"t1", kDec4 + kDay, 2'500'000'000});  // USD 2.5, the next day
  Chunk c = invocation_chunk(0, Chunk::kNoStoredOffset, calls);
  Chunk audit = audit_chunk(1, Chunk::kNoStoredOffset, 0, 4);
  std::vector<Chunk*> batch = {&c, &audit};
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  EXPECT_EQ(r.rows[1], calls.size() - 1);
  EXPECT_EQ(r.rows[0], 4u);
  EXPECT_EQ(r.rejects[static_cast<int>(RejectReason::kDbRejected)], 1u);
  // The eleventh poison (offset 21, in time order) is the one that did not fit.
  EXPECT_EQ(q("SELECT string_agg(kafka_offset || ' ' || reason, ',') FROM ingest_rejects"),
            "21 db_rejected");
  const std::string detail = q("SELECT detail FROM ingest_rejects");
  EXPECT_NE(detail.find("cost_usd 9200000000 cannot be added to costs (tenant t1, month "
                        "2026-12-01): numeric field overflow"),
            std::string::npos)
      << detail;
  EXPECT_EQ(q("SELECT convert_from(payload, 'UTF8') FROM ingest_rejects"), "{\"offset\":21}");
  EXPECT_EQ(q("SELECT count(*) FROM invocations WHERE kafka_offset = 21"), "0");
  EXPECT_EQ(q("SELECT count(*) FROM invocations"), std::to_string(calls.size() - 1));
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "4");
  // costs sums exactly the stored invocations, per day and per month.
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE tenant_id = 't1' "
              "AND period = 'month' AND period_start = '2026-12-01'"),
            "92000000003.500000000/12");
  EXPECT_EQ(q("SELECT count(*) FROM costs c WHERE cost_usd <> (SELECT coalesce(sum(i.cost_usd), "
              "0) FROM invocations i WHERE i.tenant_id = c.tenant_id AND (CASE c.period WHEN "
              "'day' THEN date_trunc('day', i.ts AT TIME ZONE 'UTC') ELSE date_trunc('month', "
              "i.ts AT TIME ZONE 'UTC') END)::date = c.period_start) OR invocations <> (SELECT "
              "count(*) FROM invocations i WHERE i.tenant_id = c.tenant_id AND (CASE c.period "
              "WHEN 'day' THEN date_trunc('day', i.ts AT TIME ZONE 'UTC') ELSE "
              "date_trunc('month', i.ts AT TIME ZONE 'UTC') END)::date = c.period_start)"),
            "0");
  EXPECT_EQ(q("SELECT string_agg(topic || ':' || kafka_partition || ':' || next_offset, ' ' "
              "ORDER BY topic) FROM ingest_offsets"),
            "sentinel.audit:1:4 sentinel.invocations:0:" + std::to_string(calls.size()));
  // No permanent halt: the next batch for the same tenant and month commits too; its poison is
  // refused again, its normal events are stored.
  const int64_t next = static_cast<int64_t>(calls.size());
  Chunk more = invocation_chunk(
      0, next,
      {{"t1", kDec4 + 100, kPoison}, {"t1", kDec4 + 101, 3'000'000'000}, {"t3", kDec4, 7}});
  std::vector<Chunk*> again = {&more};
  const BatchResult r2 = w.write(again);
  EXPECT_EQ(r2.rows[1], 2u);
  EXPECT_EQ(r2.rejects[static_cast<int>(RejectReason::kDbRejected)], 1u);
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE tenant_id = 't1' "
              "AND period = 'month' AND period_start = '2026-12-01'"),
            "92000000006.500000000/13");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets WHERE topic = 'sentinel.invocations'"),
            std::to_string(next + 3));
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects"), "2");
}

TEST_F(BatchWriterTest, CommitReplyLostCountsTheBatchOnceAndBlamesNoOne) {
  // COMMIT landed but its reply was lost (the connection died while it ran). The retry of the
  // same batch used to be fenced by its own commit: its rows were never counted and the warning
  // blamed another instance. Now the writer finds its commit token and returns that commit's
  // result.
  BatchWriter w = writer();
  Chunk audit = audit_chunk(2, Chunk::kNoStoredOffset, 0, 30);
  Chunk inv = invocation_chunk(1, Chunk::kNoStoredOffset,
                               {{"acme", kNov24, 1'000'000'000}, {"acme", kNov24 + 1, 2}});
  std::vector<Chunk*> batch = {&audit, &inv};
  bool cut = false;
  w.set_after_commit_sent_for_testing([&](PGconn* conn) {
    if (cut) return;
    cut = true;
    // COMMIT is on its way to the server; the reply will never be read.
    ::shutdown(PQsocket(conn), SHUT_RDWR);
  });
  try {
    w.write(batch);
    FAIL() << "the lost reply must surface as an error";
  } catch (const PgError& e) {
    EXPECT_TRUE(e.transient()) << e.what();
  }
  ASSERT_TRUE(cut);
  // Retried at once, as the pipeline does (the COMMIT may still be finishing on the server).
  w.connection().close();
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  EXPECT_TRUE(r.recovered_lost_commit);
  EXPECT_EQ(r.rows[0], 30u);
  EXPECT_EQ(r.rows[1], 2u);
  EXPECT_EQ(r.messages, 32u);
  ASSERT_EQ(r.offsets.size(), 2u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "30");
  EXPECT_EQ(q("SELECT count(DISTINCT kafka_offset) FROM audit_logs"), "30");
  EXPECT_EQ(q("SELECT count(*) FROM invocations"), "2");
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE period = 'month'"),
            "1.000000002/2");
  EXPECT_EQ(q("SELECT string_agg(topic || ':' || next_offset, ' ' ORDER BY topic) FROM "
              "ingest_offsets"),
            "sentinel.audit:30 sentinel.invocations:2");
  // The writer carries on normally.
  Chunk next = audit_chunk(2, 30, 30, 5);
  std::vector<Chunk*> b2 = {&next};
  const BatchResult r2 = w.write(b2);
  EXPECT_TRUE(r2.fenced.empty());
  EXPECT_FALSE(r2.recovered_lost_commit);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "35");
}

TEST_F(BatchWriterTest, CommitReplyLostWhileThatCommitStillRunsIsFoundAfterTheCompareAndSet) {
  // The retry can reach the server before the COMMIT whose reply was lost has finished (here a
  // deferred trigger makes it take a second): the token is not visible yet, so the retry writes
  // the batch, its compare-and-set waits for the old transaction, is fenced by it, and the token,
  // asked again, says it was this writer's own commit.
  BatchWriter w = writer();
  Chunk warmup = audit_chunk(6, Chunk::kNoStoredOffset, 0, 2);
  std::vector<Chunk*> b0 = {&warmup};
  w.write(b0);
  q("CREATE SEQUENCE slow_once");
  q("CREATE FUNCTION slow_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
    "nextval('slow_once') = 1 THEN PERFORM pg_sleep(1); END IF; RETURN NULL; END $$");
  q("CREATE CONSTRAINT TRIGGER slow_first_commit AFTER INSERT OR UPDATE ON ingest_offsets "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_first_commit()");
  q("GRANT USAGE ON SEQUENCE slow_once TO PUBLIC");
  Chunk existing = audit_chunk(6, 2, 2, 10);  // moves a stored offset (UPDATE)
  Chunk fresh = invocation_chunk(3, Chunk::kNoStoredOffset, {{"acme", kNov24, 5}});  // INSERT
  std::vector<Chunk*> batch = {&existing, &fresh};
  bool cut = false;
  w.set_after_commit_sent_for_testing([&](PGconn* conn) {
    if (cut) return;
    cut = true;
    ::shutdown(PQsocket(conn), SHUT_RDWR);
  });
  EXPECT_THROW(w.write(batch), PgError);
  w.connection().close();
  const auto started = std::chrono::steady_clock::now();
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  EXPECT_TRUE(r.recovered_lost_commit);
  EXPECT_EQ(r.rows[0], 10u);
  EXPECT_EQ(r.rows[1], 1u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "12");
  EXPECT_EQ(q("SELECT count(*) FROM invocations"), "1");
  EXPECT_EQ(q("SELECT invocations FROM costs WHERE period = 'day'"), "1");
  EXPECT_EQ(q("SELECT string_agg(topic || ':' || next_offset, ' ' ORDER BY topic) FROM "
              "ingest_offsets"),
            "sentinel.audit:12 sentinel.invocations:1");
  // It did wait for the slow COMMIT (had it not, it could not have known).
  EXPECT_GT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
}

TEST_F(BatchWriterTest, CostOverflowAndARefusedRowInOneBatchAreBothRejectsAndCostsStayExact) {
  q("ALTER TABLE invocations ADD CONSTRAINT no_bad_model CHECK (model <> 'bad-model')");
  BatchWriter w = writer();
  std::vector<Call> calls;
  for (int i = 0; i < 12; ++i) calls.push_back({"t1", kDec4 + i, kPoison});
  calls.push_back({"t1", kDec4 + 20, 1, "bad-model"});
  calls.push_back({"t1", kDec4 + 21, 1'000'000'000});
  Chunk c = invocation_chunk(0, Chunk::kNoStoredOffset, calls);
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[1], 11u);
  EXPECT_EQ(r.rejects[static_cast<int>(RejectReason::kDbRejected)], 3u);
  EXPECT_EQ(q("SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM "
              "ingest_rejects"),
            "10,11,12");
  EXPECT_EQ(q("SELECT cost_usd::text || '/' || invocations FROM costs WHERE period = 'month'"),
            "92000000001.000000000/11");
  EXPECT_EQ(q("SELECT sum(cost_usd)::text FROM invocations"), "92000000001.000000000");
}

TEST_F(BatchWriterTest, ACommitThatDidNotLandIsWrittenOnceOnRetry) {
  // The other outcome of a COMMIT that failed: it did not land (here the server refuses it once,
  // through a deferred trigger). The retry finds no commit token, writes the batch, counts it once.
  q("CREATE SEQUENCE refuse_once");
  q("CREATE FUNCTION refuse_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
    "nextval('refuse_once') = 1 THEN RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; "
    "END $$");
  q("CREATE CONSTRAINT TRIGGER refuse_first_commit AFTER INSERT OR UPDATE ON ingest_offsets "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_first_commit()");
  q("GRANT USAGE ON SEQUENCE refuse_once TO PUBLIC");
  BatchWriter w = writer();
  Chunk c = audit_chunk(4, Chunk::kNoStoredOffset, 0, 7);
  std::vector<Chunk*> batch = {&c};
  EXPECT_THROW(w.write(batch), PgError);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "0");
  const BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  EXPECT_FALSE(r.recovered_lost_commit);
  EXPECT_EQ(r.rows[0], 7u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "7");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "7");
}

TEST_F(BatchWriterTest, MissingPartitionIsRecognisedWhateverTheServersLanguage) {
  // A dropped month partition was recognised by the English "no partition of relation": with
  // lc_messages in another language its rows became db_rejected rejects. The error's fields
  // (23514 naming no constraint) tell it apart from a CHECK violation in any language.
  try {
    q("ALTER DATABASE " + db_.name() + " SET lc_messages = 'de_DE.UTF-8'");
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n(the de_DE.UTF-8 locale is missing: scripts/setup.sh generates it)";
  }
  const testing::SqlOutcome german =
      testing::try_sql(db_.direct_url(),
                       "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, "
                       "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), "
                       "'1999-01-01', 't', 'a', 'success', 0, 0)");
  ASSERT_EQ(german.sqlstate, "23514");
  ASSERT_EQ(german.message.find("no partition of relation"), std::string::npos)
      << "the server did not answer in German: " << german.message;
  BatchWriter w = writer();
  Chunk first = audit_chunk(0, Chunk::kNoStoredOffset, 0, 3);
  std::vector<Chunk*> b1 = {&first};
  w.write(b1);
  // The partition goes away while the writer believes it exists.
  q("DROP TABLE audit_logs_2026_11");
  Chunk second = audit_chunk(0, 3, 3, 4);
  std::vector<Chunk*> b2 = {&second};
  const BatchResult r = w.write(b2);
  EXPECT_EQ(r.rows[0], 4u);
  EXPECT_EQ(r.rejects[static_cast<int>(RejectReason::kDbRejected)], 0u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs_2026_11"), "4");
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects"), "0");
  // A CHECK violation (also 23514) is still the row's fault, in German too.
  q("ALTER TABLE audit_logs ADD CONSTRAINT no_evil CHECK (action <> 'evil.action')");
  Chunk third = audit_chunk(0, 7, 7, 3, {1});
  std::vector<Chunk*> b3 = {&third};
  const BatchResult r3 = w.write(b3);
  EXPECT_EQ(r3.rows[0], 2u);
  EXPECT_EQ(q("SELECT kafka_offset FROM ingest_rejects WHERE reason = 'db_rejected'"), "8");
}

TEST_F(BatchWriterTest, DbRejectedDetailNamesTheColumnAndConstraint) {
  // The detail of a refused row said only the server's message, which for many errors names
  // neither the column nor (in another language) anything greppable.
  q("ALTER TABLE invocations ALTER COLUMN model TYPE varchar(12)");
  q("ALTER TABLE invocations ADD CONSTRAINT no_bad_model CHECK (model <> 'bad-model')");
  BatchWriter w = writer();
  Chunk c = invocation_chunk(0, Chunk::kNoStoredOffset,
                             {{"acme", kNov24, 1},
                              {"acme", kNov24 + 1, 1, "a-model-name-far-too-long"},
                              {"acme", kNov24 + 2, 1, "bad-model"}});
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[1], 1u);
  const std::string too_long = q("SELECT detail FROM ingest_rejects WHERE kafka_offset = 1");
  EXPECT_NE(too_long.find("column model"), std::string::npos) << too_long;
  const std::string check = q("SELECT detail FROM ingest_rejects WHERE kafka_offset = 2");
  EXPECT_NE(check.find("constraint no_bad_model"), std::string::npos) << check;
  EXPECT_NE(check.find("table invocations_2026_11"), std::string::npos) << check;
}

/// FakeKafka that calls `stall` before answering: a writer stuck in the middle of its
/// transaction (a stalled process, a network partition) as the server sees it.
class StallingKafka : public FakeKafka {
 public:
  std::vector<std::optional<std::string>> payloads(std::span<const MessageId> ids) override {
    if (stall) stall();
    return FakeKafka::payloads(ids);
  }
  std::function<void()> stall;
};

// A writer's transaction left idle (the process stalled, or the network parted) held its locks
// until TCP noticed, for hours without keepalives; the next instance queued behind them. The
// server now ends it after 60 s and the locks go with it; the retried batch stores everything once.
TEST_F(BatchWriterTest, AnIdleWriterTransactionIsEndedByTheServerAndItsLocksReleased) {
  q("ALTER TABLE audit_logs ADD CONSTRAINT no_evil CHECK (action <> 'evil.action')");
  StallingKafka kafka;
  std::string pid;
  double ended_after = -1;
  kafka.stall = [&] {
    if (!pid.empty()) return;  // once
    pid =
        q("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
          "state = 'idle in transaction'");
    const auto idle_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - idle_since < std::chrono::seconds(90)) {
      if (q("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == "0") {
        ended_after =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - idle_since).count();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  };
  BatchWriter w(db_.bouncer_url(), "g1", kTopics, builtin(), &kafka);
  Chunk c = audit_chunk(0, Chunk::kNoStoredOffset, 0, 10, {4});
  std::vector<Chunk*> batch = {&c};
  EXPECT_THROW(w.write(batch), PgError);
  ASSERT_FALSE(pid.empty()) << "the writer's transaction was not idle in transaction";
  EXPECT_GE(ended_after, 0) << "still idle in transaction after 90 s";
  EXPECT_LT(ended_after, 75);
  EXPECT_EQ(q("SELECT count(*) FROM pg_locks WHERE pid = " + pid), "0");
  // Nothing of the abandoned transaction stayed; the retry stores the batch exactly once.
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "0");
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[0], 9u);
  EXPECT_EQ(q("SELECT count(*) FROM audit_logs"), "9");
  EXPECT_EQ(q("SELECT count(*) FROM ingest_rejects"), "1");
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "10");
}

TEST(KeepChained, DropsOlderChunksThatDoNotChainIntoNewerOnes) {
  Chunk old1 = audit_chunk(0, 10, 10, 5);    // 10 → 15
  Chunk fresh1 = audit_chunk(0, 12, 12, 3);  // reseeked to 12 → 15
  Chunk fresh2 = audit_chunk(0, 15, 15, 2);  // 15 → 17
  Chunk other = audit_chunk(1, 0, 0, 1);
  std::vector<Chunk*> chunks = {&old1, &other, &fresh1, &fresh2};
  const size_t kept = keep_chained(chunks);
  ASSERT_EQ(kept, 3u);
  EXPECT_EQ(chunks[0], &other);
  EXPECT_EQ(chunks[1], &fresh1);
  EXPECT_EQ(chunks[2], &fresh2);
  EXPECT_EQ(chunks[3], &old1);
}

}  // namespace
}  // namespace sentinel
