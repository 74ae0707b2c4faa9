// The whole pipeline in-process: mock Kafka → Pipeline → PostgreSQL through PgBouncer in
// transaction mode, 100 000 events with 1% malformed of every kind.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "ingest/kafka_handle.h"
#include "pipeline/pipeline.h"
#include "sinks/migrator.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "tests/integration/expectations.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::TestDb;

PipelineOptions options_for(TestDb& db, MockCluster& mock, std::string group) {
  PipelineOptions p;
  p.pg_url = db.bouncer_url();
  p.brokers = mock.bootstraps();
  p.group = std::move(group);
  return p;
}

/// Well-formed events of 20 tenants.
EventGenerator valid_events(uint64_t seed) {
  GeneratorOptions g;
  g.seed = seed;
  g.invalid_ratio = 0;
  g.tenants = 20;
  return EventGenerator(g);
}

/// Runs `pipeline` until `expected` messages are stored (300 s at most), doing `meanwhile` first,
/// then stops it. Returns whether all were stored; `code` gets what run() returned.
bool run_until_stored(Pipeline& pipeline, TestDb& db, size_t expected, int& code,
                      const std::function<void()>& meanwhile = {}) {
  std::atomic<bool> stop{false};
  std::thread runner([&] { code = pipeline.run(stop); });
  if (meanwhile) meanwhile();
  const bool done =
      testing::wait_for_stored(db, static_cast<int64_t>(expected), std::chrono::seconds(300));
  stop = true;
  runner.join();
  return done;
}

TEST(PipelineEndToEnd, HundredThousandEventsThroughPgBouncerExactlyOnce) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(3, {"sentinel.audit", "sentinel.invocations"}, 8);
  const auto events = testing::publish_events(mock.bootstraps(), 100'000, 0.01, 42);

  Metrics metrics;
  int code = -1;
  const auto started = std::chrono::steady_clock::now();
  Pipeline pipeline(options_for(db, mock, "e2e"), metrics);
  const bool done = run_until_stored(pipeline, db, events.size(), code);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(done) << "only " << testing::stored_messages(db) << " of " << events.size()
                    << " messages stored";
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  std::printf("end-to-end: %zu events in %.2f s = %.0f events/s (including consumer start)\n",
              events.size(), seconds, static_cast<double>(events.size()) / seconds);
  testing::expect_exactly_once(db, events);
  // The metrics saw the same.
  EXPECT_EQ(
      metrics.rows_written[0] + metrics.rows_written[1] +
          [&] {
            uint64_t r = 0;
            for (auto& x : metrics.rejects) r += x;
            return r;
          }(),
      events.size());
}

// A new group, nothing stored, and retention has deleted the partition's oldest messages: the
// assignment asks for offset 0, the broker answers "out of range", and the ingestor starts at the
// oldest message left and stores each one still there exactly once.
TEST(PipelineEndToEnd, NothingStoredAndOffsetZeroDeletedStartsAtTheOldestMessageLeft) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 1);
  // The mock keeps ~5 MB per partition and drops the oldest batches beyond that.
  EventGenerator gen = valid_events(7);
  {
    Publisher publisher(mock.bootstraps(), {{"compression.codec", "none"}});
    for (size_t bytes = 0; bytes < (8u << 20);) {
      const GeneratedEvent e = gen.next();
      if (e.topic_index != 0) continue;
      bytes += e.payload.size();
      publisher.produce("sentinel.audit", e.key, e.payload);
    }
    publisher.flush();
  }
  int64_t low = -1, high = -1;
  {
    KafkaConf conf = make_kafka_conf({{"bootstrap.servers", mock.bootstraps()}});
    char err[512];
    KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
    ASSERT_TRUE(rk) << err;
    conf.release();
    ASSERT_EQ(rd_kafka_query_watermark_offsets(rk.get(), "sentinel.audit", 0, &low, &high, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_GT(low, 0) << "the mock kept every message: publish more";

  Metrics metrics;
  int code = -1;
  Pipeline pipeline(options_for(db, mock, "late-start"), metrics);
  ASSERT_TRUE(run_until_stored(pipeline, db, static_cast<size_t>(high - low), code))
      << "only " << testing::stored_messages(db) << " of " << high - low << " stored";
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  EXPECT_EQ(db.query("SELECT min(kafka_offset) FROM audit_logs"), std::to_string(low));
  EXPECT_EQ(db.query("SELECT count(DISTINCT kafka_offset) FROM audit_logs"),
            std::to_string(high - low));
  EXPECT_EQ(db.query("SELECT count(*) FROM audit_logs"), std::to_string(high - low));
  EXPECT_EQ(db.query("SELECT next_offset FROM ingest_offsets WHERE topic = 'sentinel.audit'"),
            std::to_string(high));
}

// Exactly-once is per Kafka record. A producer that retries without idempotence (or librdkafka's
// mock cluster, which checks sequence numbers only for transactional producers) can leave two
// records of one event: each is a message of its own, at its own offset, stored once, and its
// cost counted once per record.
TEST(PipelineEndToEnd, AnEventKafkaHoldsTwiceIsTwoRecordsEachStoredOnce) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  const std::string topics[2] = {"sentinel.audit", "sentinel.invocations"};
  GeneratorOptions g;
  g.seed = 13;
  g.invalid_ratio = 0.01;
  g.tenants = 60;
  EventGenerator gen(g);
  std::vector<GeneratedEvent> events;
  {
    Publisher publisher(mock.bootstraps(), {});
    for (int i = 0; i < 3000; ++i) {
      GeneratedEvent e = gen.next();
      publisher.produce(topics[e.topic_index], e.key, e.payload);
      if (i % 10 == 0) {  // sent again, as a retry would be
        publisher.produce(topics[e.topic_index], e.key, e.payload);
        events.push_back(e);
      }
      events.push_back(std::move(e));
    }
    publisher.flush();
  }
  Metrics metrics;
  int code = -1;
  Pipeline pipeline(options_for(db, mock, "copies"), metrics);
  ASSERT_TRUE(run_until_stored(pipeline, db, events.size(), code))
      << "only " << testing::stored_messages(db) << " of " << events.size() << " stored";
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  EXPECT_EQ(events.size(), 3300u);
  testing::expect_exactly_once(db, events);
}

TEST(PipelineEndToEnd, SmallMemoryBudgetHoldsTheConsumerBackAndLosesNothing) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  const auto events = testing::publish_events(mock.bootstraps(), 30'000, 0.01, 9);

  // PostgreSQL stalls the writers (a DBA's lock), so that the backlog must pile up
  // against the budget whatever the relative speeds of this machine's consumer and server.
  pqxx::connection locker(db.direct_url());
  pqxx::work lock(locker);
  lock.exec0("LOCK TABLE audit_logs, invocations IN ACCESS EXCLUSIVE MODE");

  PipelineOptions p = options_for(db, mock, "budget");
  p.inflight_budget_bytes = 1 << 20;  // far less than the backlog: the consumer must be held
  p.pause_after = std::chrono::milliseconds(0);
  p.chunk_bytes = 32 << 10;
  Metrics metrics;
  std::atomic<bool> sampled{false};
  int code = -1;
  Pipeline pipeline(p, metrics);
  int max_paused = 0;
  int64_t max_inflight = 0;
  std::thread sampler([&] {
    while (!sampled.load()) {
      max_paused = std::max(max_paused, metrics.paused_partitions.load());
      max_inflight = std::max(max_inflight, metrics.inflight_bytes.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const bool done = run_until_stored(pipeline, db, events.size(), code, [&] {
    // Keep them stalled until the consumer is held back (or a minute has passed).
    testing::wait_until(std::chrono::seconds(60), [&] {
      return metrics.throttled_micros.load() > 0 || metrics.paused_partitions.load() > 0;
    });
    lock.commit();
  });
  sampled = true;
  sampler.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  // Held back: throttled (the ordinary case) or, past pause_after, partitions paused.
  EXPECT_TRUE(metrics.throttled_micros.load() > 0 || max_paused > 0)
      << "backpressure never held the consumer back";
  // The budget is per writer and checked between poll cycles: it may overshoot by about one
  // cycle of chunks, not by the backlog.
  EXPECT_LT(max_inflight, 8 << 20);
  std::printf(
      "budget 1 MiB: in flight at most %.2f MiB, %d partitions paused at most, held back "
      "%.1f s\n",
      static_cast<double>(max_inflight) / (1 << 20), max_paused,
      static_cast<double>(metrics.throttled_micros.load()) / 1e6);
  testing::expect_exactly_once(db, events);
}

// PostgreSQL refuses rows the parser accepts (here a constraint a DBA added). Each one becomes a
// db_rejected reject whose payload, read again from Kafka by offset (chunks do not keep
// payloads), is the message byte for byte; every other event is stored once.
TEST(PipelineEndToEnd, RowsPostgresRefusesBecomeRejectsWithTheirPayloadReadBackFromKafka) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  EventGenerator gen = valid_events(11);
  Publisher publisher(mock.bootstraps(), {{"compression.type", "lz4"}});
  const std::string topics[2] = {"sentinel.audit", "sentinel.invocations"};
  std::vector<GeneratedEvent> events;
  for (int i = 0; i < 5000; ++i) {
    events.push_back(gen.next());
    publisher.produce(topics[events.back().topic_index], events.back().key, events.back().payload);
  }
  publisher.flush();
  // Refuse the audit events of the second most popular tenant.
  const std::string refused_tenant = [&] {
    std::map<std::string, int> n;
    for (const auto& e : events) n[e.tenant] += e.topic_index == 0;
    std::vector<std::pair<int, std::string>> by_count;
    for (const auto& [t, c] : n) by_count.push_back({c, t});
    std::sort(by_count.rbegin(), by_count.rend());
    return by_count.at(1).second;
  }();
  db.query("ALTER TABLE audit_logs ADD CONSTRAINT refuse_one_tenant CHECK (tenant_id <> '" +
           refused_tenant + "')");
  std::vector<std::string> refused_payloads;
  int64_t audit = 0, invocations = 0;
  for (const auto& e : events) {
    if (e.topic_index == 1) {
      ++invocations;
    } else if (e.tenant == refused_tenant) {
      refused_payloads.push_back(e.payload);
    } else {
      ++audit;
    }
  }
  std::sort(refused_payloads.begin(), refused_payloads.end());
  ASSERT_GT(refused_payloads.size(), 50u);

  Metrics metrics;
  int code = -1;
  Pipeline pipeline(options_for(db, mock, "refused"), metrics);
  const bool done = run_until_stored(pipeline, db, events.size(), code);
  ASSERT_TRUE(done) << "only " << testing::stored_messages(db) << " of " << events.size();
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  EXPECT_EQ(db.query("SELECT count(*) FROM audit_logs"), std::to_string(audit));
  EXPECT_EQ(db.query("SELECT count(*) FROM invocations"), std::to_string(invocations));
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE reason = 'db_rejected' AND "
                     "detail LIKE '%refuse_one_tenant%' AND payload IS NOT NULL"),
            std::to_string(refused_payloads.size()));
  std::string expected;
  for (const auto& s : refused_payloads) expected += s + "\n";
  EXPECT_EQ(db.query("SELECT string_agg(convert_from(payload, 'UTF8') || E'\\n', '' ORDER BY "
                     "convert_from(payload, 'UTF8') COLLATE \"C\") FROM ingest_rejects"),
            expected);
  EXPECT_EQ(metrics.rejects[static_cast<int>(RejectReason::kDbRejected)].load(),
            refused_payloads.size());
}

std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

/// SQL for the UTF-8 text whose bytes are `utf8`, whatever the client encoding of the session
/// that runs it.
std::string utf8_literal(const std::string& utf8) {
  return "convert_from(decode('" + hex_of(utf8) + "', 'hex'), 'UTF8')";
}

// PGCLIENTENCODING=LATIN1 in the environment, or ALTER ROLE ... SET client_encoding, made
// PostgreSQL read our UTF-8 as LATIN1: "café ☕" stored as mojibake, jsonb altered. The rows must
// say exactly what the events said, through PgBouncer and directly.
TEST(PipelineEndToEnd, TextIsStoredByteForByteWhateverTheClientEncodingSettings) {
  const std::string action = "caf\xc3\xa9 \xe2\x98\x95";
  const std::string agent = "Z\xc3\xbcrich-Client/1.0 (\xe6\x97\xa5\xe6\x9c\xac) \xf0\x9f\x98\x80";
  const std::string audit_meta = R"({"note": "na\u00efve \u2014 )"
                                 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x98\x95"
                                 R"(", )"
                                 R"("caf)"
                                 "\xc3\xa9"
                                 R"(": ["\u00fc", ")"
                                 "\xf0\x9f\x98\x80"
                                 R"("]})";
  const std::string model = "mod\xc3\xa8le-\xe2\x98\x95";
  const std::string inv_meta = R"({"route": "/caf)"
                               "\xc3\xa9"
                               R"(", "n": 1})";
  struct Setting {
    const char* name;
    bool environment;
    bool role;
    bool through_bouncer;
  };
  for (const Setting& setting :
       {Setting{"PGCLIENTENCODING=LATIN1, through PgBouncer", true, false, true},
        Setting{"ALTER ROLE ... SET client_encoding, through PgBouncer", false, true, true},
        Setting{"ALTER ROLE ... SET client_encoding, direct", false, true, false}}) {
    SCOPED_TRACE(setting.name);
    TestDb db;
    apply_migrations(db.direct_url());
    if (setting.role) {
      db.query("ALTER ROLE CURRENT_USER IN DATABASE " + db.name() +
               " SET client_encoding = 'LATIN1'");
      // The setting is in force for a connection that does not ask for an encoding.
      ASSERT_EQ(testing::query_one(db.direct_url(), "SHOW client_encoding"), "LATIN1");
    }
    MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 2);
    {
      Publisher publisher(mock.bootstraps(), {});
      publisher.produce("sentinel.audit", "k",
                        R"({"event_id": "0b5f3c1e-3f0a-4d1e-9a43-1d2b9c7e5a01", )"
                        R"("ts": "2026-11-03T08:45:07Z", "tenant_id": "t1", "action": ")" +
                            action + R"(", "outcome": "success", "user_agent": ")" + agent +
                            R"(", "metadata": )" + audit_meta + "}");
      publisher.produce("sentinel.invocations", "k",
                        R"({"invocation_id": "0b5f3c1e-3f0a-4d1e-9a43-1d2b9c7e5a02", )"
                        R"("ts": "2026-11-03T08:45:07Z", "tenant_id": "t1", "provider": "p", )"
                        R"("model": ")" +
                            model +
                            R"(", "prompt_tokens": 1, "completion_tokens": 2, "status": "ok", )"
                            R"("cost_usd": "0.5", "metadata": )" +
                            inv_meta + "}");
      publisher.flush();
    }
    if (setting.environment) setenv("PGCLIENTENCODING", "LATIN1", 1);
    Metrics metrics;
    int code = -1;
    PipelineOptions options = options_for(db, mock, "encoding");
    if (!setting.through_bouncer) options.pg_url = db.direct_url();
    Pipeline pipeline(options, metrics);
    const bool done = run_until_stored(pipeline, db, 2, code);
    unsetenv("PGCLIENTENCODING");
    ASSERT_TRUE(done) << "only " << testing::stored_messages(db) << " of 2";
    EXPECT_EQ(code, 0) << pipeline.fatal_message();
    EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects"), "0");
    EXPECT_EQ(db.query("SELECT encode(convert_to(action, 'UTF8'), 'hex') || ' ' || "
                       "encode(convert_to(user_agent, 'UTF8'), 'hex') FROM audit_logs"),
              hex_of(action) + " " + hex_of(agent));
    EXPECT_EQ(db.query("SELECT encode(convert_to(model, 'UTF8'), 'hex') FROM invocations"),
              hex_of(model));
    EXPECT_EQ(db.query("SELECT encode(convert_to(metadata::text, 'UTF8'), 'hex') FROM audit_logs"),
              db.query("SELECT encode(convert_to((" + utf8_literal(audit_meta) +
                       ")::jsonb::text, 'UTF8'), 'hex')"));
    EXPECT_EQ(
        db.query("SELECT metadata = (" + utf8_literal(audit_meta) + ")::jsonb FROM audit_logs"),
        "t");
    EXPECT_EQ(
        db.query("SELECT metadata = (" + utf8_literal(inv_meta) + ")::jsonb FROM invocations"),
        "t");
  }
}

// Eleven invocations of USD 9.2e9 for one tenant and month overflow its monthly costs row
// (numeric(20,9)). That used to fail the cost upsert on every retry and exit the process (1), at
// every restart again. Now the one that cannot be added is a db_rejected reject and everything
// else is stored; the pipeline keeps running. (The per-event limit, --max-cost-usd, would refuse
// these at validation: it is raised here so that they reach PostgreSQL.)
TEST(PipelineEndToEnd, CostOverflowIsAPoisonEventNotAHaltedPipeline) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 2);
  EventGenerator gen = valid_events(21);
  const std::string topics[2] = {"sentinel.audit", "sentinel.invocations"};
  // In the current UTC month, in the past: inside the ts window, all in one month.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::chrono::year_month_day today{std::chrono::floor<std::chrono::days>(now)};
  const std::chrono::sys_days month_start{today.year() / today.month() / 1};
  const std::string month =
      fmt::format("{:04d}-{:02d}-01", int(today.year()), unsigned(today.month()));
  size_t total = 0;
  {
    Publisher publisher(mock.bootstraps(), {});
    for (int i = 0; i < 3000; ++i) {
      const GeneratedEvent e = gen.next();
      publisher.produce(topics[e.topic_index], e.key, e.payload);
      ++total;
      if (i % 250 == 0 && i / 250 < 11) {
        const int n = i / 250;
        const std::string poison = fmt::format(
            R"({{"invocation_id":"00000000-0000-4000-8000-{:012d}","ts":{},"tenant_id":"poison",)"
            R"("provider":"openai","model":"gpt-4o","prompt_tokens":1,"completion_tokens":1,)"
            R"("cost_usd":"9200000000","status":"ok"}})",
            n,
            std::chrono::duration_cast<std::chrono::milliseconds>(
                (month_start + std::chrono::seconds(n)).time_since_epoch())
                .count());
        publisher.produce("sentinel.invocations", "poison", poison);
        ++total;
      }
    }
    publisher.flush();
  }
  PipelineOptions p = options_for(db, mock, "poison");
  p.limits.max_cost_nanos = INT64_MAX;
  Metrics metrics;
  Pipeline pipeline(p, metrics);
  std::atomic<bool> stop{false}, finished{false};
  int code = -1;
  std::thread runner([&] {
    code = pipeline.run(stop);
    finished = true;
  });
  const bool done = testing::wait_for_stored(db, static_cast<int64_t>(total),
                                             std::chrono::seconds(300), [&] { return !finished; });
  stop = true;
  runner.join();
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  ASSERT_TRUE(done) << "only " << testing::stored_messages(db) << " of " << total << " stored";
  EXPECT_EQ(testing::stored_messages(db), static_cast<int64_t>(total));
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_rejects WHERE reason = 'db_rejected' AND detail "
                     "LIKE 'cost_usd 9200000000 cannot be added to costs (tenant poison, month " +
                     month + "): numeric field overflow%'"),
            "1");
  EXPECT_EQ(db.query("SELECT count(*) FROM invocations WHERE tenant_id = 'poison'"), "10");
  EXPECT_EQ(db.query("SELECT cost_usd::text || '/' || invocations FROM costs WHERE tenant_id = "
                     "'poison' AND period = 'month'"),
            "92000000000.000000000/10");
  // Every tenant's monthly costs are the sums of its stored invocations.
  EXPECT_EQ(db.query("SELECT count(*) FROM costs c WHERE period = 'month' AND (cost_usd, "
                     "invocations) <> (SELECT coalesce(sum(i.cost_usd), 0), count(*) FROM "
                     "invocations i WHERE i.tenant_id = c.tenant_id AND date_trunc('month', i.ts "
                     "AT TIME ZONE 'UTC')::date = c.period_start)"),
            "0");
  EXPECT_EQ(metrics.rejects[static_cast<int>(RejectReason::kDbRejected)].load(), 1u);
}

// PgBouncer in transaction mode hands the ingestor server sessions that other clients of the same
// login used. One that left temporary tables named audit_logs, invocations, costs, ingest_offsets
// and ingest_rejects there (PostgreSQL searches a session's temporary schema first) silently took
// the rows while the offsets advanced; one that left `SET search_path = pg_catalog` stopped the
// ingestor with "relation does not exist". Whatever a pooled session holds, every row lands in the
// real tables exactly once.
TEST(PipelineEndToEnd, TemporaryTablesLeftInPooledSessionsNeitherDivertNorStopTheRows) {
  TestDb db;
  apply_migrations(db.direct_url());
  // Every server session of the pool (default_pool_size = 20) gets the same leftovers: the
  // clients hold their transactions open together, so each lands on a session of its own.
  constexpr int kSessions = 20;
  std::vector<std::thread> poisoners;
  std::atomic<int> poisoned{0};
  std::barrier all_began(kSessions), all_poisoned(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    poisoners.emplace_back([&] {
      std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(db.bouncer_url().c_str()),
                                                     &PQfinish);
      if (PQstatus(c.get()) != CONNECTION_OK) {
        ADD_FAILURE() << PQerrorMessage(c.get());
        return;
      }
      // Each holds a server session of its own before poisoning it, until all are poisoned.
      PQclear(PQexec(c.get(), "BEGIN READ WRITE"));
      all_began.arrive_and_wait();
      PGresult* r =
          PQexec(c.get(),
                 "CREATE TEMP TABLE audit_logs (LIKE public.audit_logs INCLUDING ALL); "
                 "CREATE TEMP TABLE invocations (LIKE public.invocations INCLUDING ALL); "
                 "CREATE TEMP TABLE costs (LIKE public.costs INCLUDING ALL); "
                 "CREATE TEMP TABLE ingest_offsets (LIKE public.ingest_offsets INCLUDING ALL); "
                 "CREATE TEMP TABLE ingest_rejects (LIKE public.ingest_rejects INCLUDING ALL); "
                 "CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (VALUE IS NULL); "
                 "SET search_path = pg_catalog; SET default_transaction_read_only = on; "
                 "SELECT 1");
      if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        ++poisoned;
      } else {
        ADD_FAILURE() << PQerrorMessage(c.get());
      }
      PQclear(r);
      all_poisoned.arrive_and_wait();
      PQclear(PQexec(c.get(), "COMMIT"));
    });
  }
  for (auto& t : poisoners) t.join();
  ASSERT_EQ(poisoned.load(), kSessions);

  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  const auto events = testing::publish_events(mock.bootstraps(), 5'000, 0.02, 17);
  Metrics metrics;
  int code = -1;
  Pipeline pipeline(options_for(db, mock, "pooled-leftovers"), metrics);
  const bool done = run_until_stored(pipeline, db, events.size(), code);
  ASSERT_TRUE(done) << "only " << testing::stored_messages(db) << " of " << events.size()
                    << " messages stored in the real tables";
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
  testing::expect_exactly_once(db, events);
}

}  // namespace
}  // namespace sentinel
