#include "pipeline/metrics.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "pipeline/process_stats.h"

namespace sentinel {
namespace {

// A writer tallies a batch's latencies locally and adds them at once; /metrics must show
// exactly what observing them one by one would have shown.
TEST(Histogram, ATallyAddsUpToTheSameAsObservingEachValue) {
  const std::vector<double> bounds = {0.01, 0.05, 0.1, 0.5};
  Histogram one_by_one(bounds);
  Histogram tallied(bounds);
  Histogram::Tally tally(tallied);
  const double values[] = {0.001, 0.01, 0.02, 0.07, 0.3, 2.0, -0.5, 0.05};
  for (double v : values) {
    one_by_one.observe(v);
    tally.observe(v);
  }
  one_by_one.observe(0.2, 5);
  tally.observe(0.2, 5);
  EXPECT_EQ(tallied.count(), 0u) << "nothing is visible before add()";
  tallied.add(tally);

  std::string a, b;
  one_by_one.render(a, "x", "help");
  tallied.render(b, "x", "help");
  EXPECT_EQ(a, b);
  EXPECT_EQ(tallied.count(), 13u);
  EXPECT_NE(b.find("x_bucket{le=\"0.5\"} 12"), std::string::npos) << b;
}

// Issue 18: rows_written{table} and messages_consumed{topic} are labelled by what the catalog and
// the topics say, for any number of types, not by a compiled-in list.
TEST(Metrics, StreamsAreLabelledByTheCatalogsTablesAndTheTopics) {
  Metrics metrics;
  metrics.set_streams({"sentinel.audit", "sentinel.invocations", "other.guardrails"},
                      {"audit_logs", "invocations", "guardrail_events"});
  metrics.rows_written[2] += 7;
  metrics.messages_consumed[2] += 9;
  const std::string text = metrics.render();
  EXPECT_NE(text.find("sentinel_ingest_rows_written_total{table=\"guardrail_events\"} 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sentinel_ingest_rows_written_total{table=\"audit_logs\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sentinel_ingest_messages_consumed_total{topic=\"other.guardrails\"} 9\n"),
            std::string::npos)
      << text;

  // Named again (a new pipeline): counted from zero under the new names.
  metrics.set_streams({"t"}, {"only_table"});
  const std::string again = metrics.render();
  EXPECT_EQ(again.find("guardrail_events"), std::string::npos) << again;
  EXPECT_NE(again.find("sentinel_ingest_rows_written_total{table=\"only_table\"} 0\n"),
            std::string::npos)
      << again;
}

// Issue 21: an operator sees what runs (build_info), what the process costs (process_* as every
// Prometheus client names them) and whether Kafka is reachable, next to the pipeline's metrics.
TEST(Metrics, BuildInfoProcessAndKafkaBrokersAreExported) {
  Metrics metrics;
  std::string text = metrics.render();
  EXPECT_NE(text.find("sentinel_ingest_build_info{version=\""), std::string::npos) << text;
  EXPECT_NE(text.find("\",librdkafka=\"" + metrics.build.librdkafka + "\"} 1\n"), std::string::npos)
      << text;
  EXPECT_FALSE(metrics.build.commit.empty());
  for (const char* name :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_max_fds ", "process_start_time_seconds ", "process_virtual_memory_bytes "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << "\n" << text;
  }
  // Unknown until librdkafka's first statistics: declared, no sample (not a false 0).
  EXPECT_NE(text.find("# TYPE sentinel_ingest_kafka_brokers_up gauge\n"), std::string::npos);
  EXPECT_EQ(text.find("\nsentinel_ingest_kafka_brokers_up "), std::string::npos) << text;
  metrics.kafka_brokers_up = 3;
  text = metrics.render();
  EXPECT_NE(text.find("\nsentinel_ingest_kafka_brokers_up 3\n"), std::string::npos) << text;
}

// /proc/PID/stat's second field is the command in parentheses, which may itself hold spaces and
// parentheses: the fields after it are counted from the last ')'.
TEST(ProcessStats, ParsesProcStatWithAnAwkwardCommandName) {
  std::string stat = "4242 (sentinel (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 ";
  stat += "250 150 0 0 20 0 7 0 ";  // utime 250, stime 150 (fields 14, 15) ... field 21
  stat += "5000 ";                  // starttime (field 22), in ticks since boot
  stat += "123456789 2048 ";        // vsize (23) in bytes, rss (24) in pages
  stat += "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  ProcessStats s;
  s.parse_stat(stat, 100.0, 4096, 1700000000);
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(s.start_time_seconds, 1700000050.0);
  EXPECT_EQ(s.virtual_bytes, 123456789);
  EXPECT_EQ(s.resident_bytes, 2048 * 4096);

  ProcessStats bad;
  bad.parse_stat("garbage", 100.0, 4096, 1700000000);
  EXPECT_LT(bad.cpu_seconds, 0);
  std::string out;
  bad.render(out);
  EXPECT_EQ(out, "") << "an unreadable value is left out, not exported as -1";
}

// Read from this very process: plausible values, not zeros.
TEST(ProcessStats, ReadsThisProcess) {
  const ProcessStats s = ProcessStats::read();
  EXPECT_GT(s.resident_bytes, 1 << 20);
  EXPECT_GE(s.virtual_bytes, s.resident_bytes);
  EXPECT_GE(s.open_fds, 3);
  EXPECT_GT(s.max_fds, s.open_fds);
  EXPECT_GE(s.cpu_seconds, 0);
  EXPECT_GT(s.start_time_seconds, 1.6e9);
  EXPECT_LE(s.start_time_seconds, static_cast<double>(time(nullptr)) + 1);
}

}  // namespace
}  // namespace sentinel
