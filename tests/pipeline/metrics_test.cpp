#include "pipeline/metrics.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace sentinel
