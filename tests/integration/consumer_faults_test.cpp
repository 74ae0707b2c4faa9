// Faults the consumer thread must see through on its own (architecture.md §4, §5): a failover to a
// standby that was behind while no new message arrives, and a PostgreSQL server that hangs while
// the group rebalances. The real binary against servers of the test's own (scripts/pg.sh), like
// faults_test.cpp; built as its own executable, run by hand or by CI like the fault suite.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "ingest/kafka_handle.h"
#include "sinks/migrator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/integration/pg_server.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using testing::PgServer;
using testing::Process;
using testing::TestDb;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::vector<std::string> kTopics = {"sentinel.audit", "sentinel.invocations"};
// 12 partitions a topic: 130 000 events stay well under what the mock cluster keeps per
// partition (~5 MB), so nothing is deleted before it is read.
constexpr int kPartitions = 12;

std::string log_path(const std::string& name) {
  const std::string p = ::testing::TempDir() + "consumer_faults_" + name + ".log";
  std::remove(p.c_str());
  return p;
}

std::string tail(const std::string& path, size_t bytes = 6000) {
  const std::string s = testing::read_file(path);
  return s.size() <= bytes ? s : s.substr(s.size() - bytes);
}

std::vector<std::string> ingest_argv(const std::string& pg, const std::string& brokers,
                                     const std::string& group, int metrics_port) {
  return {SENTINEL_BINARY,
          "run",
          "--pg",
          pg,
          "--brokers",
          brokers,
          "--group",
          group,
          "--status-interval",
          "1",
          "--metrics-listen",
          "127.0.0.1:" + std::to_string(metrics_port),
          "--kafka-prop",
          "session.timeout.ms=6000",
          "--kafka-prop",
          "heartbeat.interval.ms=500"};
}

/// consumer_lag samples of one scrape: (topic, partition) → lag; empty if the scrape failed.
std::map<std::pair<std::string, int>, int64_t> scrape_lag(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(2, 0);
  std::map<std::pair<std::string, int>, int64_t> out;
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return out;
  std::istringstream in(res->body);
  const std::string prefix = "sentinel_ingest_consumer_lag{topic=\"";
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(prefix)) continue;
    const size_t t_end = line.find('"', prefix.size());
    const size_t p_begin = line.find("partition=\"", t_end) + 11;
    const std::string topic = line.substr(prefix.size(), t_end - prefix.size());
    const int partition = std::stoi(line.substr(p_begin));
    out[{topic, partition}] = std::stoll(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

int64_t sum(const std::map<std::pair<std::string, int>, int64_t>& lag) {
  int64_t s = 0;
  for (const auto& [k, v] : lag) s += v;
  return s;
}

/// High watermark of every partition of both topics, asked of the brokers.
std::map<std::pair<std::string, int>, int64_t> high_watermarks(const std::string& brokers) {
  KafkaConf conf = make_kafka_conf({{"bootstrap.servers", brokers}, {"group.id", "hwm-reader"}});
  char err[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  std::map<std::pair<std::string, int>, int64_t> out;
  if (!rk) return out;
  conf.release();
  for (const auto& t : kTopics) {
    for (int p = 0; p < kPartitions; ++p) {
      int64_t low = -1, high = -1;
      rd_kafka_query_watermark_offsets(rk.get(), t.c_str(), p, &low, &high, 10000);
      out[{t, p}] = high;
    }
  }
  return out;
}

/// Stored next_offset of every partition of the group ("" none → 0).
std::map<std::pair<std::string, int>, int64_t> stored_offsets(const TestDb& db,
                                                              const std::string& group) {
  const std::string rows = db.query(
      "SELECT string_agg(topic || ' ' || kafka_partition || ' ' || next_offset, ',') FROM "
      "ingest_offsets WHERE consumer_group = '" +
      group + "'");
  std::map<std::pair<std::string, int>, int64_t> out;
  for (const auto& t : kTopics) {
    for (int p = 0; p < kPartitions; ++p) out[{t, p}] = 0;
  }
  std::istringstream in(rows);
  for (std::string row; std::getline(in, row, ',');) {
    std::istringstream r(row);
    std::string topic;
    int p = 0;
    int64_t next = 0;
    r >> topic >> p >> next;
    out[{topic, p}] = next;
  }
  return out;
}

void append(std::vector<GeneratedEvent>& to, std::vector<GeneratedEvent> more) {
  to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

/// The scenario, through PgBouncer: 60 000 events stored and replicated, the standby cut
/// off, 60 000 more stored on the primary only, the primary killed, the standby promoted and
/// PgBouncer re-pointed at it (RELOAD: the ingestor's client connections stay open). Then
/// `after_failover` events more (0: no new traffic at all).
void failover_to_lagging_standby(uint64_t after_failover, const std::string& name) {
  auto primary = std::make_unique<PgServer>();
  TestDb db(primary->url(), primary->bouncer_url());
  apply_migrations(db.direct_url());
  PgServer standby(primary.get());
  MockCluster mock(1, kTopics, kPartitions);
  const std::string log = log_path(name);
  const int port = testing::free_port();
  const std::string group = "failover-" + name;
  Process p(ingest_argv(db.bouncer_url(), mock.bootstraps(), group, port), log);

  std::vector<GeneratedEvent> events = testing::publish_events(mock.bootstraps(), 60'000, 0.01, 7);
  ASSERT_TRUE(testing::wait_for_stored(db, 60'000, seconds(180))) << tail(log);
  const std::string standby_db = standby.url() + " dbname=" + db.name();
  ASSERT_TRUE(testing::wait_until(seconds(60), [&] {
    return testing::query_one(standby_db,
                              "SELECT (SELECT count(*) FROM audit_logs) + (SELECT count(*) FROM "
                              "invocations) + (SELECT count(*) FROM ingest_rejects)") == "60000";
  })) << "the standby did not catch up";
  standby.ctl("detach");

  append(events, testing::publish_events(mock.bootstraps(), 60'000, 0.01, 8));
  ASSERT_TRUE(testing::wait_for_stored(db, 120'000, seconds(180))) << tail(log);
  // Before the failover the ingestor is caught up and says so.
  ASSERT_TRUE(testing::wait_until(seconds(10), [&] {
    const auto lag = scrape_lag(port);
    return lag.size() == 2 * kPartitions && sum(lag) == 0;
  })) << tail(log);

  const std::string bouncer = db.bouncer_url();
  primary->ctl("down", {"immediate"});
  standby.ctl("promote");
  primary->ctl("repoint", {standby.dir()});
  const auto failover = Clock::now();
  // When PgBouncer serves the promoted server (it retries a failed server login only every
  // server_login_retry, 15 s by default): from then on the ingestor can know.
  std::atomic<bool> served{false};
  std::atomic<int64_t> served_ms{0};
  std::thread probe([&] {
    while (!served.load() && Clock::now() - failover < seconds(60)) {
      try {
        testing::query_one(bouncer + " connect_timeout=2", "SELECT 1");
        served_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - failover).count();
        served = true;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
  });
  db.move_to(standby.url());
  const int64_t on_promoted = testing::stored_messages(db);
  ASSERT_LT(on_promoted, 120'000) << "the standby was not behind: the scenario did not happen";
  std::printf("%s: the promoted standby holds %lld of 120000 events\n", name.c_str(),
              static_cast<long long>(on_promoted));
  if (after_failover > 0) {
    append(events, testing::publish_events(mock.bootstraps(), after_failover, 0.01, 9));
  }
  const auto total = static_cast<int64_t>(events.size());

  // Within 30 s every event is in the promoted database, and from 5 s after PgBouncer serves
  // the promoted server on (time to notice) consumer_lag never says 0 while the database is
  // behind.
  bool complete = false;
  std::string lie;
  while (Clock::now() - failover < seconds(30) && !complete) {
    const auto lag = scrape_lag(port);
    const int64_t stored = testing::stored_messages(db);  // after the scrape: only grows
    const bool knowable =
        served.load() && Clock::now() - failover > milliseconds(served_ms.load()) + seconds(5);
    if (knowable && lag.size() == 2 * kPartitions && sum(lag) == 0 && stored < total &&
        lie.empty()) {
      lie = "consumer_lag 0 while the database held " + std::to_string(stored) + " of " +
            std::to_string(total);
    }
    complete = stored >= total && !lag.empty() && sum(lag) == 0;
    if (!complete) std::this_thread::sleep_for(milliseconds(250));
  }
  const double took = std::chrono::duration<double>(Clock::now() - failover).count();
  served = true;
  probe.join();
  std::printf(
      "%s: PgBouncer served the promoted server %.1f s after the failover; all %lld events "
      "stored and lag 0 after %.1f s\n",
      name.c_str(), static_cast<double>(served_ms.load()) / 1000, static_cast<long long>(total),
      took);
  EXPECT_TRUE(complete) << "stored " << testing::stored_messages(db) << " of " << total
                        << " 30 s after the failover, lag " << sum(scrape_lag(port)) << "\n"
                        << tail(log);
  EXPECT_TRUE(lie.empty()) << lie;
  testing::expect_exactly_once(db, events);
  // The lag is the stored offsets' distance to the log end, partition by partition.
  EXPECT_EQ(stored_offsets(db, group), high_watermarks(mock.bootstraps()));
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(seconds(15)), 0) << tail(log);
}

TEST(ConsumerFaults, FailoverToLaggingStandbyWithNoNewTrafficReingestsTheLostRows) {
  failover_to_lagging_standby(0, "no_traffic");
}

TEST(ConsumerFaults, FailoverToLaggingStandbyThenTrafficResumingLosesAndDoublesNothing) {
  failover_to_lagging_standby(10'000, "traffic_resumes");
}

// consumer_lag is exported for every owned partition from its assignment on, also for partitions
// assigned while PostgreSQL is down (paused, never fetched: they had no sample at all), never
// under the distance from the stored offset to the log end, and exactly that once known.
TEST(ConsumerFaults, ConsumerLagHasASampleForEveryPartitionAndCountsFromTheStoredOffsets) {
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(1, kTopics, kPartitions);
  // Some partitions get messages before the start, the others none at all.
  auto events = testing::publish_events(mock.bootstraps(), 40, 0.0, 3);
  const std::string log_a = log_path("lag_a");
  const std::string log_b = log_path("lag_b");
  const int port_a = testing::free_port();
  const int port_b = testing::free_port();
  Process a(ingest_argv(db.bouncer_url(), mock.bootstraps(), "lag", port_a), log_a);
  auto b = std::make_unique<Process>(
      ingest_argv(db.bouncer_url(), mock.bootstraps(), "lag", port_b), log_b);
  ASSERT_TRUE(testing::wait_for_stored(db, 40, seconds(60))) << tail(log_a);
  ASSERT_TRUE(testing::wait_until(seconds(30),
                                  [&] {
                                    return scrape_lag(port_a).size() + scrape_lag(port_b).size() ==
                                               2u * kPartitions &&
                                           !scrape_lag(port_a).empty() &&
                                           !scrape_lag(port_b).empty();
                                  }))
      << "both members own partitions, each with a sample\n"
      << tail(log_a) << tail(log_b);

  // PostgreSQL goes away, events arrive, B dies: its partitions come to A, which cannot read
  // their stored offsets.
  const auto stored_before = stored_offsets(db, "lag");
  pg.ctl("down", {"fast"});
  append(events, testing::publish_events(mock.bootstraps(), 2'000, 0.0, 4));
  b->signal(SIGKILL);
  b->wait(seconds(5));
  b.reset();
  ASSERT_TRUE(testing::wait_until(seconds(40), [&] {
    return testing::count_occurrences(testing::read_file(log_a),
                                      "starting when its stored offset can be read") > 0;
  })) << tail(log_a);
  const auto high = high_watermarks(mock.bootstraps());
  std::map<std::pair<std::string, int>, int64_t> lag;
  EXPECT_TRUE(testing::wait_until(seconds(5),
                                  [&] {
                                    lag = scrape_lag(port_a);
                                    return lag.size() == 2u * kPartitions;
                                  }))
      << "partitions without a sample: " << 2u * kPartitions - lag.size() << "\n"
      << tail(log_a);
  for (const auto& [k, l] : lag) {
    EXPECT_GE(l, high.at(k) - stored_before.at(k)) << k.first << " [" << k.second << "]";
  }

  pg.ctl("up");
  ASSERT_TRUE(testing::wait_for_stored(db, static_cast<int64_t>(events.size()), seconds(60)))
      << tail(log_a);
  const auto stored = stored_offsets(db, "lag");
  EXPECT_TRUE(testing::wait_until(seconds(10),
                                  [&] {
                                    lag = scrape_lag(port_a);
                                    return lag.size() == 2u * kPartitions && sum(lag) == 0;
                                  }))
      << "lag " << sum(lag);
  for (const auto& [k, h] : high) EXPECT_EQ(stored.at(k), h) << k.first << " " << k.second;
  a.signal(SIGTERM);
  EXPECT_EQ(a.wait(seconds(15)), 0) << tail(log_a);
  testing::expect_exactly_once(db, events);
}

// The group rebalances (a member dies, its partitions come to the survivor) while the PostgreSQL
// server is hung (SIGSTOP: connections are accepted by the kernel, nothing answers). Loading the
// stored offsets inside the rebalance callback waited without limit: the status lines stopped and
// SIGTERM was ignored. The survivor must keep reporting and exit 0 within 10 s; once the server
// runs again everything is stored exactly once.
TEST(ConsumerFaults, HungPostgresDuringARebalanceNeitherStopsStatusLinesNorBlocksShutdown) {
  PgServer pg;
  TestDb db(pg.url(), pg.bouncer_url());
  apply_migrations(db.direct_url());
  MockCluster mock(1, kTopics, kPartitions);
  const int port_a = testing::free_port();
  const int port_b = testing::free_port();
  const std::string log_a = log_path("hung_a");
  const std::string log_b = log_path("hung_b");
  // Directly to PostgreSQL: a stopped server is a black hole, not a refused connection.
  auto events = testing::publish_events(mock.bootstraps(), 4'000, 0.01, 11);
  auto a = std::make_unique<Process>(
      ingest_argv(db.direct_url(), mock.bootstraps(), "hung", port_a), log_a);
  auto b = std::make_unique<Process>(
      ingest_argv(db.direct_url(), mock.bootstraps(), "hung", port_b), log_b);
  ASSERT_TRUE(testing::wait_for_stored(db, 4'000, seconds(60))) << tail(log_a) << tail(log_b);
  ASSERT_TRUE(testing::wait_until(seconds(30),
                                  [&] {
                                    return scrape_lag(port_a).size() + scrape_lag(port_b).size() ==
                                               2u * kPartitions &&
                                           !scrape_lag(port_a).empty() &&
                                           !scrape_lag(port_b).empty();
                                  }))
      << "both members own partitions\n"
      << tail(log_a) << tail(log_b);

  pg.ctl("freeze");
  // Thawed whatever happens below: a stopped server cannot be stopped by the fixture.
  struct Thaw {
    PgServer& pg;
    bool frozen = true;
    ~Thaw() {
      if (frozen) pg.ctl("thaw");
    }
  } thaw{pg};
  append(events, testing::publish_events(mock.bootstraps(), 2'000, 0.01, 12));
  b->signal(SIGKILL);
  b->wait(seconds(5));
  b.reset();
  // B's partitions come to A after the session timeout (6 s); their stored offsets cannot be
  // read, so A says it starts them when it can.
  ASSERT_TRUE(testing::wait_until(seconds(40),
                                  [&] {
                                    return testing::count_occurrences(
                                               testing::read_file(log_a),
                                               "starting when its stored offset can be read") > 0;
                                  }))
      << "no rebalance, or it hangs in PostgreSQL\n"
      << tail(log_a);
  // The consumer thread waits at most 3 s on the hung server at a time: a status line at least
  // every 4 s.
  const size_t before = testing::count_occurrences(testing::read_file(log_a), "status: ");
  std::this_thread::sleep_for(seconds(8));
  const size_t after = testing::count_occurrences(testing::read_file(log_a), "status: ");
  EXPECT_GE(after, before + 2) << "status lines stopped while PostgreSQL hung\n" << tail(log_a);
  EXPECT_EQ(scrape_lag(port_a).size(), 2u * kPartitions) << "A owns every partition now";

  const auto term = Clock::now();
  a->signal(SIGTERM);
  const auto code = a->wait(seconds(10));
  const double took = std::chrono::duration<double>(Clock::now() - term).count();
  EXPECT_EQ(code, 0) << "SIGTERM with PostgreSQL hung: exit within 10 s\n" << tail(log_a);
  std::printf("exited %.1f s after SIGTERM with PostgreSQL hung\n", took);
  if (!code) a->signal(SIGKILL);
  a.reset();

  pg.ctl("thaw");
  thaw.frozen = false;
  Process c(ingest_argv(db.direct_url(), mock.bootstraps(), "hung", port_b), log_b);
  ASSERT_TRUE(testing::wait_for_stored(db, static_cast<int64_t>(events.size()), seconds(120)))
      << tail(log_b);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(seconds(15)), 0) << tail(log_b);
  testing::expect_exactly_once(db, events);
}

}  // namespace
}  // namespace sentinel
