#include "pipeline/linger_policy.h"

#include <gtest/gtest.h>

namespace sentinel {
namespace {

using namespace std::chrono_literals;
using Clock = LingerPolicy::Clock;

// At 10 000 events/s with no wait, each ~3 ms commit took the ~31 rows that came meanwhile: a
// transaction and a WAL flush per 31 rows. With the default budget of 100 ms a small batch waits
// until its oldest row is 50 ms old, less the recent commit time.
TEST(LingerPolicy, ASmallBatchWaitsHalfTheBudgetLessTheRecentCommitTime) {
  LingerPolicy p(100ms, std::nullopt);
  EXPECT_EQ(p.linger(), 50ms);
  p.commit_took(8ms);
  EXPECT_EQ(p.linger(), 42ms);
  const auto now = Clock::now();
  // The oldest row came 30 ms ago (it queued while the previous batch committed): 12 ms more.
  EXPECT_EQ(p.deadline(now, 30ms), now + 12ms);
  // Already older than its share: the batch does not wait at all.
  EXPECT_LE(p.deadline(now, 60ms), now);
}

// A slow commit is followed at once (rows would otherwise exceed the budget); a fast one only
// gradually, so that one quick commit among slow ones does not bring the long waits back.
TEST(LingerPolicy, TheCommitEstimateFollowsSlowCommitsAtOnceAndFastOnesGradually) {
  LingerPolicy p(100ms, std::nullopt);
  p.commit_took(80ms);
  EXPECT_EQ(p.linger(), 0ms);  // commits as slow as the budget: never wait
  p.commit_took(0ms);
  EXPECT_EQ(p.commit_estimate(), 75ms);
  for (int i = 0; i < 100; ++i) p.commit_took(2ms);
  EXPECT_LT(p.commit_estimate(), 3ms);
  EXPECT_GT(p.linger(), 47ms);
}

// `--linger-ms` fixes the wait whatever the commits take; `--latency-budget-ms 0` never waits.
TEST(LingerPolicy, AFixedLingerOrANoBudgetOverridesTheEstimate) {
  LingerPolicy fixed(100ms, 5ms);
  fixed.commit_took(40ms);
  EXPECT_EQ(fixed.linger(), 5ms);
  LingerPolicy zero(100ms, 0ms);
  EXPECT_EQ(zero.linger(), 0ms);
  LingerPolicy no_budget(0ms, std::nullopt);
  EXPECT_EQ(no_budget.linger(), 0ms);
}

}  // namespace
}  // namespace sentinel
