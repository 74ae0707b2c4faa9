// Issue 21, the operator's first day: one config file for every sub-command, `validate`'s
// checklist, `run` refusing bad settings before it waits for anything, and health from the
// first second (readiness without partitions).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "sinks/migrator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::free_port;
using testing::run_command;
using testing::TestDb;

const std::vector<std::string> kTopics = {"sentinel.audit", "sentinel.invocations"};

std::string listen_on(int port) { return "127.0.0.1:" + std::to_string(port); }

/// `validate` with `extra` after the good settings (a later flag of the same name wins for
/// one-value options).
std::pair<int, std::string> validate(const std::vector<std::string>& settings) {
  std::vector<std::string> argv = {SENTINEL_BINARY, "validate", "--check-timeout", "2"};
  argv.insert(argv.end(), settings.begin(), settings.end());
  return run_command(argv, seconds(60));
}

/// The FAIL line of `out` that mentions `what` ("" if none).
std::string fail_line(const std::string& out, const std::string& what) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("FAIL") && line.find(what) != std::string::npos) return line;
  }
  return "";
}

TEST(Validate, PassesOnAGoodSetupAndShowsTheKafkaPropertiesTheEnvironmentSet) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, kTopics, 3);
  setenv("SENTINEL_KAFKA_PROP_FETCH_WAIT_MAX_MS", "100", 1);
  setenv("SENTINEL_KAFKA_PROP", "client.rack=r1 socket.keepalive.enable=true", 1);
  const auto [code, out] = validate({"--pg", db.bouncer_url(), "--brokers", mock.bootstraps(),
                                     "--metrics-listen", listen_on(free_port())});
  unsetenv("SENTINEL_KAFKA_PROP_FETCH_WAIT_MAX_MS");
  unsetenv("SENTINEL_KAFKA_PROP");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  // Per-key variable: '_' read as '.'; the list variable: two properties, not one.
  EXPECT_NE(out.find("fetch.wait.max.ms=100"), std::string::npos) << out;
  EXPECT_NE(out.find("client.rack=r1, socket.keepalive.enable=true"), std::string::npos) << out;
  EXPECT_NE(out.find("ok    postgres: schema current"), std::string::npos) << out;
  EXPECT_NE(out.find("ok    kafka topic sentinel.audit: 3 partition(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos) << out;
}

TEST(Validate, EachBrokenSettingFailsWithExitTwoAndItsFix) {
  TestDb db;
  apply_migrations(db.direct_url());
  TestDb unmigrated;
  MockCluster mock(1, kTopics, 2);
  const testing::SilentServer busy;  // listens: the metrics address is in use
  const int closed = free_port();
  // A role that may log in and nothing else (roles are per server: named after the database).
  const std::string role = db.name() + "_nogrant";
  db.query("CREATE ROLE " + role + " LOGIN");
  struct Case {
    std::string name;
    std::vector<std::string> settings;
    std::string fail;  ///< on the FAIL line
    std::string fix;   ///< on the same line
  };
  const std::string pg = db.bouncer_url(), brokers = mock.bootstraps();
  const std::vector<Case> cases = {
      {"wrong --pg port",
       {"--pg", "host=127.0.0.1 port=" + std::to_string(closed) + " user=postgres", "--brokers",
        brokers},
       "postgres: reachable",
       "check that PostgreSQL runs"},
      {"wrong --pg database",
       {"--pg", db.direct_url() + " dbname=sentinel_no_such_db", "--brokers", brokers},
       "postgres: reachable",
       "check --pg"},
      {"missing migration",
       {"--pg", unmigrated.direct_url(), "--brokers", brokers},
       "postgres: schema current",
       "sentinel-ingest migrate"},
      {"no privileges",
       {"--pg", db.direct_url() + " user=" + role, "--brokers", brokers},
       "postgres: privileges of role " + role,
       "GRANT sentinel_ingest TO " + role},
      {"unknown topic",
       {"--pg", pg, "--brokers", brokers, "--topic", "audit=sentinel.nope"},
       "kafka topic sentinel.nope: does not exist",
       "create it"},
      {"unreachable broker",
       {"--pg", pg, "--brokers", "127.0.0.1:" + std::to_string(closed)},
       "kafka: reachable",
       "check --brokers"},
      {"metrics address in use",
       {"--pg", pg, "--brokers", brokers, "--metrics-listen", listen_on(busy.port())},
       "metrics address",
       "choose a free port"},
      {"bad --kafka-prop",
       {"--pg", pg, "--brokers", brokers, "--kafka-prop", "fetch.wait.max.mss=1"},
       "fetch.wait.max.mss",
       "fix: correct or remove that --kafka-prop"},
  };
  for (const Case& c : cases) {
    const auto [code, out] = validate(c.settings);
    EXPECT_EQ(code, 2) << c.name << ":\n" << out;
    const std::string line = fail_line(out, c.fail);
    EXPECT_NE(line, "") << c.name << ":\n" << out;
    EXPECT_NE(line.find(c.fix), std::string::npos) << c.name << ": " << line;
  }
  db.query("DROP ROLE " + role);
}

TEST(KafkaPropEnvironment, AListWithAWordThatIsNoSettingIsRefusedNamingThePerKeyForm) {
  setenv("SENTINEL_KAFKA_PROP", "fetch.wait.max.ms=100 oops", 1);
  const auto [code, out] = validate({"--pg", "host=127.0.0.1 port=1", "--brokers", "127.0.0.1:1"});
  unsetenv("SENTINEL_KAFKA_PROP");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("SENTINEL_KAFKA_PROP: expected KEY=VALUE settings separated by spaces, "
                     "got 'oops'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("SENTINEL_KAFKA_PROP_<NAME>"), std::string::npos) << out;
}

// `run` waited for PostgreSQL before it looked at its own settings: with the database down, a
// bogus --kafka-prop or a taken --metrics-listen went unreported for as long as it waited.
TEST(RunStartup, BadSettingsAreRefusedBeforeWaitingForPostgres) {
  const int closed = free_port();
  const std::string pg = "host=127.0.0.1 port=" + std::to_string(closed) + " user=postgres";
  const testing::SilentServer busy;
  const std::string b = SENTINEL_BINARY;
  const auto started = std::chrono::steady_clock::now();
  auto [code, out] = run_command(
      {b, "run", "--pg", pg, "--brokers", "127.0.0.1:1", "--kafka-prop", "no.such.property=1"},
      seconds(30));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("no.such.property"), std::string::npos) << out;
  EXPECT_EQ(out.find("retrying"), std::string::npos) << out;
  std::tie(code, out) = run_command({b, "run", "--pg", pg, "--brokers", "127.0.0.1:1",
                                     "--metrics-listen", listen_on(busy.port())},
                                    seconds(30));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("choose a free port"), std::string::npos) << out;
  EXPECT_EQ(out.find("retrying"), std::string::npos) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
}

// /healthz answered only after the schema check: an orchestrator killed a healthy process that
// waited for its database.
TEST(RunStartup, HealthzAnswersWithinOneSecondWhilePostgresIsDown) {
  const int closed = free_port();
  const int port = free_port();
  const std::string log_path = ::testing::TempDir() + "config-healthz.out";
  std::remove(log_path.c_str());
  const auto started = std::chrono::steady_clock::now();
  testing::Process run({SENTINEL_BINARY, "run", "--pg",
                        "host=127.0.0.1 port=" + std::to_string(closed) + " user=postgres",
                        "--brokers", "127.0.0.1:1", "--metrics-listen", listen_on(port)},
                       log_path);
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(0, 100'000);
  int healthz = 0;
  while (std::chrono::steady_clock::now() - started < seconds(1) && healthz != 200) {
    if (auto res = http.Get("/healthz")) healthz = res->status;
    if (healthz != 200) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(healthz, 200) << testing::read_file(log_path);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_NE(ready->body.find("postgres: DOWN"), std::string::npos) << ready->body;
  ASSERT_TRUE(testing::wait_until(seconds(20), [&] {
    return testing::read_file(log_path).find("retrying") != std::string::npos;
  })) << testing::read_file(log_path);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(10)), 0) << testing::read_file(log_path);
}

/// Writes `text` to a file of the test's temporary folder; returns its path.
std::string write_config(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// `migrate --config` refused the `brokers:` that `run` needs, `log-level:` was refused
// everywhere and `brokers:` could not be a YAML list.
TEST(ConfigFile, OneFileServesMigrateAndRun) {
  TestDb db;
  MockCluster mock(1, kTopics, 2);
  const auto events = testing::publish_events(mock.bootstraps(), 500, 0, 3);
  std::string brokers_list;
  std::istringstream parts(mock.bootstraps());
  for (std::string broker; std::getline(parts, broker, ',');) brokers_list += "\n  - " + broker;
  const std::string config = write_config(
      "config-one-file.yaml", "pg: \"" + db.bouncer_url() + "\"\nbrokers:" + brokers_list +
                                  "\nlog-level: debug\nlog-format: json\nwriters: 1\nkafka-prop:\n"
                                  "  fetch.wait.max.ms: 50\n  client.rack: r1\n");
  const std::string b = SENTINEL_BINARY;
  auto [code, out] = run_command({b, "migrate", "--config", config}, seconds(60));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("applied"), std::string::npos) << out;
  // The keys `migrate` does not use are named at debug level (log-level: debug took effect).
  EXPECT_NE(out.find("key 'brokers' is for"), std::string::npos) << out;

  // validate reads it too; a per-key variable beats the file's value of the same property.
  setenv("SENTINEL_KAFKA_PROP_FETCH_WAIT_MAX_MS", "60", 1);
  std::tie(code, out) = run_command({b, "validate", "--config", config}, seconds(60));
  unsetenv("SENTINEL_KAFKA_PROP_FETCH_WAIT_MAX_MS");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("librdkafka holds fetch.wait.max.ms=60, client.rack=r1\n"), std::string::npos)
      << out;

  const int port = free_port();
  const std::string log_path = ::testing::TempDir() + "config-one-file-run.out";
  std::remove(log_path.c_str());
  testing::Process run({b, "run", "--config", config, "--metrics-listen", listen_on(port)},
                       log_path);
  EXPECT_TRUE(testing::wait_for_stored(db, static_cast<int64_t>(events.size()), seconds(120)))
      << testing::read_file(log_path);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(15)), 0);
  const std::string log = testing::read_file(log_path);
  EXPECT_NE(log.find("Kafka property fetch.wait.max.ms=50"), std::string::npos) << log;
  EXPECT_NE(log.find("Kafka property client.rack=r1"), std::string::npos) << log;
  // log-format: json applies to `run` too: every line is a JSON object.
  EXPECT_GT(testing::count_occurrences(log, "{\"ts\":\""), 3u) << log;
  EXPECT_EQ(testing::count_occurrences(log, "\n{\"ts\":\"") + 1,
            testing::count_occurrences(log, "\n"))
      << "a line that is not JSON: " << log;

  // A key no sub-command knows still fails, naming the key and the file.
  const std::string bad = write_config("config-bad-key.yaml", "pg: x\nbrokerz: a:9092\n");
  std::tie(code, out) = run_command({b, "migrate", "--config", bad}, seconds(30));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("config file " + bad + ": unknown key 'brokerz'"), std::string::npos) << out;
}

// /readyz required assigned partitions: an instance beyond the partition count (a rollout
// briefly runs one more) was never ready, and the rollout stalled.
TEST(Readyz, AnInstanceWithNoPartitionsIsReadyAndReportsIt) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(1, kTopics, 1);  // two partitions in all, for three instances
  const std::string b = SENTINEL_BINARY;
  std::vector<int> ports;
  std::vector<std::unique_ptr<testing::Process>> runs;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(free_port());
    const std::string log_path = ::testing::TempDir() + "config-readyz-" + std::to_string(i);
    std::remove(log_path.c_str());
    runs.push_back(std::make_unique<testing::Process>(
        std::vector<std::string>{b, "run", "--pg", db.bouncer_url(), "--brokers", mock.bootstraps(),
                                 "--writers", "1", "--metrics-listen", listen_on(ports.back())},
        log_path));
  }
  std::vector<std::string> bodies(3);
  const bool all_ready = testing::wait_until(seconds(90), [&] {
    int ready = 0, held = 0;
    for (size_t i = 0; i < 3; ++i) {
      httplib::Client http("127.0.0.1", ports[i]);
      auto res = http.Get("/readyz");
      if (!res) continue;
      bodies[i] = res->body;
      if (res->status == 200) ++ready;
      const auto at = res->body.find("partitions assigned: ");
      if (at != std::string::npos) held += std::stoi(res->body.substr(at + 21));
    }
    return ready == 3 && held == 2;
  });
  EXPECT_TRUE(all_ready) << bodies[0] << "\n" << bodies[1] << "\n" << bodies[2];
  int idle = 0;
  for (const std::string& body : bodies) {
    if (body.find("partitions assigned: 0") != std::string::npos) ++idle;
  }
  EXPECT_EQ(idle, 1);
  for (auto& run : runs) run->signal(SIGTERM);
  for (auto& run : runs) EXPECT_EQ(run->wait(seconds(20)), 0);
}

}  // namespace
}  // namespace sentinel
