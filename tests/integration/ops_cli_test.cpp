// The maintenance and reporting commands through the real binary, against a real database:
// `partitions`, `costs`, and `run --metrics-listen` with the `healthcheck` probe and JSON logs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/pg_health.h"
#include "pipeline/metrics.h"
#include "rows/month.h"
#include "sinks/migrator.h"
#include "testkit/mock_cluster.h"
#include "tests/integration/expectations.h"
#include "tests/integration/pg_server.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::free_port;
using testing::run_command;
using testing::TestDb;

std::string stdout_of(const std::vector<std::string>& argv) {
  const auto [code, out] = run_command(argv, seconds(60));
  EXPECT_EQ(code, 0) << out;
  return out;
}

TEST(PartitionsCommand, ListsPremakesAndDropsOnlyWhenAskedAsTheOwner) {
  TestDb db;
  apply_migrations(db.direct_url());
  const std::string b = SENTINEL_BINARY;
  const int32_t now = current_month();
  // Premake three months (through PgBouncer), then the list shows six partitions with sizes.
  std::string out = stdout_of({b, "partitions", "--pg", db.bouncer_url(), "--premake", "3"});
  for (int32_t m = now; m < now + 3; ++m) {
    EXPECT_NE(out.find(partition_name("audit_logs", m)), std::string::npos) << out;
    EXPECT_NE(out.find(partition_name("invocations", m)), std::string::npos) << out;
  }
  EXPECT_NE(out.find("6 partition(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("KiB"), std::string::npos) << out;

  // Rows estimates appear after ANALYZE.
  db.query("SELECT sentinel_ensure_month_partition('audit_logs', '" + month_start_text(now - 14) +
           "')");
  db.query("SELECT sentinel_ensure_month_partition('invocations', '" + month_start_text(now - 13) +
           "')");
  db.query(
      "INSERT INTO audit_logs (event_id, ts, tenant_id, action, outcome, kafka_partition, "
      "kafka_offset) SELECT "
      "gen_random_uuid(), '" +
      month_start_text(now - 14) +
      "'::timestamptz + g * interval '1 minute', 't', 'a', 'success', 0, g "
      "FROM generate_series(1, 500) g");
  db.query("ANALYZE audit_logs");
  out = stdout_of({b, "partitions", "--pg", db.bouncer_url(), "--format", "csv"});
  EXPECT_NE(out.find(partition_name("audit_logs", now - 14) + "," + month_text(now - 14) + ",500,"),
            std::string::npos)
      << out;

  // Dry run: names what would go, drops nothing.
  auto [code, log] = run_command({b, "partitions", "--pg", db.bouncer_url(), "--drop-older-than",
                                  month_text(now - 13), "--dry-run"},
                                 seconds(60));
  EXPECT_EQ(code, 0) << log;
  EXPECT_NE(log.find("would detach and drop " + partition_name("audit_logs", now - 14)),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(partition_name("invocations", now - 13) + " ("), std::string::npos) << log;
  EXPECT_EQ(db.query("SELECT count(*) FROM audit_logs"), "500");

  // The ingest role may not drop: exit 2 with a message naming the fix.
  db.query(
      "DO $$ BEGIN CREATE ROLE sentinel_test_ingest LOGIN; EXCEPTION WHEN duplicate_object "
      "THEN NULL; END $$");
  db.query("GRANT sentinel_ingest TO sentinel_test_ingest");
  std::string ingest_url = db.direct_url() + " user=sentinel_test_ingest";
  std::tie(code, log) =
      run_command({b, "partitions", "--pg", ingest_url, "--drop-older-than", month_text(now - 12)},
                  seconds(60));
  EXPECT_EQ(code, 2) << log;
  EXPECT_NE(log.find("owner"), std::string::npos) << log;
  EXPECT_EQ(db.query("SELECT count(*) FROM audit_logs"), "500");

  // The owner drops both old months, and only them.
  std::tie(code, log) = run_command(
      {b, "partitions", "--pg", db.bouncer_url(), "--drop-older-than", month_text(now - 12)},
      seconds(60));
  EXPECT_EQ(code, 0) << log;
  EXPECT_EQ(db.query("SELECT to_regclass('" + partition_name("audit_logs", now - 14) +
                     "') IS NULL AND to_regclass('" + partition_name("invocations", now - 13) +
                     "') IS NULL"),
            "t");
  EXPECT_EQ(db.query("SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass"),
            "3");

  // Usage errors exit 2.
  EXPECT_EQ(
      run_command({b, "partitions", "--pg", db.bouncer_url(), "--dry-run"}, seconds(20)).first, 2);
  EXPECT_EQ(run_command({b, "partitions", "--pg", db.bouncer_url(), "--drop-older-than", "2026-13"},
                        seconds(20))
                .first,
            2);
  EXPECT_EQ(run_command({b, "partitions", "--pg", db.bouncer_url(), "--drop-older-than",
                         month_text(now + 1)},
                        seconds(20))
                .first,
            2);
}

// A refused drop was recognised by the English words "must be owner": with the server's
// messages in German it was exit 1 without the hint. It is classified by SQLSTATE 42501.
TEST(PartitionsCommand, DroppingWithoutOwnershipIsAConfigurationErrorInAnyLanguage) {
  TestDb db;
  apply_migrations(db.direct_url());
  const std::string b = SENTINEL_BINARY;
  const int32_t now = current_month();
  db.query("SELECT sentinel_ensure_month_partition('audit_logs', '" + month_start_text(now - 14) +
           "')");
  db.query("ALTER DATABASE " + db.name() + " SET lc_messages = 'de_DE.utf8'");
  db.query(
      "DO $$ BEGIN CREATE ROLE sentinel_test_ingest LOGIN; EXCEPTION WHEN duplicate_object "
      "THEN NULL; END $$");
  db.query("GRANT sentinel_ingest TO sentinel_test_ingest");
  const std::string ingest_url = db.direct_url() + " user=sentinel_test_ingest";
  ASSERT_NE(testing::query_one(ingest_url, "SHOW lc_messages"), "C");
  const auto [code, log] =
      run_command({b, "partitions", "--pg", ingest_url, "--drop-older-than", month_text(now - 12)},
                  seconds(60));
  EXPECT_EQ(code, 2) << log;
  EXPECT_NE(log.find("connect --pg as the tables' owner"), std::string::npos) << log;
  EXPECT_EQ(log.find("must be owner"), std::string::npos) << "not German after all: " << log;
  EXPECT_EQ(
      db.query("SELECT to_regclass('" + partition_name("audit_logs", now - 14) + "') IS NOT NULL"),
      "t");
}

TEST(CostsCommand, DailyMonthlyAndTopNExactlyAsStoredInTableCsvAndJson) {
  TestDb db;
  apply_migrations(db.direct_url());
  // Amounts no double can hold exactly.
  db.query(
      "INSERT INTO costs (tenant_id, period, period_start, cost_usd, invocations, prompt_tokens, "
      "completion_tokens, updated_at) VALUES "
      "('acme', 'day', '2026-11-01', 0.100000001, 2, 30, 40, now()),"
      "('acme', 'day', '2026-11-30', 12345678901.123456789, 1, 10, 20, now()),"
      "('acme', 'day', '2026-12-01', 5, 1, 1, 1, now()),"
      "('acme', 'month', '2026-11-01', 12345678901.223456790, 3, 40, 60, now()),"
      "('acme', 'month', '2026-12-01', 5, 1, 1, 1, now()),"
      "('beta, \"the\" tenant', 'month', '2026-11-01', 0.000000001, 1, 1, 1, now()),"
      "('gamma', 'month', '2026-11-01', 7.5, 4, 4, 4, now())");
  const std::string b = SENTINEL_BINARY;

  std::string out =
      stdout_of({b, "costs", "--pg", db.bouncer_url(), "--tenant", "acme", "--month", "2026-11"});
  EXPECT_NE(out.find("2026-11-01"), std::string::npos) << out;
  EXPECT_NE(out.find("0.100000001"), std::string::npos) << out;
  EXPECT_NE(out.find("12345678901.123456789"), std::string::npos) << out;
  EXPECT_NE(out.find("12345678901.223456790"), std::string::npos) << out;
  EXPECT_EQ(out.find("2026-12-01"), std::string::npos) << out;

  out = stdout_of({b, "costs", "--pg", db.bouncer_url(), "--tenant", "acme", "--month", "2026-11",
                   "--format", "csv"});
  EXPECT_EQ(out,
            "period,period_start,cost_usd,invocations,prompt_tokens,completion_tokens\r\n"
            "day,2026-11-01,0.100000001,2,30,40\r\n"
            "day,2026-11-30,12345678901.123456789,1,10,20\r\n"
            "month,2026-11-01,12345678901.223456790,3,40,60\r\n");

  // Top N from a "replica" (any URL given as --replica is where it reads).
  out = stdout_of({b, "costs", "--replica", db.bouncer_url(), "--month", "2026-11", "--top", "2",
                   "--format", "json"});
  EXPECT_NE(out.find(R"("rank": 1, "tenant_id": "acme", "cost_usd": "12345678901.223456790")"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("tenant_id": "gamma", "cost_usd": "7.500000000", "invocations": 4)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("beta"), std::string::npos) << out;

  out = stdout_of({b, "costs", "--pg", db.bouncer_url(), "--month", "2026-11", "--format", "csv"});
  EXPECT_NE(out.find("3,\"beta, \"\"the\"\" tenant\",0.000000001,1,1,1,0.00\r\n"),
            std::string::npos)
      << out;
  out = stdout_of({b, "costs", "--pg", db.bouncer_url(), "--month", "2026-11"});
  EXPECT_NE(out.find("all 3 tenant(s): 12345678908.723456791 USD over 8 invocation(s)"),
            std::string::npos)
      << out;

  // A tenant without costs is not an error; bad arguments are.
  out =
      stdout_of({b, "costs", "--pg", db.bouncer_url(), "--tenant", "nobody", "--month", "2026-11"});
  EXPECT_NE(out.find("no costs recorded"), std::string::npos) << out;
  EXPECT_EQ(
      run_command({b, "costs", "--pg", db.bouncer_url(), "--month", "11/2026"}, seconds(20)).first,
      2);
  EXPECT_EQ(run_command({b, "costs", "--month", "2026-11"}, seconds(20)).first, 2);
  EXPECT_EQ(run_command({b, "costs", "--pg", db.bouncer_url(), "--tenant", "acme", "--top", "3"},
                        seconds(20))
                .first,
            2);
}

TEST(RunWithMetrics, HealthcheckProbeJsonLogsAndNoSecretInThem) {
  TestDb db;
  apply_migrations(db.direct_url());
  MockCluster mock(
      1, {"sentinel.audit", "sentinel.invocations", "other.audit", "other.invocations"}, 2);
  const auto events = testing::publish_events(mock.bootstraps(), 2'000, 0.05, 5);
  const int port = free_port();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string log_path = ::testing::TempDir() + "run-metrics.out";
  std::remove(log_path.c_str());
  const std::string b = SENTINEL_BINARY;
  // trust authentication ignores the password, but it must never reach a log line.
  const std::string pg = db.bouncer_url() + " password=hunter2-secret";
  // `publish` without a terminal: plain lines, no carriage returns, a final total.
  const auto [pub_code, pub_out] =
      run_command({b, "publish", "--brokers", mock.bootstraps(), "--count", "500", "--audit-topic",
                   "other.audit", "--invocations-topic", "other.invocations"},
                  seconds(60));
  EXPECT_EQ(pub_code, 0) << pub_out;
  EXPECT_NE(pub_out.find("published 500/500 (100.0%), "), std::string::npos) << pub_out;
  EXPECT_EQ(pub_out.find('\r'), std::string::npos) << pub_out;
  // Not running yet: the probe fails.
  EXPECT_EQ(run_command({b, "healthcheck", "--metrics-listen", listen}, seconds(20)).first, 1);
  testing::Process run({b, "--log-format", "json", "run", "--pg", pg, "--brokers",
                        mock.bootstraps(), "--metrics-listen", listen, "--status-interval", "1"},
                       log_path);
  ASSERT_TRUE(testing::wait_for_stored(db, static_cast<int64_t>(events.size()), seconds(120)))
      << testing::read_file(log_path);
  auto [code, out] = run_command({b, "healthcheck", "--metrics-listen", listen}, seconds(20));
  EXPECT_EQ(code, 0) << out;
  // The probe reads the same variable as `run` (one setting for a container).
  setenv("SENTINEL_METRICS_LISTEN", ("0.0.0.0:" + std::to_string(port)).c_str(), 1);
  std::tie(code, out) = run_command({b, "healthcheck", "--path", "/readyz"}, seconds(20));
  unsetenv("SENTINEL_METRICS_LISTEN");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("postgres: up"), std::string::npos) << out;

  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("sentinel_ingest_pg_up 1"), std::string::npos) << res->body;
  std::this_thread::sleep_for(seconds(2));  // at least one status line
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(15)), 0);

  const std::string log = testing::read_file(log_path);
  EXPECT_EQ(log.find("hunter2-secret"), std::string::npos) << log;
  EXPECT_NE(log.find("status: "), std::string::npos) << log;
  std::istringstream lines(log);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    EXPECT_TRUE(line.starts_with("{\"ts\":\"") && line.ends_with("\"}")) << line;
  }
  EXPECT_GT(n, 3);
}

// A refused connection was recognised by English words ("does not exist", "authentication
// failed"): with the server's messages in German, `migrate` exited 1 and `run` retried for ever.
// It is classified by the SQLSTATE the server refused it with, and the message names the fix.
TEST(ConnectionRefusals, AreConfigurationErrorsNamingTheFixInAnyServerLanguage) {
  const testing::PgServer server(nullptr, {"lc_messages=de_DE.utf8"});
  const std::string b = SENTINEL_BINARY;
  const std::string no_db = server.url() + " dbname=sentinel_no_such_db";
  const std::string no_role = server.url() + " user=sentinel_no_such_role";
  const auto [code, log] = run_command({b, "migrate", "--pg", no_db}, seconds(30));
  EXPECT_EQ(code, 2) << log;
  EXPECT_NE(log.find("existiert nicht"), std::string::npos) << "not German after all: " << log;
  EXPECT_NE(log.find("the database does not exist: check --pg"), std::string::npos) << log;
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {b, "run", "--pg", no_db, "--brokers", "127.0.0.1:1"},
           {b, "run", "--pg", no_role, "--brokers", "127.0.0.1:1"},
           {b, "migrate", "--pg", no_role},
           {b, "partitions", "--pg", no_db},
           {b, "costs", "--pg", no_role}}) {
    const auto [rc, out] = run_command(argv, seconds(30));
    EXPECT_EQ(rc, 2) << argv[1] << ": " << out;
    EXPECT_EQ(out.find("retrying"), std::string::npos) << argv[1] << ": " << out;
    EXPECT_NE(out.find("check --pg"), std::string::npos) << argv[1] << ": " << out;
  }
}

/// `run` is waiting for PostgreSQL (it logged "retrying") instead of giving up, and SIGTERM
/// still ends it cleanly.
void expect_retrying_until_stopped(testing::Process& run, const std::string& log) {
  EXPECT_TRUE(testing::wait_until(seconds(20), [&] {
    return testing::read_file(log).find("retrying") != std::string::npos;
  })) << testing::read_file(log);
  EXPECT_FALSE(run.wait(std::chrono::milliseconds(0)).has_value()) << testing::read_file(log);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(seconds(15)), 0) << testing::read_file(log);
}

/// PgBouncer refuses a login with SQLSTATE 08P01 whatever the reason (a wrong password, an
/// unknown user or database); the same 08P01 comes when the server behind it is away. The first
/// is the operator's to fix (exit 2, at once); the second passes (retried).
TEST(ConnectionRefusals, PgBouncerRefusingTheLoginIsAConfigurationErrorItsServerBeingAwayIsNot) {
  testing::PgServer server;
  const std::string ini_path = server.dir() + "/pgbouncer.ini";
  std::string ini = testing::read_file(ini_path);
  const size_t star = ini.find("* = host=127.0.0.1 port=");
  ASSERT_NE(star, std::string::npos) << ini;
  const size_t eol = ini.find('\n', star);
  ini.replace(star, eol - star,
              "sentinel = host=127.0.0.1 port=" + server.port() +
                  "\naway = host=127.0.0.1 port=1 dbname=sentinel");
  const size_t auth = ini.find("auth_type = trust");
  ASSERT_NE(auth, std::string::npos) << ini;
  ini.replace(auth, std::string("auth_type = trust").size(), "auth_type = scram-sha-256");
  std::ofstream(ini_path) << ini;
  std::ofstream(server.dir() + "/userlist.txt") << "\"postgres\" \"right\"\n";
  server.ctl("bouncer-restart");

  const std::string b = SENTINEL_BINARY;
  const std::string login = server.bouncer_url() + " sslmode=disable";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {b, "run", "--pg", login + " password=wrong", "--brokers", "127.0.0.1:1"},
           {b, "migrate", "--pg", login + " password=wrong"},
           {b, "migrate", "--pg", login + " password=right user=nobody"},
           {b, "migrate", "--pg", login + " password=right dbname=nosuch"}}) {
    const auto [rc, out] = run_command(argv, seconds(30));
    EXPECT_EQ(rc, 2) << argv[3] << ": " << out;
    EXPECT_EQ(out.find("retrying"), std::string::npos) << argv[3] << ": " << out;
    EXPECT_NE(out.find("check --pg"), std::string::npos) << argv[3] << ": " << out;
  }
  const auto [ok, out] =
      run_command({b, "migrate", "--pg", login + " password=right"}, seconds(60));
  EXPECT_EQ(ok, 0) << "the right password must get through: " << out;

  const std::string log = server.dir() + "/run-away.log";
  testing::Process run(
      {b, "run", "--pg", login + " password=right dbname=away", "--brokers", "127.0.0.1:1"}, log);
  expect_retrying_until_stopped(run, log);

  // PgBouncer's own hba file rejecting the login (auth_type = hba, a `reject` line).
  const size_t scram = ini.find("auth_type = scram-sha-256");
  ini.replace(scram, std::string("auth_type = scram-sha-256").size(),
              "auth_type = hba\nauth_hba_file = " + server.dir() + "/bouncer_hba.conf");
  std::ofstream(ini_path) << ini;
  std::ofstream(server.dir() + "/bouncer_hba.conf") << "host all postgres 127.0.0.1/32 reject\n";
  server.ctl("bouncer-restart");
  const auto [rejected, why] =
      run_command({b, "migrate", "--pg", login + " password=right"}, seconds(30));
  EXPECT_EQ(rejected, 2) << why;
  EXPECT_NE(why.find("check --pg"), std::string::npos) << why;
}

/// Accepts every connection and closes it at once: a TCP proxy whose backend is down, as a
/// client asking for TLS (sslmode=require or prefer) meets it in the middle of its handshake.
class HangUpServer {
 public:
  HangUpServer() : thread_([this] { serve(); }) {}
  ~HangUpServer() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return listener_.port(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {
        const int c = ::accept(listener_fd(), nullptr, nullptr);
        if (c >= 0) ::close(c);
      }
    }
  }
  int listener_fd() const { return listener_.fd(); }
  testing::SilentServer listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Only a handshake whose certificate is checked (verify-ca, verify-full) can fail for the
/// certificate: without verify-*, a TLS handshake cut short is the network's, and retried.
TEST(ConnectionRefusals, ATlsHandshakeCutShortWithoutCertificateChecksIsRetried) {
  const HangUpServer proxy;
  const std::string b = SENTINEL_BINARY;
  const std::string url = "host=127.0.0.1 port=" + std::to_string(proxy.port()) +
                          " user=postgres dbname=sentinel sslmode=require";
  const std::string log = ::testing::TempDir() + "/run-hangup.log";
  std::remove(log.c_str());  // a log of an earlier run would read as this one's
  testing::Process run({b, "run", "--pg", url, "--brokers", "127.0.0.1:1"}, log);
  expect_retrying_until_stopped(run, log);
}

/// A PostgreSQL stand-in on a local port, as a pooler that rewrites client_encoding would look:
/// it lets anyone in, reports client_encoding LATIN1 whatever was asked, and answers every query
/// (simple or extended protocol) with one row holding 1.
class Latin1Server {
 public:
  Latin1Server() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), n), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Latin1Server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  static void put32(std::string& b, int32_t v) {
    const uint32_t n = htonl(static_cast<uint32_t>(v));
    b.append(reinterpret_cast<const char*>(&n), 4);
  }
  static std::string message(char type, const std::string& body) {
    std::string m(1, type);
    put32(m, static_cast<int32_t>(body.size() + 4));
    return m + body;
  }
  static bool read_n(int c, char* out, size_t n) {
    for (size_t got = 0; got < n;) {
      const ssize_t r = ::read(c, out + got, n - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  static std::string one_row() {
    std::string t, d, body;
    t += std::string("\0\1?column?\0", 11);
    put32(t, 0);
    t += std::string("\0\0", 2);
    put32(t, 23);
    t += std::string("\0\4", 2);
    put32(t, -1);
    t += std::string("\0\0", 2);
    d += std::string("\0\1", 2);
    put32(d, 1);
    d += "1";
    return message('T', t) + message('D', d) + message('C', std::string("SELECT 1\0", 9)) +
           message('Z', "I");
  }
  void session(int c) {
    for (;;) {  // startup, after refusing SSL and GSS encryption
      char len[4];
      if (!read_n(c, len, 4)) return;
      std::string body(ntohl(*reinterpret_cast<uint32_t*>(len)) - 4, '\0');
      if (!read_n(c, body.data(), body.size())) return;
      const uint32_t code = ntohl(*reinterpret_cast<const uint32_t*>(body.data()));
      if (code != 80877103 && code != 80877104) break;
      if (::write(c, "N", 1) != 1) return;
    }
    std::string hello;
    hello += message('R', std::string(4, '\0'));
    hello += message('S', std::string("client_encoding\0LATIN1\0", 23));
    hello += message('S', std::string("server_version\0"
                                      "15.0\0",
                                      20));
    hello += message('K', std::string(8, '\1'));
    hello += message('Z', "I");
    if (::write(c, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) return;
    for (;;) {
      char head[5];
      if (!read_n(c, head, 5)) return;
      std::string body(ntohl(*reinterpret_cast<uint32_t*>(head + 1)) - 4, '\0');
      if (!read_n(c, body.data(), body.size())) return;
      std::string reply;
      if (head[0] == 'Q') reply = one_row();
      if (head[0] == 'S') reply = message('1', "") + message('2', "") + one_row();
      if (head[0] == 'X') return;
      if (!reply.empty() &&
          ::write(c, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) {
        return;
      }
    }
  }
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      session(c);
      ::close(c);
    }
  }

  int fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// The health check's connection did not check that it talks UTF-8 (the writers' did): behind a
// pooler that rewrote client_encoding, `/readyz` said ready while every batch was refused.
TEST(PgHealthCheck, AConnectionWhoseClientEncodingIsNotUtf8IsNotHealthy) {
  const Latin1Server server;
  Metrics metrics;
  metrics.pg_up = 1;
  {
    PgHealthCheck health(
        "host=127.0.0.1 port=" + std::to_string(server.port()) + " dbname=x user=x sslmode=disable",
        metrics, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
    EXPECT_TRUE(testing::wait_until(seconds(10), [&] { return server.connections() >= 3; }));
  }
  EXPECT_EQ(metrics.pg_up.load(), 0);
}

// `costs --replica` with a malformed connection string said "--pg is not a valid connection
// string" to someone who gave no --pg.
TEST(CostsCommand, AMalformedReplicaIsReportedAsReplicaNotPg) {
  for (const char* replica :
       {"postgresql://u@host:notaport/db", "postgresql://[::1", "host=127.0.0.1 port=99999"}) {
    const auto [code, out] = run_command(
        {SENTINEL_BINARY, "costs", "--replica", replica, "--month", "2026-11"}, seconds(20));
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("--replica"), std::string::npos) << out;
    EXPECT_EQ(out.find("--pg"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace sentinel
