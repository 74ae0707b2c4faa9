// The fault-injection suite: the real binary ingests a live stream while things break around it
// (SIGKILL, PostgreSQL restarts and outages, PgBouncer restarts, Kafka brokers down and leaders
// moving, instances joining and leaving, a stalled zombie, a failover to a promoted standby).
// Every scenario ends with the exactly-once check and prints one result line:
//   FAULTS-RESULT scenario=… events=… lost=… doubled=… recover_s=…
// Each scenario starts its own PostgreSQL (+ PgBouncer) with scripts/pg.sh, so it can restart
// them. SENTINEL_FAULTS_SIZE=small (default, for CI) or large (by hand); SENTINEL_FAULTS_REPORT
// names a file the result lines are appended to.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "sinks/migrator.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "tests/integration/expectations.h"
#include "tests/integration/fault_helpers.h"
#include "tests/integration/pg_server.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using namespace faults;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PgServer;
using testing::Process;
using testing::TestDb;

// -------------------------------------------------------------------------------------------

TEST(Faults, SigkillManyTimesDuringALongRun) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  // A longer, slower stream than the others, so that every life has something to do: each life
  // lasts at least the 6 s the dead member before it takes to leave the group.
  const uint64_t total = sz.large ? 480'000 : 150'000;
  LiveStream stream(mock.bootstraps(), total, 1'000, 101);
  const std::string log = log_path("sigkill");
  const auto argv = ingest_argv(db.bouncer_url(), mock.bootstraps(), "kill");
  std::mt19937 rng(4242);
  int kills = 0;
  double worst_recover = 0;
  while (kills < sz.kills) {
    const int64_t before = testing::stored_messages(db);
    if (stream.produced() == total && before >= static_cast<int64_t>(total)) break;
    Process p(argv, log);
    const auto t0 = Clock::now();
    ASSERT_TRUE(testing::wait_for_stored(db, before + 1, seconds(120))) << tail(log);
    worst_recover = std::max(worst_recover, since(t0));
    // Mid-batch more often than not: batches commit every few tens of milliseconds.
    std::this_thread::sleep_for(milliseconds(rng() % 1500));
    p.signal(SIGKILL);
    ASSERT_EQ(p.wait(seconds(10)), 128 + SIGKILL);
    ++kills;
  }
  Process last(argv, log);
  ASSERT_TRUE(testing::wait_until(seconds(60), [&] { return started(log, kills + 1); }));
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !last.wait(milliseconds(0)).has_value(); });
  stop_gracefully(last, log);
  std::printf("killed %d times\n", kills);
  EXPECT_GE(kills, sz.kills) << "the stream ended before enough kills: make it longer";
  finish(mock.bootstraps(), "sigkill_x" + std::to_string(kills), db, events, worst_recover);
}

TEST(Faults, PostgresRestartedFastAndImmediateMidBatch) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  LiveStream stream(mock.bootstraps(), sz.events, sz.rate, 102);
  const std::string log = log_path("pg_restart");
  // Direct to PostgreSQL: the restarts cut the writers' own connections mid-transaction.
  Process p(ingest_argv(db.direct_url(), mock.bootstraps(), "restart"), log);
  double worst = 0;
  for (const char* mode : {"fast", "immediate", "fast", "immediate"}) {
    ASSERT_TRUE(testing::wait_for_stored(db, testing::stored_messages(db) + 1, seconds(60)))
        << tail(log);
    std::this_thread::sleep_for(milliseconds(700));
    const double r = time_to_progress(db, static_cast<int64_t>(sz.events), seconds(120),
                                      [&] { pg.ctl("restart", {mode}); });
    ASSERT_GE(r, 0) << "no progress after restart -m " << mode << "\n" << tail(log);
    std::printf("restart -m %s: committing again after %.1f s\n", mode, r);
    worst = std::max(worst, r);
  }
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !p.wait(milliseconds(0)).has_value(); });
  stop_gracefully(p, log);
  finish(mock.bootstraps(), "pg_restart_fast_immediate", db, events, worst);
}

TEST(Faults, PostgresDownForAWhileStaysInBudgetAndInGroupThenResumes) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  LiveStream stream(mock.bootstraps(), sz.events, sz.rate, 103);
  const std::string log = log_path("pg_down");
  constexpr int kBudgetMb = 16;
  Process p(ingest_argv(db.bouncer_url(), mock.bootstraps(), "down",
                        {"--inflight-mb", std::to_string(kBudgetMb)}),
            log);
  ASSERT_TRUE(testing::wait_for_stored(db, 1, seconds(60))) << tail(log);
  std::this_thread::sleep_for(seconds(2));
  const auto assigned_before = testing::count_occurrences(testing::read_file(log), "assigned ");
  const auto revoked_before = testing::count_occurrences(testing::read_file(log), "revoked ");
  const int64_t rss_before = rss_kib(p.pid());
  pg.ctl("down", {"fast"});
  const auto down_at = Clock::now();
  int64_t rss_max = rss_before;
  while (since(down_at) < sz.pg_down_s) {
    ASSERT_FALSE(p.wait(milliseconds(0)).has_value()) << "exited while PostgreSQL was down\n"
                                                      << tail(log);
    rss_max = std::max(rss_max, rss_kib(p.pid()));
    std::this_thread::sleep_for(milliseconds(250));
  }
  const std::string during = testing::read_file(log);
  pg.ctl("up");
  const double recover = time_to_progress(db, static_cast<int64_t>(sz.events), seconds(120));
  ASSERT_GE(recover, 0) << tail(log);
  std::printf(
      "PostgreSQL down %d s: RSS %lld KiB before, %lld KiB max (budget %d MiB); "
      "committing again %.1f s after it came back\n",
      sz.pg_down_s, static_cast<long long>(rss_before), static_cast<long long>(rss_max), kBudgetMb,
      recover);
  // Memory: the backlog stays in Kafka; the process grows by no more than the in-flight budget
  // plus librdkafka's buffers of the paused partitions.
  EXPECT_LT(rss_max - rss_before, (2 * kBudgetMb + 48) * 1024);
  EXPECT_NE(during.find("paused"), std::string::npos);
  // The consumer stayed in its group: no partition moved while PostgreSQL was away.
  EXPECT_EQ(testing::count_occurrences(during, "revoked "), revoked_before);
  EXPECT_EQ(testing::count_occurrences(during, "assigned "), assigned_before);
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !p.wait(milliseconds(0)).has_value(); });
  stop_gracefully(p, log);
  finish(mock.bootstraps(), "pg_down_" + std::to_string(sz.pg_down_s) + "s", db, events, recover);
}

TEST(Faults, RebalanceWhilePostgresIsDownNeitherBlocksNorLoses) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  // Still streaming after the outage, so that b's old partitions must move on from a.
  LiveStream stream(mock.bootstraps(), sz.events * 3, sz.rate, 109);
  const std::string log_a = log_path("outage_rebalance_a"), log_b = log_path("outage_rebalance_b");
  const auto argv = ingest_argv(db.bouncer_url(), mock.bootstraps(), "outage");
  Process a(argv, log_a);
  ASSERT_TRUE(testing::wait_for_stored(db, 1, seconds(60))) << tail(log_a);
  Process b(argv, log_b);
  ASSERT_TRUE(testing::wait_until(seconds(60), [&] { return has_assignment(log_b); }))
      << tail(log_b);
  std::this_thread::sleep_for(seconds(3));
  pg.ctl("down", {"fast"});
  const auto down_at = Clock::now();
  std::this_thread::sleep_for(seconds(2));
  // b leaves while PostgreSQL is away: a is assigned b's partitions and cannot read their
  // stored offsets. It must keep polling (status lines go on) and b must still stop in time.
  b.signal(SIGTERM);
  EXPECT_EQ(b.wait(seconds(15)), 0) << tail(log_b);
  const auto status_before = testing::count_occurrences(testing::read_file(log_a), "status:");
  std::this_thread::sleep_for(seconds(std::max(5, sz.pg_down_s / 2)));
  const std::string during = testing::read_file(log_a);
  EXPECT_GE(testing::count_occurrences(during, "status:"), status_before + 3)
      << "the poll loop of a stalled while PostgreSQL was down:\n"
      << tail(log_a);
  EXPECT_NE(during.find("starting when its stored offset can be read"), std::string::npos)
      << tail(log_a);
  const auto up_at = Clock::now();
  pg.ctl("up");
  ASSERT_GE(time_to_progress(db, static_cast<int64_t>(sz.events * 3), seconds(120)), 0)
      << tail(log_a);
  const double recover = since(up_at);
  std::printf("PostgreSQL down %.0f s with a rebalance in it\n", since(down_at));
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log_a,
                  [&] { return !a.wait(milliseconds(0)).has_value(); });
  stop_gracefully(a, log_a);
  EXPECT_NE(testing::read_file(log_a).find("]: starting at"), std::string::npos)
      << "the partitions assigned during the outage never started";
  finish(mock.bootstraps(), "rebalance_during_pg_outage", db, events, recover);
}

TEST(Faults, PgBouncerRestartedMidRun) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  LiveStream stream(mock.bootstraps(), sz.events, sz.rate, 104);
  const std::string log = log_path("bouncer");
  Process p(ingest_argv(db.bouncer_url(), mock.bootstraps(), "bouncer"), log);
  double worst = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(testing::wait_for_stored(db, testing::stored_messages(db) + 1, seconds(60)))
        << tail(log);
    std::this_thread::sleep_for(milliseconds(900));
    const double r = time_to_progress(db, static_cast<int64_t>(sz.events), seconds(120),
                                      [&] { pg.ctl("bouncer-restart"); });
    ASSERT_GE(r, 0) << tail(log);
    worst = std::max(worst, r);
  }
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !p.wait(milliseconds(0)).has_value(); });
  stop_gracefully(p, log);
  finish(mock.bootstraps(), "pgbouncer_restart_x3", db, events, worst);
}

TEST(Faults, KafkaBrokerDownAndLeaderChanges) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  // Slow enough that the stream outlasts the three outages: there is always something new to
  // store after a broker comes back.
  LiveStream stream(mock.bootstraps(), sz.events, std::min(sz.rate, 1'000), 105);
  const std::string log = log_path("kafka");
  Process p(ingest_argv(db.bouncer_url(), mock.bootstraps(), "kafka"), log);
  ASSERT_TRUE(testing::wait_for_stored(db, 1, seconds(60))) << tail(log);
  double worst = 0;
  for (int32_t broker = 1; broker <= 3; ++broker) {
    ASSERT_EQ(rd_kafka_mock_broker_set_down(mock.raw(), broker), RD_KAFKA_RESP_ERR_NO_ERROR);
    std::this_thread::sleep_for(seconds(sz.broker_down_s));
    ASSERT_EQ(rd_kafka_mock_broker_set_up(mock.raw(), broker), RD_KAFKA_RESP_ERR_NO_ERROR);
    const double r = time_to_progress(db, static_cast<int64_t>(sz.events), seconds(120));
    ASSERT_GE(r, 0) << "no progress after broker " << broker << " came back; produced "
                    << stream.produced() << ", acknowledged " << stream.delivered() << "\n"
                    << kafka_accounting(mock.bootstraps(), db, stream.produced()) << tail(log);
    worst = std::max(worst, r);
    // Every partition moves to another leader.
    for (const auto& topic : kTopics) {
      for (int32_t part = 0; part < kPartitions; ++part) {
        rd_kafka_mock_partition_set_leader(mock.raw(), topic.c_str(), part,
                                           (part + broker) % 3 + 1);
      }
    }
    std::this_thread::sleep_for(seconds(2));
  }
  const auto& produced = stream.finish();
  // The oracle is what Kafka holds, read back independently: every message there must be
  // exactly one row or reject. See held_by_kafka() for why that can be less than produced.
  const KafkaContents kafka = read_kafka(mock.bootstraps());
  ASSERT_TRUE(kafka.error.empty()) << kafka.error;
  size_t dropped = 0, copies = 0, unknown = 0;
  const std::vector<GeneratedEvent> events =
      held_by_kafka(produced, stream.fingerprints(), kafka, dropped, copies, unknown);
  ASSERT_EQ(unknown, 0u) << "Kafka holds messages that were never produced";
  if (dropped > 0) {
    std::printf("the mock cluster lost %zu of %zu acknowledged messages during the outages\n",
                dropped, produced.size());
  }
  if (copies > 0) {
    std::printf("the mock cluster stored %zu retried messages twice; each copy is owed once\n",
                copies);
  }
  EXPECT_LT(copies, produced.size() / 100) << "the mock doubled more than 1% of the stream";
  EXPECT_LT(dropped, produced.size() / 100) << "the mock lost more than 1% of the stream";
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !p.wait(milliseconds(0)).has_value(); });
  stop_gracefully(p, log);
  finish(mock.bootstraps(), "kafka_broker_down_x3_leader_moves", db, events, worst);
}

TEST(Faults, ScaleOutThreeInstancesJoiningAndLeaving) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  LiveStream stream(mock.bootstraps(), sz.events * 2, sz.rate, 106);
  const auto argv = ingest_argv(db.bouncer_url(), mock.bootstraps(), "scale", {"--writers", "1"});
  std::map<std::string, std::unique_ptr<Process>> running;
  std::map<std::string, std::string> logs;
  auto start = [&](const std::string& name) {
    logs[name] = log_path("scale_" + name);
    running[name] = std::make_unique<Process>(argv, logs[name]);
  };
  auto progress = [&] {
    ASSERT_TRUE(testing::wait_for_stored(db, testing::stored_messages(db) + 1, seconds(90)))
        << tail(logs.begin()->second);
  };
  start("a");
  progress();
  start("b");
  start("c");
  std::this_thread::sleep_for(seconds(8));
  progress();
  // b leaves cleanly, d joins, c dies without leaving, e joins.
  stop_gracefully(*running["b"], logs["b"]);
  running.erase("b");
  start("d");
  std::this_thread::sleep_for(seconds(6));
  progress();
  running["c"]->signal(SIGKILL);
  running["c"]->wait(seconds(10));
  running.erase("c");
  start("e");
  const auto t0 = Clock::now();
  progress();
  const double recover = since(t0);
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), logs["a"]);
  int with_partitions = 0;
  for (const auto& [name, log] : logs) with_partitions += has_assignment(log);
  EXPECT_GE(with_partitions, 4) << "the group did not share the partitions";
  for (auto& [name, p] : running) stop_gracefully(*p, logs[name]);
  finish(mock.bootstraps(), "scale_out_3_join_leave", db, events, recover);
}

TEST(Faults, ZombieStalledPastSessionTimeoutCommitsNoDuplicate) {
  const Size sz = size();
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(3, kTopics, kPartitions);
  // Long enough to outlast the stall: the peer must move the zombie's offsets on meanwhile.
  LiveStream stream(mock.bootstraps(), sz.events * 3, sz.rate, 107);
  const std::string log_z = log_path("zombie"), log_b = log_path("zombie_peer");
  // The zombie lingers 2 s over each batch, so a SIGSTOP almost always catches it holding one.
  Process zombie(ingest_argv(db.bouncer_url(), mock.bootstraps(), "zombie",
                             {"--linger-ms", "2000", "--batch-rows", "100000"}),
                 log_z);
  ASSERT_TRUE(testing::wait_for_stored(db, 1, seconds(60))) << tail(log_z);
  Process peer(ingest_argv(db.bouncer_url(), mock.bootstraps(), "zombie"), log_b);
  ASSERT_TRUE(testing::wait_until(seconds(60), [&] { return has_assignment(log_b); }))
      << tail(log_b);
  std::this_thread::sleep_for(seconds(3));
  zombie.signal(SIGSTOP);
  const auto stopped_at = Clock::now();
  // Past its session timeout: the peer takes every partition and moves their offsets on.
  std::this_thread::sleep_for(seconds(6 + 8));
  const int64_t before_cont = testing::stored_messages(db);
  ASSERT_TRUE(testing::wait_for_stored(db, before_cont + 1, seconds(60))) << tail(log_b);
  zombie.signal(SIGCONT);
  std::printf("zombie stalled %.1f s\n", since(stopped_at));
  const double recover = time_to_progress(db, static_cast<int64_t>(sz.events * 3), seconds(60));
  ASSERT_GE(recover, 0) << tail(log_z);
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log_b);
  stop_gracefully(zombie, log_z);
  stop_gracefully(peer, log_b);
  const auto fenced = testing::count_occurrences(testing::read_file(log_z), "fenced");
  std::printf("zombie log: %zu fence line(s)\n", fenced);
  finish(mock.bootstraps(), "zombie_sigstop_14s", db, events, recover);
}

TEST(Faults, FailoverToPromotedStandbyLosesAndDoublesNothing) {
  const Size sz = size();
  auto primary = std::make_unique<PgServer>();
  TestDb db(primary->url(), "");
  apply_migrations(db.direct_url());
  PgServer standby(primary.get());
  MockCluster mock(3, kTopics, kPartitions);
  LiveStream stream(mock.bootstraps(), sz.events, sz.rate, 108);
  const std::string log = log_path("failover");
  // Both servers in one connection string: libpq takes whichever accepts writes.
  const std::string url = "host=127.0.0.1,127.0.0.1 port=" + primary->port() + "," +
                          standby.port() + " user=postgres dbname=" + db.name() +
                          " target_session_attrs=read-write connect_timeout=3";
  Process p(ingest_argv(url, mock.bootstraps(), "failover"), log);
  ASSERT_TRUE(testing::wait_for_stored(db, 1, seconds(60))) << tail(log);
  std::this_thread::sleep_for(seconds(4));
  primary->ctl("down", {"immediate"});
  const auto killed_at = Clock::now();
  standby.ctl("promote");
  db.move_to(standby.url());
  ASSERT_GE(time_to_progress(db, static_cast<int64_t>(sz.events), seconds(120)), 0) << tail(log);
  const double recover = since(killed_at);
  std::printf("failover: committing on the promoted standby %.1f s after the primary died\n",
              recover);
  const auto& events = stream.finish();
  wait_all_stored(mock.bootstraps(), db, static_cast<int64_t>(events.size()), log,
                  [&] { return !p.wait(milliseconds(0)).has_value(); });
  stop_gracefully(p, log);
  finish(mock.bootstraps(), "failover_promoted_standby", db, events, recover);
}

}  // namespace
}  // namespace sentinel
