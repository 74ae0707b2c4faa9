// The backpressure controller on its own: byte counts and a clock in, throttle/pause decisions
// out (no Kafka, no PostgreSQL).
#include "pipeline/backpressure.h"

#include <gtest/gtest.h>

namespace sentinel {
namespace {

using namespace std::chrono_literals;
using Clock = Backpressure::Clock;

// Two writers sharing 1000 bytes: 500 each; a writer resumes below 250.
constexpr size_t kBudget = 1000;
constexpr auto kPauseAfter = 2000ms;

// The documented sequence a user sees when PostgreSQL stalls one writer: the consumer is first
// slowed down, the writer's partitions are paused only after pause_after, and they resume
// once the writer has drained below half its share.
TEST(Backpressure, AWriterOverBudgetFirstThrottlesThenPausesAndResumesWhenItDrains) {
  Backpressure b(kBudget, 2, kPauseAfter);
  const auto t0 = Clock::now();
  b.charge(0, 600);
  b.charge(1, 450);
  b.update(t0);
  EXPECT_TRUE(b.throttled()) << "1050 bytes in flight over a 1000-byte budget";
  EXPECT_FALSE(b.writer_paused(0)) << "paused before pause_after";

  b.update(t0 + kPauseAfter - 1ms);
  EXPECT_TRUE(b.throttled());
  EXPECT_FALSE(b.writer_paused(0));

  b.update(t0 + kPauseAfter);
  EXPECT_TRUE(b.writer_paused(0)) << "over its share for pause_after";
  EXPECT_FALSE(b.writer_paused(1));
  EXPECT_FALSE(b.throttled()) << "the writer still fetching (450 of 500) is not over budget";

  b.release(0, 340);  // 260: under its share, not yet under half of it
  b.update(t0 + kPauseAfter + 10ms);
  EXPECT_TRUE(b.writer_paused(0)) << "resumed above half its share";

  b.release(0, 20);  // 240
  b.update(t0 + kPauseAfter + 20ms);
  EXPECT_FALSE(b.writer_paused(0)) << "drained below half its share";
  EXPECT_EQ(b.inflight(), 240 + 450);
}

// One writer briefly over its share while the other has room: nobody is held back.
TEST(Backpressure, OneWriterOverItsShareWhileAnotherHasRoomDoesNotThrottle) {
  Backpressure b(kBudget, 2, kPauseAfter);
  b.charge(0, 700);
  b.charge(1, 100);
  b.update(Clock::now());
  EXPECT_FALSE(b.throttled());
  EXPECT_FALSE(b.writer_paused(0));
}

// A writer that dips back under its share (one large batch committed) starts its pause_after
// over: being over budget now and then is not a stall.
TEST(Backpressure, AWriterBackUnderItsShareIsNotPausedForEarlierTimeOver) {
  Backpressure b(kBudget, 2, kPauseAfter);
  const auto t0 = Clock::now();
  b.charge(0, 600);
  b.update(t0);
  b.release(0, 200);  // 400: under its share
  b.update(t0 + 1500ms);
  b.charge(0, 200);  // over again
  b.update(t0 + 2500ms);
  b.update(t0 + 2500ms + kPauseAfter - 1ms);
  EXPECT_FALSE(b.writer_paused(0)) << "over since t0 + 2.5 s, not for pause_after yet";
  b.update(t0 + 2500ms + kPauseAfter);
  EXPECT_TRUE(b.writer_paused(0));
}

// A batch takes at most half of its writer's share: the other half is where the next one is
// built while it commits.
TEST(Backpressure, ABatchTakesAtMostHalfAWritersShare) {
  EXPECT_EQ(Backpressure(kBudget, 2, kPauseAfter).batch_share(), 250u);
  EXPECT_EQ(Backpressure(kBudget, 4, kPauseAfter).batch_share(), 125u);
}

}  // namespace
}  // namespace sentinel
