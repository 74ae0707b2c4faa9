// Rollups from the catalog against a real PostgreSQL 15, through PgBouncer: a third event type
// (tests/data/catalog/guardrail.schema.json, the catalog's example type) with a composite key
// (tenant_id, verdict), day and month periods, a count and an exact numeric(6,4) sum, upserted by
// the batch writer in the same transaction as its rows and the built-in `costs`.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "rows/copy_encoder.h"
#include "sinks/batch_writer.h"
#include "sinks/migrator.h"
#include "sinks/rollup_upsert.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::TestDb;

constexpr int64_t kNov24 = 1'795'478'400'000'000;  // 2026-11-24T00:00:00Z in unix micros
constexpr int64_t kDay = 86'400'000'000;

const std::shared_ptr<const Catalog>& catalog() {
  static const std::shared_ptr<const Catalog> c = load_catalog(SENTINEL_TEST_DATA_DIR "/catalog");
  return c;
}
const EventType& guardrail() { return *catalog()->find("guardrail"); }
int guardrail_index() { return catalog()->index_of("guardrail"); }

/// One guardrail decision: its key, when, and its score in units of 10^-4 (absent: no score).
struct Decision {
  std::string tenant;
  std::string verdict;
  int64_t ts = kNov24;
  std::optional<int64_t> score;
};

/// The 16 bytes of a UUID numbered `n`.
std::array<uint8_t, 16> uuid_for(int64_t n) {
  std::array<uint8_t, 16> id{};
  id[0] = 7;
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  id[6] = 0x40;
  return id;
}

/// Appends one decision's row (columns as guardrail's copy_columns()) and its rollup item, as the
/// chunk builder makes them.
void add_decision(Chunk& c, const Decision& d, int64_t offset) {
  RowRef row;
  row.tuple_begin = static_cast<uint32_t>(c.tuples.size());
  CopyEncoder e(c.tuples);
  e.begin_row(guardrail().field_count());
  e.uuid(uuid_for(offset + c.partition * 1'000'000));
  e.timestamptz(d.ts);
  e.text(d.tenant);
  e.text(d.verdict);
  if (d.score) {
    e.numeric_nanos(*d.score * 100'000);  // scale 4 → 9; the column's typmod keeps 4
  } else {
    e.null();
  }
  e.int4(42);  // prompt_tokens
  e.null();    // client_ip
  e.null();    // flagged
  e.null();    // categories
  e.null();    // extra
  e.int4(c.partition);
  e.int8(offset);
  row.tuple_end = static_cast<uint32_t>(c.tuples.size());
  row.kafka_offset = offset;
  row.month = month_of_unix_micros(d.ts);
  row.rollup_index = static_cast<int32_t>(c.rollups.size());
  RollupItem item;
  item.ts_unix_micros = d.ts;
  item.unix_day = day_of_unix_micros(d.ts);
  item.keys_begin = static_cast<uint32_t>(c.arena.size());
  const std::string_view tenant = d.tenant;
  const std::string_view verdict = d.verdict;
  append_key_value(c.arena, &tenant);
  append_key_value(c.arena, &verdict);
  item.keys_size = static_cast<uint32_t>(c.arena.size() - item.keys_begin);
  item.sums_begin = static_cast<uint32_t>(c.rollup_sums.size());
  c.rollup_sums.push_back(d.score.value_or(0));
  c.rollups.push_back(item);
  c.rows.push_back(row);
  ++c.messages;
}

/// A chunk of guardrail decisions of one Kafka partition, offsets from `from` (or 0).
Chunk guardrail_chunk(int32_t partition, int64_t from, const std::vector<Decision>& decisions) {
  Chunk c;
  c.topic_index = guardrail_index();
  c.type = guardrail_index();
  c.partition = partition;
  c.from_offset = from;
  const int64_t first = from < 0 ? 0 : from;
  for (size_t i = 0; i < decisions.size(); ++i) {
    add_decision(c, decisions[i], first + static_cast<int64_t>(i));
  }
  c.next_offset = first + static_cast<int64_t>(decisions.size());
  return c;
}

/// What guardrail_daily must hold: (tenant, verdict, period, period_start) → "count/sum".
using Expected = std::map<std::tuple<std::string, std::string, std::string, std::string>,
                          std::pair<int64_t, int64_t>>;

void expect_rolled_up(Expected& expected, const std::vector<Decision>& decisions) {
  for (const Decision& d : decisions) {
    const int32_t day = day_of_unix_micros(d.ts);
    for (const auto& [period, start] :
         {std::pair<std::string, int32_t>{"day", day}, {"month", first_of_month(day)}}) {
      auto& [count, sum] = expected[{d.tenant, d.verdict, period, date_text(start)}];
      ++count;
      sum += d.score.value_or(0);
    }
  }
}

/// The rows of guardrail_daily as the test computes them, one line each, in key order.
std::string text_of(const Expected& expected) {
  std::string out;
  for (const auto& [key, value] : expected) {
    const auto& [tenant, verdict, period, start] = key;
    out += tenant + " " + verdict + " " + period + " " + start + " " + std::to_string(value.first) +
           " " + decimal_text(value.second, 4) + "\n";
  }
  return out;
}

class RollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apply_migrations(db_.direct_url());
    create_catalog_tables();
  }

  /// What `migrate` makes of the catalog (architecture.md §9), made by hand here: the `extra`
  /// column of the built-in tables, guardrail's table and rollup table, and month partitions of it
  /// through sentinel_ensure_month_partition.
  void create_catalog_tables() {
    q("ALTER TABLE audit_logs ADD COLUMN IF NOT EXISTS extra jsonb; "
      "ALTER TABLE invocations ADD COLUMN IF NOT EXISTS extra jsonb");
    q("CREATE TABLE guardrail_events (decision_id uuid NOT NULL, ts timestamptz NOT NULL, "
      "tenant_id text NOT NULL, verdict text NOT NULL, score numeric(6,4), prompt_tokens integer, "
      "client_ip inet, flagged boolean, categories jsonb, extra jsonb, "
      "kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL) PARTITION BY RANGE (ts)");
    q("CREATE TABLE guardrail_daily (tenant_id text NOT NULL, verdict text NOT NULL, "
      "period text NOT NULL, period_start date NOT NULL, decisions bigint NOT NULL, "
      "score_total numeric(38,4) NOT NULL, updated_at timestamptz NOT NULL, "
      "PRIMARY KEY (tenant_id, verdict, period, period_start))");
    q("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_proc WHERE proname = 'sentinel_ensure_builtin') "
      "THEN ALTER FUNCTION sentinel_ensure_month_partition(text, date) "
      "RENAME TO sentinel_ensure_builtin; END IF; END $$");
    q("CREATE OR REPLACE FUNCTION sentinel_ensure_month_partition(parent text, month_start date) "
      "RETURNS text LANGUAGE plpgsql AS $$ "
      "DECLARE name text := parent || '_' || to_char(month_start, 'YYYY_MM'); BEGIN "
      "IF parent <> 'guardrail_events' THEN "
      "  RETURN sentinel_ensure_builtin(parent, month_start); END IF; "
      "PERFORM pg_advisory_xact_lock(hashtext(name)); "  // writers race to create it
      "EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF guardrail_events "
      "  FOR VALUES FROM (%L) TO (%L)', name, month_start, month_start + interval '1 month'); "
      "RETURN name; END $$");
  }

  BatchWriter writer() { return BatchWriter(db_.bouncer_url(), "g1", topics(), catalog()); }
  static std::vector<std::string> topics() {
    std::vector<std::string> t;
    for (const EventType& type : catalog()->types()) t.push_back(type.topic);
    return t;
  }
  std::string q(const std::string& sql) { return db_.query(sql); }
  std::string daily() {
    return q(
        "SELECT coalesce(string_agg(tenant_id || ' ' || verdict || ' ' || period || ' ' || "
        "period_start || ' ' || decisions || ' ' || score_total, E'\\n' ORDER BY tenant_id, "
        "verdict, period, period_start) || E'\\n', '') FROM guardrail_daily");
  }

  /// guardrail_daily holds exactly the sums of `decisions` but the one at `refused`.
  void expect_daily_without(std::vector<Decision> decisions, size_t refused) {
    decisions.erase(decisions.begin() + static_cast<std::ptrdiff_t>(refused));
    Expected expected;
    expect_rolled_up(expected, decisions);
    EXPECT_EQ(daily(), text_of(expected));
  }

  TestDb db_;
};

/// Decisions over two tenants, three verdicts, three days (two months), some without a score.
std::vector<Decision> mixed_decisions(int n, int64_t seed) {
  static const std::array<std::string, 3> kVerdicts = {"allow", "block", "redact"};
  std::vector<Decision> out;
  for (int i = 0; i < n; ++i) {
    const int64_t k = seed * 7919 + i * 31;
    Decision d;
    d.tenant = k % 5 < 3 ? "acme" : "globex";
    d.verdict = kVerdicts[static_cast<size_t>(k % 3)];
    d.ts = kNov24 + (k % 3 == 2 ? 10 : k % 2) * kDay + i;  // Nov 24, Nov 25, Dec 4
    if (k % 7 != 0) d.score = k % 10'001;                  // 0 … 1.0000
    out.push_back(d);
  }
  return out;
}

TEST_F(RollupTest, AThirdTypesRowsAndRollupsAreStoredExactly) {
  BatchWriter w = writer();
  Expected expected;
  const std::vector<Decision> first = mixed_decisions(40, 1);
  const std::vector<Decision> second = mixed_decisions(25, 2);
  Chunk a = guardrail_chunk(0, Chunk::kNoStoredOffset, first);
  std::vector<Chunk*> batch = {&a};
  BatchResult r = w.write(batch);
  EXPECT_TRUE(r.fenced.empty());
  ASSERT_EQ(r.rows.size(), catalog()->size());
  EXPECT_EQ(r.rows[static_cast<size_t>(guardrail_index())], 40u);
  expect_rolled_up(expected, first);
  EXPECT_EQ(daily(), text_of(expected));
  // A second batch adds to the same rows (ON CONFLICT ... DO UPDATE) and makes new ones.
  Chunk b = guardrail_chunk(0, a.next_offset, second);
  batch = {&b};
  r = w.write(batch);
  EXPECT_EQ(r.rows[static_cast<size_t>(guardrail_index())], 25u);
  expect_rolled_up(expected, second);
  EXPECT_EQ(daily(), text_of(expected));
  EXPECT_EQ(q("SELECT count(*) FROM guardrail_events"), "65");
  EXPECT_EQ(
      q("SELECT count(*) FROM guardrail_events_2026_12"),
      std::to_string(std::count_if(first.begin(), first.end(),
                                   [](const Decision& d) { return d.ts >= kNov24 + 10 * kDay; }) +
                     std::count_if(second.begin(), second.end(),
                                   [](const Decision& d) { return d.ts >= kNov24 + 10 * kDay; })));
  // The rollup agrees with the rows it was made from, per day and per month.
  EXPECT_EQ(q("SELECT count(*) FROM guardrail_daily g WHERE (g.decisions, g.score_total) <> "
              "(SELECT count(*), coalesce(sum(e.score), 0) FROM guardrail_events e "
              "WHERE e.tenant_id = g.tenant_id AND e.verdict = g.verdict AND date_trunc(g.period, "
              "e.ts AT TIME ZONE 'UTC')::date = g.period_start)"),
            "0");
}

TEST_F(RollupTest, ARefusedRowsDeltasAreLeftOutOfEveryRollup) {
  // PostgreSQL refuses one decision (a constraint of the table): bisection isolates it, it becomes
  // a db_rejected reject, and nothing of it is added to guardrail_daily.
  q("ALTER TABLE guardrail_events ADD CONSTRAINT no_probe CHECK (tenant_id <> 'probe')");
  BatchWriter w = writer();
  std::vector<Decision> decisions = mixed_decisions(30, 3);
  decisions[17] = {"probe", "block", kNov24 + 5, 9'999};
  Chunk c = guardrail_chunk(1, Chunk::kNoStoredOffset, decisions);
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[static_cast<size_t>(guardrail_index())], 29u);
  EXPECT_EQ(r.rejects[static_cast<int>(RejectReason::kDbRejected)], 1u);
  EXPECT_EQ(q("SELECT kafka_offset || ' ' || reason FROM ingest_rejects"), "17 db_rejected");
  expect_daily_without(decisions, 17);
  EXPECT_EQ(q("SELECT count(*) FROM guardrail_daily WHERE tenant_id = 'probe'"), "0");
}

TEST_F(RollupTest, ASumPastItsColumnRefusesThatRowAndCommitsTheRest) {
  // score_total made narrow (at most 9.9999): the twelfth 0.9 of one key and day cannot be
  // added. It alone becomes a db_rejected reject; the batch commits, its other keys included.
  q("ALTER TABLE guardrail_daily ALTER COLUMN score_total TYPE numeric(5,4)");
  BatchWriter w = writer();
  std::vector<Decision> decisions;
  for (int i = 0; i < 12; ++i) decisions.push_back({"acme", "block", kNov24 + i, 9'000});
  decisions.push_back({"acme", "allow", kNov24, 5'000});
  Chunk c = guardrail_chunk(0, Chunk::kNoStoredOffset, decisions);
  std::vector<Chunk*> batch = {&c};
  const BatchResult r = w.write(batch);
  EXPECT_EQ(r.rows[static_cast<size_t>(guardrail_index())], 12u);
  EXPECT_EQ(q("SELECT kafka_offset || ' ' || reason FROM ingest_rejects"), "11 db_rejected");
  const std::string detail = q("SELECT detail FROM ingest_rejects");
  EXPECT_NE(detail.find("score_total 0.9 cannot be added to guardrail_daily (tenant acme, verdict "
                        "block, month 2026-11-01): numeric field overflow (the sum would be 10.8; "
                        "guardrail_daily.score_total holds at most 9.9999)"),
            std::string::npos)
      << detail;
  expect_daily_without(decisions, 11);
  EXPECT_EQ(q("SELECT next_offset FROM ingest_offsets"), "13");
}

TEST_F(RollupTest, TwoWritersUpsertingTheSameKeysConcurrentlyDoNotDeadlock) {
  // Each writer's batches touch the same guardrail_daily rows, arriving in opposite orders. Keys
  // sorted and tables in name order, the writers queue on each other's row locks but never wait in
  // a circle: no 40P01, every batch commits at the first try, sums exact.
  constexpr int kRounds = 15;
  constexpr int kTenants = 12;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(2);
  Expected expected;
  std::vector<std::vector<Decision>> per_writer(2);
  for (int w = 0; w < 2; ++w) {
    for (int t = 0; t < kTenants; ++t) {
      const int tenant = w == 0 ? t : kTenants - 1 - t;
      for (const char* verdict : {"allow", "block", "redact"}) {
        std::string name = "t";
        name += std::to_string(tenant);
        per_writer[w].push_back({name, verdict, kNov24 + tenant, 1'000 + tenant});
      }
    }
    if (w == 1) std::reverse(per_writer[w].begin(), per_writer[w].end());
    for (int round = 0; round < kRounds; ++round) expect_rolled_up(expected, per_writer[w]);
  }
  const auto run = [&](int w) {
    try {
      BatchWriter writer = this->writer();
      int64_t next = Chunk::kNoStoredOffset;
      for (int round = 0; round < kRounds; ++round) {
        Chunk c = guardrail_chunk(w, next, per_writer[w]);
        next = c.next_offset;
        std::vector<Chunk*> batch = {&c};
        writer.write(batch);
      }
    } catch (const std::exception& e) {
      ++failures;
      errors[static_cast<size_t>(w)] = e.what();
    }
  };
  std::thread a(run, 0);
  std::thread b(run, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0) << errors[0] << " / " << errors[1];
  EXPECT_EQ(daily(), text_of(expected));
}

}  // namespace
}  // namespace sentinel
