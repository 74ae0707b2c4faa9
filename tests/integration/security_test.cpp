// Least privilege and transport: the real binary runs as a LOGIN role that holds nothing but
// sentinel_ingest, over TLS verified against a CA made for the test (sslmode=verify-full), with a
// password that must never show up in what it prints. A wrong CA and a wrong password are
// refused at once with exit code 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "sinks/migrator.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "tests/integration/expectations.h"
#include "tests/integration/pg_server.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::PgServer;
using testing::Process;
using testing::TestDb;

constexpr const char* kUser = "sentinel_app";
constexpr const char* kPassword = "Xyzzy-s3cret-9913";

/// A throwaway CA, a server certificate it signed for localhost/127.0.0.1, and a second CA that
/// signed nothing, made with openssl in `dir`.
void make_certificates(const std::string& dir) {
  const std::string script =
      "set -e; cd '" + dir +
      "'\n"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
      "/CN=sentinel-test-ca -keyout ca.key -out ca.crt\n"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
      "/CN=some-other-ca -keyout wrong_ca.key -out wrong_ca.crt\n"
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
      "-keyout server.key -out server.csr\n"
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext\n"
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile san.ext -out server.crt\n"
      "chmod 600 server.key; chmod 755 .\n"
      "if [ \"$(id -u)\" -eq 0 ]; then chown postgres: server.key server.crt; fi\n";
  const auto [rc, out] = testing::run_command({"/bin/bash", "-c", script}, seconds(60));
  ASSERT_EQ(rc, 0) << out;
}

class Security : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = ::testing::TempDir() + "sentinel_tls_XXXXXX";
    certs_ = mkdtemp(tmpl.data());
    make_certificates(certs_);
    server_ = new PgServer(nullptr, {"ssl=on", "ssl_cert_file=" + certs_ + "/server.crt",
                                     "ssl_key_file=" + certs_ + "/server.key"});
    // The application login may only come over TLS, with its password.
    const std::string hba = server_->dir() + "/data/pg_hba.conf";
    const std::string rest = testing::read_file(hba);
    std::ofstream(hba, std::ios::trunc)
        << "hostssl all " << kUser << " 127.0.0.1/32 scram-sha-256\n"
        << "hostssl all " << kUser << " ::1/128 scram-sha-256\n"
        << "host all " << kUser << " all reject\n"
        << rest;
    testing::query_one(server_->url(), "SELECT pg_reload_conf()");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    testing::run_command({"/bin/rm", "-rf", certs_}, seconds(10));
  }

  void SetUp() override {
    db_ = std::make_unique<TestDb>(server_->url(), server_->bouncer_url());
    apply_migrations(db_->direct_url());  // as the superuser: creates the roles
    testing::query_one(server_->url(), std::string("DO $$BEGIN IF NOT EXISTS (SELECT FROM "
                                                   "pg_roles WHERE rolname = '") +
                                           kUser + "') THEN CREATE ROLE " + kUser +
                                           " LOGIN PASSWORD '" + kPassword + "'; END IF; END$$");
    testing::query_one(server_->url(), std::string("GRANT sentinel_ingest TO ") + kUser);
  }

  /// The login role's URI, TLS verified against `ca`.
  std::string app_uri(const std::string& ca, const std::string& password = kPassword) const {
    return std::string("postgresql://") + kUser + ":" + password + "@localhost:" + server_->port() +
           "/" + db_->name() + "?sslmode=verify-full&sslrootcert=" + certs_ + "/" + ca;
  }

  static inline std::string certs_;
  static inline PgServer* server_ = nullptr;
  std::unique_ptr<TestDb> db_;
};

std::vector<GeneratedEvent> publish(const std::string& brokers, uint64_t count) {
  GeneratorOptions g;
  g.seed = 99;
  g.invalid_ratio = 0.02;
  g.tenants = 20;
  g.days_back = 150;  // months that no premake made: the ingest role must create them
  EventGenerator gen(g);
  Publisher publisher(brokers, {});
  const std::string topics[2] = {"sentinel.audit", "sentinel.invocations"};
  std::vector<GeneratedEvent> events;
  for (uint64_t i = 0; i < count; ++i) {
    GeneratedEvent e = gen.next();
    publisher.produce(topics[e.topic_index], e.key, e.payload);
    e.payload.clear();
    events.push_back(std::move(e));
  }
  publisher.flush();
  return events;
}

TEST_F(Security, IngestRoleOverVerifiedTlsIngestsExactlyOnceAndNeverLogsItsPassword) {
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 4);
  const auto events = publish(mock.bootstraps(), 6000);
  const std::string log = ::testing::TempDir() + "security_run.log";
  std::remove(log.c_str());
  Process p({SENTINEL_BINARY, "run", "--pg", app_uri("ca.crt"), "--brokers", mock.bootstraps(),
             "--group", "security"},
            log);
  const auto n = static_cast<int64_t>(events.size());
  ASSERT_TRUE(testing::wait_for_stored(*db_, n, seconds(120), [&] {
    return !p.wait(std::chrono::milliseconds(0));
  })) << testing::read_file(log);
  // Every connection of the login role is encrypted.
  EXPECT_NE(db_->query(std::string("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                                   "USING (pid) WHERE a.usename = '") +
                       kUser + "' AND s.ssl"),
            "0");
  EXPECT_EQ(db_->query(std::string("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                                   "USING (pid) WHERE a.usename = '") +
                       kUser + "' AND NOT s.ssl"),
            "0");
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(seconds(15)), 0);
  testing::expect_exactly_once(*db_, events);
  // Months beyond the premade ones were created through the definer function, owned by the
  // owner role, not by the login.
  EXPECT_GE(std::stoi(db_->query("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                                 "'audit_logs'::regclass")),
            5);
  EXPECT_EQ(db_->query("SELECT count(*) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
                       "WHERE i.inhparent IN ('audit_logs'::regclass, 'invocations'::regclass) "
                       "AND pg_get_userbyid(c.relowner) <> 'sentinel_owner'"),
            "0");
  const std::string out = testing::read_file(log);
  EXPECT_EQ(out.find(kPassword), std::string::npos) << out;
  EXPECT_NE(out.find(":***@"), std::string::npos) << "the redacted URL is logged at start";
}

TEST_F(Security, IngestRoleCannotChangeRemoveOrRedefineAnything) {
  const std::string url = std::string("host=localhost port=") + server_->port() +
                          " dbname=" + db_->name() + " user=" + kUser + " password=" + kPassword +
                          " sslmode=verify-full sslrootcert=" + certs_ + "/ca.crt";
  for (const std::string sql :
       {"UPDATE audit_logs SET tenant_id = 'x'", "DELETE FROM invocations", "TRUNCATE audit_logs",
        "TRUNCATE costs", "DELETE FROM ingest_offsets", "DELETE FROM ingest_rejects",
        "UPDATE ingest_rejects SET reason = 'x'", "ALTER TABLE audit_logs ADD COLUMN x int",
        "DROP TABLE ingest_rejects", "DROP TABLE costs",
        "CREATE TABLE audit_logs_1999_01 PARTITION OF audit_logs FOR VALUES "
        "FROM ('1999-01-01') TO ('1999-02-01')",
        "CREATE TABLE t(x int)",
        "ALTER FUNCTION sentinel_ensure_month_partition(text, date) "
        "OWNER TO sentinel_app",
        "SELECT count(*) FROM audit_logs"}) {
    EXPECT_THROW(testing::query_one(url, sql), std::runtime_error) << sql;
  }
  // And what it needs does work: a partition through the definer function.
  EXPECT_NO_THROW(testing::query_one(
      url, "SELECT sentinel_ensure_month_partition('audit_logs', date '2025-01-01')"));
}

TEST_F(Security, WrongCaIsRefusedWithExitCode2) {
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 1);
  const std::string log = ::testing::TempDir() + "security_wrong_ca.log";
  std::remove(log.c_str());
  Process p(
      {SENTINEL_BINARY, "run", "--pg", app_uri("wrong_ca.crt"), "--brokers", mock.bootstraps()},
      log);
  EXPECT_EQ(p.wait(seconds(30)), 2) << testing::read_file(log);
  const std::string out = testing::read_file(log);
  EXPECT_NE(out.find("certificate verify failed"), std::string::npos) << out;
  EXPECT_NE(out.find("check --pg"), std::string::npos) << out;
  EXPECT_EQ(out.find(kPassword), std::string::npos) << out;
}

TEST_F(Security, WrongPasswordIsRefusedWithExitCode2AndNotEchoed) {
  MockCluster mock(1, {"sentinel.audit", "sentinel.invocations"}, 1);
  const std::string wrong = "Not-The-Password-7781";
  for (const std::string& url :
       {app_uri("ca.crt", wrong), std::string("host=localhost port=") + server_->port() +
                                      " dbname=" + db_->name() + " user=" + kUser + " password='" +
                                      wrong + "' sslmode=verify-full sslrootcert=" + certs_ +
                                      "/ca.crt"}) {
    const std::string log = ::testing::TempDir() + "security_wrong_password.log";
    std::remove(log.c_str());
    Process p({SENTINEL_BINARY, "run", "--pg", url, "--brokers", mock.bootstraps()}, log);
    EXPECT_EQ(p.wait(seconds(30)), 2) << testing::read_file(log);
    const std::string out = testing::read_file(log);
    EXPECT_NE(out.find("password authentication failed"), std::string::npos) << out;
    EXPECT_EQ(out.find(wrong), std::string::npos) << out;
    // migrate too.
    const auto [rc, text] =
        testing::run_command({SENTINEL_BINARY, "migrate", "--pg", url}, std::chrono::seconds(30));
    EXPECT_EQ(rc, 2) << text;
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace sentinel
