// Issue 19, through the binary: rejects replayed exactly once. Events are rejected because the
// limits were too tight (a guardrail window of 30 days in the catalog, --max-cost-usd 0.01);
// the window is widened in the catalog file, and `rejects replay` — as the ingest role, through
// PgBouncer, killed with SIGKILL at random moments, run again and again while an ingestor keeps
// writing — must end with exactly the rows and rollups a database that ingested the same
// messages with the wide limits from the start has, and with the still-invalid ones kept with
// their new detail.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::TestDb;

const std::string kGuardrailFile = SENTINEL_SOURCE_DIR "/tests/data/catalog/guardrail.schema.json";
constexpr int64_t kDayMs = 86'400'000;

/// A catalog folder holding the guardrail type with the given window (max_age_days).
std::string guardrail_catalog(const std::string& name, int max_age_days) {
  const std::string dir = ::testing::TempDir() + name;
  std::filesystem::create_directories(dir);
  std::string text = testing::read_file(kGuardrailFile);
  const std::string from = "\"max_age_days\": 400";
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos);
  text.replace(at, from.size(), fmt::format("\"max_age_days\": {}", max_age_days));
  std::ofstream(dir + "/guardrail.schema.json") << text;
  return dir;
}

int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A guardrail decision `i` at `ts_ms`; verdict "maybe" is not in the type's enum. Its score
/// stays under the tight --max-cost-usd 0.01, which bounds every summed value (score too).
std::string guardrail_event(int i, int64_t ts_ms, const char* verdict) {
  return fmt::format(
      R"({{"decision_id":"00000000-0000-4000-8000-{:012d}","ts":{},"tenant_id":"tenant-{}",)"
      R"("verdict":"{}","score":"0.00{:02d}","usage":{{"prompt_tokens":{}}}}})",
      i, ts_ms, i % 7, verdict, i % 100, i % 500);
}

/// What one batch of messages holds.
struct Published {
  int64_t messages = 0;
  int64_t costly_invocations = 0;  ///< cost above the tight limit
};

/// Publishes `old` guardrail decisions 100 days old (outside a 30-day window), `fresh` of now,
/// `bad` with an unknown verdict, and `invocations` generated invocations.
Published publish(const std::string& brokers, int first_id, int old, int fresh, int bad,
                  int invocations, uint64_t seed) {
  Published p;
  Publisher publisher(brokers, {});
  int id = first_id;
  const int64_t now = now_ms();
  for (int i = 0; i < old; ++i, ++id) {
    publisher.produce("sentinel.guardrails", std::to_string(id),
                      guardrail_event(id, now - 100 * kDayMs - i, "allow"));
  }
  for (int i = 0; i < fresh; ++i, ++id) {
    publisher.produce("sentinel.guardrails", std::to_string(id), guardrail_event(id, now, "block"));
  }
  for (int i = 0; i < bad; ++i, ++id) {
    publisher.produce("sentinel.guardrails", std::to_string(id), guardrail_event(id, now, "maybe"));
  }
  GeneratorOptions g;
  g.seed = seed;
  g.audit_share = 0;
  EventGenerator gen(g);
  for (int i = 0; i < invocations; ++i) {
    const GeneratedEvent e = gen.next();
    publisher.produce("sentinel.invocations", e.key, e.payload);
    if (e.cost_nanos > 10'000'000) ++p.costly_invocations;
  }
  publisher.flush();
  EXPECT_EQ(publisher.failed(), 0u);
  p.messages = old + fresh + bad + invocations;
  return p;
}

int64_t count(const TestDb& db, const std::string& sql) { return std::stoll("0" + db.query(sql)); }

/// Kafka messages the database has taken (rows or rejects), by its stored offsets.
int64_t consumed(const TestDb& db) {
  return count(db, "SELECT sum(next_offset) FROM ingest_offsets");
}

/// Every table whose content replay must get exactly right, as text: the event tables' lineage
/// (each Kafka message once) and the rollups' sums.
std::string content(const TestDb& db) {
  std::string out;
  for (const char* table : {"invocations", "guardrail_events"}) {
    out +=
        fmt::format("{}: {} rows, {} messages\n", table,
                    db.query(fmt::format("SELECT count(*) FROM {}", table)),
                    db.query(fmt::format(
                        "SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM {}", table)));
  }
  out += "costs: " +
         db.query(
             "SELECT md5(string_agg(concat_ws(' ', tenant_id, period, period_start, cost_usd, "
             "invocations, prompt_tokens, completion_tokens), ',' ORDER BY tenant_id, "
             "period, period_start)) FROM costs") +
         " " + db.query("SELECT sum(cost_usd) || ' ' || sum(invocations) FROM costs") + "\n";
  out += "guardrail_daily: " +
         db.query(
             "SELECT md5(string_agg(concat_ws(' ', tenant_id, verdict, period, "
             "period_start, decisions, score_total), ',' ORDER BY tenant_id, verdict, "
             "period, period_start)) FROM guardrail_daily") +
         " " + db.query("SELECT sum(decisions) || ' ' || sum(score_total) FROM guardrail_daily") +
         "\n";
  return out;
}

void migrate(const TestDb& db, const std::string& catalog) {
  const auto [code, out] = testing::run_command(
      {SENTINEL_BINARY, "migrate", "--pg", db.direct_url(), "--catalog", catalog}, seconds(60));
  ASSERT_EQ(code, 0) << out;
}

std::vector<std::string> run_args(const TestDb& db, const std::string& brokers,
                                  const std::string& catalog, const std::string& max_cost) {
  return {SENTINEL_BINARY,  "run",     "--pg",           db.bouncer_url(), "--brokers",
          brokers,          "--group", "replay",         "--catalog",      catalog,
          "--max-cost-usd", max_cost,  "--offset-reset", "earliest"};
}

TEST(RejectsReplay, TooTightLimitsReplayedExactlyOnceThroughKillsRerunsAndARunningIngestor) {
  TestDb db;   // ingests with tight limits, then replays
  TestDb ref;  // ingests the same messages with the wide limits: what db must end with
  const std::string narrow = guardrail_catalog("replay-narrow", 30);
  const std::string wide = guardrail_catalog("replay-wide", 400);
  migrate(db, narrow);
  migrate(ref, wide);
  db.query(
      "DO $$ BEGIN CREATE ROLE sentinel_test_ingest LOGIN; EXCEPTION WHEN duplicate_object "
      "THEN NULL; END $$");
  db.query("GRANT sentinel_ingest TO sentinel_test_ingest");
  const std::string replay_url = db.bouncer_url() + " user=sentinel_test_ingest";

  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations", "sentinel.guardrails"}, 4);
  const Published first = publish(mock.bootstraps(), 0, 3000, 300, 100, 3000, 19);
  ASSERT_GT(first.costly_invocations, 100);

  // 1. Tight limits: the old decisions and the costly invocations become rejects.
  const std::string log = ::testing::TempDir() + "replay-run.out";
  std::remove(log.c_str());
  {
    testing::Process run(run_args(db, mock.bootstraps(), narrow, "0.01"), log);
    ASSERT_TRUE(testing::wait_until(seconds(120), [&] { return consumed(db) == first.messages; }))
        << testing::read_file(log);
    run.signal(SIGTERM);
    ASSERT_EQ(run.wait(seconds(20)), 0) << testing::read_file(log);
  }
  EXPECT_EQ(db.query("SELECT string_agg(topic || ':' || reason || ':' || n, ',' ORDER BY topic, "
                     "reason) FROM (SELECT topic, reason, count(*) n FROM ingest_rejects GROUP BY "
                     "1, 2) r"),
            fmt::format("sentinel.guardrails:invalid_value:100,sentinel.guardrails:ts_out_of_range:"
                        "3000,sentinel.invocations:invalid_value:{}",
                        first.costly_invocations));

  // 2. The window widened in the catalog file; an ingestor with the wide window (and the tight
  //    cost limit still) takes a second batch while replays run, are killed and run again.
  migrate(db, wide);
  testing::Process run(run_args(db, mock.bootstraps(), wide, "0.01"), log);
  const Published second = publish(mock.bootstraps(), 100000, 500, 200, 0, 2000, 20);
  const std::vector<std::string> replay = {
      SENTINEL_BINARY, "rejects", "replay",         "--pg", replay_url,
      "--catalog",     wide,      "--page-rejects", "100"};
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  int cut_mid_way = 0;
  for (int kill = 0; kill < 5; ++kill) {
    const int64_t before = count(db,
                                 "SELECT count(*) FROM ingest_rejects WHERE replay_state "
                                 "IS NOT NULL");
    const std::string replay_log = ::testing::TempDir() + "replay-killed.out";
    testing::Process p(replay, replay_log);
    // Once it has recorded a page (or after a while), at a random moment.
    testing::wait_until(seconds(20), [&] {
      return count(db, "SELECT count(*) FROM ingest_rejects WHERE replay_state IS NOT NULL") >
             before;
    });
    std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    p.signal(SIGKILL);
    p.wait(seconds(10));
    const int64_t pending =
        count(db, "SELECT count(*) FROM ingest_rejects WHERE replay_state IS NULL");
    if (pending > 0) ++cut_mid_way;
  }
  EXPECT_GT(cut_mid_way, 0) << "no kill landed before the replay's end";

  // 3. Everything consumed; replay to the end, then once more.
  ASSERT_TRUE(testing::wait_until(seconds(120), [&] {
    return consumed(db) == first.messages + second.messages;
  })) << testing::read_file(log);
  const auto [done, done_out] = testing::run_command(replay, seconds(120));
  ASSERT_EQ(done, 0) << done_out;
  const std::string after_replay = content(db);
  const auto [again, again_out] = testing::run_command(replay, seconds(120));
  ASSERT_EQ(again, 0) << again_out;
  std::smatch total;
  ASSERT_TRUE(std::regex_search(again_out, total, std::regex(R"(\ntotal +(\d+) +(\d+) +(\d+))")))
      << again_out;
  EXPECT_EQ(total[1].str() + " " + total[2].str() + " " + total[3].str(), "100 0 100")
      << "the second run makes no row and finds the 100 bad verdicts still invalid:\n"
      << again_out;
  EXPECT_EQ(content(db), after_replay) << "a second run changed something";
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(20)), 0) << testing::read_file(log);

  // The reference: the same messages with the wide limits from the start.
  {
    const std::string ref_log = ::testing::TempDir() + "replay-ref.out";
    testing::Process ref_run(run_args(ref, mock.bootstraps(), wide, "10000"), ref_log);
    ASSERT_TRUE(testing::wait_until(seconds(120), [&] {
      return consumed(ref) == first.messages + second.messages;
    })) << testing::read_file(ref_log);
    ref_run.signal(SIGTERM);
    ASSERT_EQ(ref_run.wait(seconds(20)), 0);
  }
  EXPECT_EQ(content(db), content(ref));
  EXPECT_EQ(count(ref, "SELECT count(*) FROM ingest_rejects"), 100);

  // Every reject replayed once, or still invalid with the reason and detail of now; the second
  // batch's costly invocations were rejects too, and replayed.
  EXPECT_EQ(db.query("SELECT string_agg(coalesce(replay_state, 'pending') || ':' || n, ',' ORDER "
                     "BY replay_state) FROM (SELECT replay_state, count(*) n FROM ingest_rejects "
                     "GROUP BY 1) s"),
            fmt::format("invalid:100,replayed:{}",
                        3000 + first.costly_invocations + second.costly_invocations));
  EXPECT_EQ(db.query("SELECT DISTINCT replay_reason || ': ' || replay_detail FROM ingest_rejects "
                     "WHERE replay_state = 'invalid'"),
            db.query("SELECT DISTINCT reason || ': ' || detail FROM ingest_rejects WHERE "
                     "replay_state = 'invalid'"));
  EXPECT_GE(count(db,
                  "SELECT min(replay_attempts) FROM ingest_rejects WHERE replay_state = "
                  "'invalid'"),
            2)
      << "found still invalid by the last two runs at least";
  // Lineage: a replayed row carries its message's original partition and offset.
  EXPECT_EQ(count(db,
                  "SELECT count(*) FROM ingest_rejects r JOIN invocations i USING "
                  "(kafka_partition, kafka_offset) WHERE r.topic = 'sentinel.invocations'"),
            first.costly_invocations + second.costly_invocations);
}

}  // namespace
}  // namespace sentinel
