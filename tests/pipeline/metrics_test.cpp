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

}  // namespace
}  // namespace sentinel
