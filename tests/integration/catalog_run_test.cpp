// Issue 18, end to end through the binary: `run --catalog DIR` ingests a third event type (the
// guardrail example) from the topic `--topic guardrail=...` names into its own table, next to the
// built-in types (one of them moved by its old alias flag), and /metrics labels its rows by table.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::TestDb;

const std::string kCatalogDir = SENTINEL_SOURCE_DIR "/tests/data/catalog";

/// The value of the sample whose name and labels are exactly `series`; -1 when absent.
double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A valid guardrail decision of now (ts as epoch milliseconds), its values varied by `i`; the
/// unknown field `model` is kept.
std::string guardrail_event(int i) {
  static const char* const kVerdicts[] = {"allow", "block", "redact"};
  return fmt::format(
      R"({{"decision_id":"00000000-0000-4000-8000-{:012d}","ts":{},"tenant_id":"tenant-{}",)"
      R"("verdict":"{}","score":"0.{:04d}","usage":{{"prompt_tokens":{}}},)"
      R"("client_ip":"10.0.0.{}","flagged":{},"categories":["pii"],"model":"m-{}"}})",
      i, now_ms(), i % 3, kVerdicts[i % 3], i, 100 + i, i % 250, i % 2 == 0 ? "true" : "false", i);
}

TEST(CatalogRun, AThirdTypeIsReadFromItsOwnTopicIntoItsTableAndLabelledInMetrics) {
  TestDb db;
  const auto [migrated, migrate_out] = testing::run_command(
      {SENTINEL_BINARY, "migrate", "--pg", db.direct_url(), "--catalog", kCatalogDir}, seconds(60));
  ASSERT_EQ(migrated, 0) << migrate_out;

  // Not the default topics: the guardrail type by --topic, audit by its old alias.
  MockCluster mock(1, {"other.audit", "sentinel.invocations", "other.guardrails"}, 2);
  constexpr int kGuardrails = 300;
  constexpr int kAudits = 200;
  {
    Publisher publisher(mock.bootstraps(), {});
    for (int i = 0; i < kGuardrails; ++i) {
      publisher.produce("other.guardrails", "tenant-" + std::to_string(i % 3), guardrail_event(i));
    }
    // Refused by the guardrail schema: an unknown verdict, a missing one.
    publisher.produce("other.guardrails", "x",
                      R"({"decision_id":"00000000-0000-4000-8000-)"
                      R"(999999999999","ts":"2026-01-01T00:00:00Z",)"
                      R"("tenant_id":"t","verdict":"maybe"})");
    publisher.produce("other.guardrails", "x",
                      R"({"decision_id":"00000000-0000-4000-8000-)"
                      R"(999999999998","ts":"2026-01-01T00:00:00Z",)"
                      R"("tenant_id":"t"})");
    GeneratorOptions g;
    g.seed = 18;
    g.invalid_ratio = 0;
    EventGenerator gen(g);
    for (int n = 0; n < kAudits;) {
      const GeneratedEvent e = gen.next();
      if (e.topic_index != 0) continue;  // audit events only
      publisher.produce("other.audit", e.key, e.payload);
      ++n;
    }
    publisher.flush();
  }

  const int port = testing::free_port();
  const std::string log = ::testing::TempDir() + "catalog-run.out";
  std::remove(log.c_str());
  testing::Process run(
      {SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps(), "--group",
       "catalog", "--catalog", kCatalogDir, "--topic", "guardrail=other.guardrails",
       "--audit-topic", "other.audit", "--metrics-listen", "127.0.0.1:" + std::to_string(port)},
      log);
  const auto count = [&](const std::string& sql) { return std::stoll("0" + db.query(sql)); };
  ASSERT_TRUE(testing::wait_until(seconds(120), [&] {
    return count("SELECT count(*) FROM guardrail_events") == kGuardrails &&
           count("SELECT count(*) FROM audit_logs") == kAudits &&
           count("SELECT count(*) FROM ingest_rejects") == 2;
  })) << testing::read_file(log);

  // Each decision once, with its values, in its month partition.
  EXPECT_EQ(db.query("SELECT count(DISTINCT decision_id) FROM guardrail_events"),
            std::to_string(kGuardrails));
  EXPECT_EQ(db.query("SELECT verdict || ' ' || score || ' ' || prompt_tokens || ' ' || "
                     "host(client_ip) || ' ' || flagged || ' ' || (tableoid::regclass::text = "
                     "'guardrail_events_' || to_char(ts AT TIME ZONE 'UTC', 'YYYY_MM')) "
                     "FROM guardrail_events WHERE decision_id = "
                     "'00000000-0000-4000-8000-000000000007'"),
            "block 0.0007 107 10.0.0.7 false true");
  EXPECT_EQ(db.query("SELECT string_agg(DISTINCT topic || ':' || reason, ',') FROM "
                     "ingest_rejects"),
            "other.guardrails:invalid_value,other.guardrails:missing_field");
  // Its rollup, in the same transactions: every decision counted once per period, the scores
  // (0.0000 to 0.0299) summed exactly.
  EXPECT_EQ(db.query("SELECT string_agg(period || ' ' || n || ' ' || s, ',' ORDER BY period) FROM "
                     "(SELECT period, sum(decisions) AS n, sum(score_total) AS s FROM "
                     "guardrail_daily GROUP BY period) p"),
            "day 300 4.4850,month 300 4.4850");
  EXPECT_EQ(db.query("SELECT sum(next_offset) FROM ingest_offsets WHERE topic = "
                     "'other.guardrails'"),
            std::to_string(kGuardrails + 2));

  httplib::Client http("127.0.0.1", port);
  std::string metrics;
  ASSERT_TRUE(testing::wait_until(seconds(20), [&] {
    const auto res = http.Get("/metrics");
    metrics = res ? res->body : "";
    return sample(metrics, "sentinel_ingest_rows_written_total{table=\"guardrail_events\"}") ==
           kGuardrails;
  })) << metrics;
  EXPECT_EQ(sample(metrics, "sentinel_ingest_rows_written_total{table=\"audit_logs\"}"), kAudits);
  EXPECT_EQ(sample(metrics, "sentinel_ingest_rows_written_total{table=\"invocations\"}"), 0);
  EXPECT_EQ(sample(metrics, "sentinel_ingest_messages_consumed_total{topic=\"other.guardrails\"}"),
            kGuardrails + 2);

  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(20)), 0) << testing::read_file(log);
  const std::string out = testing::read_file(log);
  EXPECT_NE(out.find("event type guardrail: topic other.guardrails → table guardrail_events"),
            std::string::npos)
      << out;
}

// The catalog `run` is given is the one the database is checked against: a database migrated for
// the built-in types only is refused (exit 2, naming the type and the fix), nothing consumed.
TEST(CatalogRun, ACatalogTheDatabaseWasNotMigratedForExits2NamingTheFix) {
  TestDb db;
  const auto [migrated, migrate_out] =
      testing::run_command({SENTINEL_BINARY, "migrate", "--pg", db.direct_url()}, seconds(60));
  ASSERT_EQ(migrated, 0) << migrate_out;
  const auto [code, out] =
      testing::run_command({SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers",
                            "127.0.0.1:1", "--catalog", kCatalogDir},
                           seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("guardrail"), std::string::npos) << out;
  EXPECT_NE(out.find("sentinel-ingest migrate"), std::string::npos) << out;
  EXPECT_EQ(db.query("SELECT count(*) FROM ingest_offsets"), "0");
}

}  // namespace
}  // namespace sentinel
