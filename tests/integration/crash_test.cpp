// Exactly once under crashes: the real binary is SIGKILLed at random moments and restarted;
// nothing may be lost or doubled, and costs must stay exact.
#include <gtest/gtest.h>
#include <signal.h>

#include <iterator>
#include <random>
#include <thread>

#include "sinks/migrator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using testing::Process;
using testing::TestDb;

TEST(CrashRecovery, SigkillAtRandomMomentsLosesAndDoublesNothing) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(3, {"sentinel.audit", "sentinel.invocations"}, 8);
  // Published in parts, one before each life, so that every life has work however fast the
  // ingestor is (a preloaded run was finished in four lives once it got faster).
  std::vector<GeneratedEvent> events;
  const auto publish = [&](uint64_t count, uint64_t seed) {
    auto more = testing::publish_events(mock.bootstraps(), count, 0.01, seed);
    events.insert(events.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
  };
  publish(20'000, 7);
  const std::string log = ::testing::TempDir() + "crash_test.log";
  const std::vector<std::string> argv = {
      SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps(), "--group",
      "crash", "--status-interval", "1", "--batch-rows", "1000",
      // A killed member leaves the group after 6 s, not 45.
      "--kafka-prop", "session.timeout.ms=6000", "--kafka-prop", "heartbeat.interval.ms=500"};
  std::mt19937 rng(12345);
  int kills = 0;
  // Each life: new events, wait until this instance is visibly ingesting, then SIGKILL it a
  // random moment later, mid-batch more often than not.
  while (kills < 8) {
    if (kills > 0) publish(10'000, 7 + static_cast<uint64_t>(kills));
    const int64_t before = testing::stored_messages(db);
    Process p(argv, log);
    // Polled every 50 ms (wait_for_stored's 200 ms let a fast life store most of the run).
    const bool progressing = testing::wait_until(
        std::chrono::seconds(120), [&] { return testing::stored_messages(db) > before; });
    ASSERT_TRUE(progressing) << testing::read_file(log).substr(0, 20000);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
    p.signal(SIGKILL);
    ASSERT_EQ(p.wait(std::chrono::seconds(10)), 128 + SIGKILL);
    ++kills;
  }
  const auto expected = static_cast<int64_t>(events.size());
  std::printf("killed the ingestor %d times; stored %lld of %lld before the final run\n", kills,
              static_cast<long long>(testing::stored_messages(db)),
              static_cast<long long>(expected));
  const auto starts_before = testing::count_occurrences(testing::read_file(log), "consuming ");
  Process last(argv, log);
  // Up and consuming (signal handlers installed) before it may be stopped.
  ASSERT_TRUE(testing::wait_until(std::chrono::seconds(60), [&] {
    return testing::count_occurrences(testing::read_file(log), "consuming ") > starts_before;
  }));
  const bool done = testing::wait_for_stored(db, expected, std::chrono::seconds(300), [&] {
    return !last.wait(std::chrono::milliseconds(0)).has_value();
  });
  ASSERT_TRUE(done) << "stored " << testing::stored_messages(db) << " of " << expected << "; log:\n"
                    << testing::read_file(log).substr(0, 20000);
  // A graceful stop: SIGTERM, exit 0 within 10 s.
  last.signal(SIGTERM);
  EXPECT_EQ(last.wait(std::chrono::seconds(10)), 0);
  testing::expect_exactly_once(db, events);
}

}  // namespace
}  // namespace sentinel
