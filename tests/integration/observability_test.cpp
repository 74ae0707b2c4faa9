// What an operator watches (architecture.md §7): /metrics, /healthz and /readyz of a real ingest,
// mock Kafka → Pipeline → PostgreSQL through PgBouncer, scraped over HTTP while events flow.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <regex>
#include <sstream>
#include <thread>

#include "app/metrics_server.h"
#include "app/pg_health.h"
#include "pipeline/pipeline.h"
#include "sinks/migrator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::free_port;
using testing::TestDb;

/// The value of the sample whose name and labels are exactly `series`; -1 when absent.
double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return -1;
}

/// Sum of every sample of `name` (any labels).
double sum_of(const std::string& scrape, const std::string& name) {
  std::istringstream in(scrape);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + "{") || line.starts_with(name + " ")) {
      sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return sum;
}

struct Http {
  explicit Http(int port) : client("127.0.0.1", port) {}
  std::pair<int, std::string> get(const std::string& path) {
    auto res = client.Get(path);
    if (!res) return {0, ""};
    return {res->status, res->body};
  }
  httplib::Client client;
};

TEST(Observability, EveryContractMetricIsServedAndTrueDuringARealIngest) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  const int port = free_port();
  Metrics metrics;
  MetricsServer server("127.0.0.1:" + std::to_string(port), metrics);
  Http http(port);
  PgHealthCheck health(db.bouncer_url(), metrics, std::chrono::milliseconds(200));

  // Alive at once; not ready before the consumer is in its group.
  EXPECT_EQ(http.get("/healthz").first, 200);
  EXPECT_TRUE(testing::wait_until(seconds(10), [&] { return metrics.pg_up.load() == 1; }));
  const auto [not_ready, why] = http.get("/readyz");
  EXPECT_EQ(not_ready, 503);
  EXPECT_NE(why.find("not in the consumer group yet"), std::string::npos) << why;

  PipelineOptions p;
  p.pg_url = db.bouncer_url();
  p.brokers = mock.bootstraps();
  p.group = "observability";
  p.writers = 2;
  std::atomic<bool> stop{false};
  int code = -1;
  Pipeline pipeline(p, metrics);
  std::thread runner([&] { code = pipeline.run(stop); });

  // Publish while the ingestor consumes, in rounds, and scrape in the middle once the first
  // batches are committed and the lag (refreshed every second) is known.
  constexpr uint64_t kPerRound = 2'500;
  std::vector<GeneratedEvent> events;
  std::string during;
  for (int round = 0; round < 8; ++round) {
    auto more = testing::publish_events(mock.bootstraps(), kPerRound, 0.05, 100 + round);
    events.insert(events.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (round == 4) {
      ASSERT_TRUE(testing::wait_until(seconds(60), [&] {
        during = http.get("/metrics").second;
        return metrics.batches.load() > 0 &&
               during.find(
                   "sentinel_ingest_consumer_lag{topic=\"sentinel.invocations\","
                   "partition=\"3\"}") != std::string::npos;
      })) << during;
    }
  }
  const bool done =
      testing::wait_for_stored(db, static_cast<int64_t>(events.size()), std::chrono::seconds(300));
  ASSERT_TRUE(done) << testing::stored_messages(db) << " of " << events.size();
  // Lag is refreshed every second from the committed offsets.
  ASSERT_TRUE(testing::wait_until(seconds(20), [&] {
    const std::string s = http.get("/metrics").second;
    return sum_of(s, "sentinel_ingest_consumer_lag") == 0 &&
           sample(s, "sentinel_ingest_consumer_lag{topic=\"sentinel.audit\",partition=\"0\"}") == 0;
  }));
  const auto [ready, ready_body] = http.get("/readyz");
  EXPECT_EQ(ready, 200) << ready_body;
  const auto [status, after] = http.get("/metrics");
  ASSERT_EQ(status, 200);
  if (std::getenv("SENTINEL_PRINT_SCRAPE") != nullptr) {
    std::printf("%s\n--- after ---\n%s", during.c_str(), after.c_str());
  }

  // architecture.md §7, names and labels, in the scrape taken mid-ingest.
  for (const char* series : {
           "sentinel_ingest_messages_consumed_total{topic=\"sentinel.audit\"}",
           "sentinel_ingest_messages_consumed_total{topic=\"sentinel.invocations\"}",
           "sentinel_ingest_rows_written_total{table=\"audit_logs\"}",
           "sentinel_ingest_rows_written_total{table=\"invocations\"}",
           "sentinel_ingest_rejects_total{reason=\"invalid_json\"}",
           "sentinel_ingest_rejects_total{reason=\"missing_field\"}",
           "sentinel_ingest_rejects_total{reason=\"db_rejected\"}",
           "sentinel_ingest_batch_commit_seconds_bucket{le=\"+Inf\"}",
           "sentinel_ingest_batch_commit_seconds_sum",
           "sentinel_ingest_batch_commit_seconds_count",
           "sentinel_ingest_end_to_end_latency_seconds_bucket{le=\"30\"}",
           "sentinel_ingest_end_to_end_latency_seconds_count",
           "sentinel_ingest_consumer_lag{topic=\"sentinel.invocations\",partition=\"3\"}",
           "sentinel_ingest_inflight_bytes",
           "sentinel_ingest_pg_up",
           "sentinel_ingest_assigned_partitions",
           "sentinel_ingest_paused_partitions",
           "sentinel_ingest_batches_total",
           "sentinel_ingest_batch_bytes_total",
           "sentinel_ingest_batch_rows_count",
           "sentinel_ingest_retries_total",
           "sentinel_ingest_reconnects_total",
           "sentinel_ingest_bisections_total",
           "sentinel_ingest_partitions_ensured_total",
           "sentinel_ingest_last_commit_timestamp_seconds",
       }) {
    EXPECT_GE(sample(during, series), 0) << series << " missing from\n" << during;
  }
  EXPECT_NE(during.find("# TYPE sentinel_ingest_batch_commit_seconds histogram"),
            std::string::npos);
  EXPECT_NE(during.find("# TYPE sentinel_ingest_end_to_end_latency_seconds histogram"),
            std::string::npos);
  EXPECT_NE(during.find("# TYPE sentinel_ingest_consumer_lag gauge"), std::string::npos);
  // Every sample line is `name{labels} value` with a name of ours, or a process_* one of the
  // Prometheus convention.
  const std::regex line_re(
      R"(^(sentinel_ingest|process)_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$)");
  std::istringstream in(after);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, line_re)) << line;
  }

  // Every metric the sample alert rules use is one we export.
  const std::string alerts =
      testing::read_file(std::string(SENTINEL_SOURCE_DIR) + "/docker/prometheus/alerts.yml");
  ASSERT_FALSE(alerts.empty());
  const std::regex metric_re(R"(sentinel_ingest_[a-z_]+)");
  for (auto it = std::sregex_iterator(alerts.begin(), alerts.end(), metric_re);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix) && after.find("# TYPE " + name + " ") == std::string::npos) {
        name.resize(name.size() - std::strlen(suffix));
      }
    }
    EXPECT_NE(after.find("# TYPE " + name + " "), std::string::npos)
        << "alerts.yml uses " << it->str() << ", which /metrics does not serve";
  }

  // And the numbers are true once everything is stored.
  const double n = static_cast<double>(events.size());
  EXPECT_EQ(sum_of(after, "sentinel_ingest_messages_consumed_total"), n);
  const double rows = sum_of(after, "sentinel_ingest_rows_written_total");
  EXPECT_EQ(rows + sum_of(after, "sentinel_ingest_rejects_total"), n);
  EXPECT_EQ(sample(after, "sentinel_ingest_rows_written_total{table=\"audit_logs\"}"),
            std::stod(db.query("SELECT count(*) FROM audit_logs")));
  EXPECT_EQ(sum_of(after, "sentinel_ingest_rejects_total"),
            std::stod(db.query("SELECT count(*) FROM ingest_rejects")));
  EXPECT_EQ(sample(after, "sentinel_ingest_end_to_end_latency_seconds_count"), rows);
  // The ingestor's own share of the latency, for every row; a share of the whole, so smaller.
  EXPECT_EQ(sample(after, "sentinel_ingest_ingest_latency_seconds_count"), rows);
  EXPECT_GT(sample(after, "sentinel_ingest_ingest_latency_seconds_sum"), 0);
  EXPECT_LT(sample(after, "sentinel_ingest_ingest_latency_seconds_sum"),
            sample(after, "sentinel_ingest_end_to_end_latency_seconds_sum"));
  EXPECT_EQ(sample(after, "sentinel_ingest_batch_commit_seconds_count"),
            sample(after, "sentinel_ingest_batches_total"));
  EXPECT_GT(sample(after, "sentinel_ingest_batch_bytes_total"), 0);
  EXPECT_GT(sample(after, "sentinel_ingest_partitions_ensured_total"), 0);
  EXPECT_EQ(sample(after, "sentinel_ingest_pg_up"), 1);
  EXPECT_EQ(sample(after, "sentinel_ingest_assigned_partitions"), 8);
  EXPECT_EQ(sample(after, "sentinel_ingest_inflight_bytes"), 0);
  const double last_commit = sample(after, "sentinel_ingest_last_commit_timestamp_seconds");
  EXPECT_NEAR(last_commit, static_cast<double>(std::time(nullptr)), 120);

  stop = true;
  runner.join();
  EXPECT_EQ(code, 0) << pipeline.fatal_message();
}

TEST(Observability, PgUpFollowsTheServerWhileIdle) {
  TestDb db;
  Metrics metrics;
  {
    PgHealthCheck health(db.bouncer_url(), metrics, std::chrono::milliseconds(100));
    EXPECT_TRUE(testing::wait_until(seconds(10), [&] { return metrics.pg_up.load() == 1; }));
  }
  // Nothing listens on port 1: down, and the check gives up within its timeout.
  const auto started = std::chrono::steady_clock::now();
  {
    PgHealthCheck health("host=127.0.0.1 port=1 dbname=x user=x password=hunter2-secret", metrics,
                         std::chrono::milliseconds(100), std::chrono::milliseconds(500));
    EXPECT_TRUE(testing::wait_until(seconds(10), [&] { return metrics.pg_up.load() == 0; }));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  // A server that accepts TCP but never answers (a hung PostgreSQL) is down after the timeout.
  const testing::SilentServer server;
  metrics.pg_up = 1;
  {
    PgHealthCheck health(
        "host=127.0.0.1 port=" + std::to_string(server.port()) + " dbname=x user=x", metrics,
        std::chrono::milliseconds(100), std::chrono::milliseconds(300));
    EXPECT_TRUE(testing::wait_until(seconds(10), [&] { return metrics.pg_up.load() == 0; }));
  }
}

}  // namespace
}  // namespace sentinel
