// What every PgConnection is opened with, seen from the socket and the server: TCP keepalives,
// UTF-8 whatever the role says, and one-line errors.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>

#include "sinks/connection_defaults.h"
#include "sinks/migrator.h"
#include "sinks/pg_connection.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::TestDb;

int socket_option(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(getsockopt(fd, level, name, &value, &size), 0);
  return value;
}

// Without keepalives a backend whose client vanished in a network partition kept its
// transaction (and row locks) until TCP gave up, hours later; the client hung as long.
TEST(PgConnectionDefaults, TcpKeepalivesAreOnThroughPgBouncerAndDirect) {
  TestDb db;
  for (const std::string& url : {db.bouncer_url(), db.direct_url()}) {
    PgConnection conn(url);
    conn.connect();
    const int fd = PQsocket(conn.raw());
    EXPECT_EQ(socket_option(fd, SOL_SOCKET, SO_KEEPALIVE), 1) << url;
    EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30) << url;
    EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), 10) << url;
    EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPCNT), 3) << url;
    EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 60000) << url;
  }
}

TEST(PgConnectionDefaults, ClientEncodingIsUtf8WhateverTheRoleSays) {
  TestDb db;
  db.query("ALTER ROLE CURRENT_USER IN DATABASE " + db.name() + " SET client_encoding = 'LATIN1'");
  for (const std::string& url : {db.bouncer_url(), db.direct_url()}) {
    PgConnection conn(url);
    conn.connect();
    EXPECT_STREQ(PQparameterStatus(conn.raw(), "client_encoding"), "UTF8") << url;
    const PgResult r = conn.exec("SHOW client_encoding");
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "UTF8") << url;
  }
  EXPECT_THROW(PgConnection(db.direct_url() + " client_encoding=LATIN1"), ConnectionStringError);
}

TEST(PgConnectionDefaults, AFailureAtSeveralAddressesIsOneLine) {
  PgConnection conn("host=127.0.0.1,127.0.0.1 port=1 dbname=x user=x");
  try {
    conn.connect();
    ADD_FAILURE() << "connected to port 1";
  } catch (const PgError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("Connection refused; "), std::string::npos) << what;
    EXPECT_TRUE(e.transient()) << what;
  }
}

/// The category of what `sql` fails with on `conn`.
PgErrorCategory failure_of(PgConnection& conn, const char* sql, std::string* message = nullptr) {
  try {
    conn.exec(sql);
  } catch (const PgError& e) {
    if (message != nullptr) *message = e.what();
    return e.category();
  }
  ADD_FAILURE() << sql << " did not fail";
  return PgErrorCategory::kCount;
}

// The server's messages follow lc_messages; what the ingestor does about an error must not.
TEST(PgErrorClassifier, ServerErrorsInGermanAreClassifiedBySqlstate) {
  TestDb db;
  apply_migrations(db.direct_url());
  PgConnection conn(db.direct_url());
  conn.connect();
  try {
    conn.exec("SET lc_messages = 'de_DE.UTF-8'");
  } catch (const PgError& e) {
    GTEST_SKIP() << "the server has no German messages: " << e.what();
  }
  std::string message;
  EXPECT_EQ(failure_of(conn, "SELECT * FROM public.no_such_table", &message),
            PgErrorCategory::kConfiguration);
  EXPECT_NE(message.find("existiert nicht"), std::string::npos) << "not German: " << message;
  EXPECT_EQ(failure_of(conn, "SELECT 1 / 0"), PgErrorCategory::kRowRefused);
  EXPECT_EQ(failure_of(conn, "SELECT 'x'::int"), PgErrorCategory::kRowRefused);
  EXPECT_EQ(failure_of(conn,
                       "INSERT INTO public.audit_logs (event_id, ts, tenant_id, action, outcome, "
                       "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), "
                       "'1999-01-15', 't', 'a', 'success', 0, 0)"),
            PgErrorCategory::kMissingPartition);
  // A CHECK violation is 23514 too, but names its constraint: the row's fault.
  conn.exec("SELECT public.sentinel_ensure_month_partition('audit_logs', '2001-01-01')");
  EXPECT_EQ(failure_of(conn,
                       "INSERT INTO public.audit_logs (event_id, ts, tenant_id, action, outcome, "
                       "kafka_partition, kafka_offset) VALUES (gen_random_uuid(), '2001-01-15', "
                       "'t', 'a', 'maybe', 0, 0)"),
            PgErrorCategory::kRowRefused);
  EXPECT_EQ(failure_of(conn, "SELEC 1"), PgErrorCategory::kFatal);
  conn.exec("SET statement_timeout = '10ms'");
  EXPECT_EQ(failure_of(conn, "SELECT pg_sleep(1)"), PgErrorCategory::kTransient);
}

// A refused connection has no SQLSTATE in libpq's API; the diagnosis finds it (or the phase the
// connection failed in) without reading the message.
TEST(DiagnoseConnectFailure, RefusalsAreConfigurationAndUnreachableIsTransient) {
  TestDb db;
  const auto diagnose = [](const std::string& url) {
    return diagnose_connect_failure(url, "the caller's message", std::chrono::seconds(3));
  };
  const PgError no_db = diagnose(db.direct_url() + " dbname=sentinel_no_such_db");
  EXPECT_EQ(no_db.sqlstate(), "3D000");
  EXPECT_TRUE(no_db.configuration());
  EXPECT_STREQ(no_db.what(), "the caller's message");
  const PgError no_role = diagnose(db.direct_url() + " user=sentinel_no_such_role");
  EXPECT_EQ(no_role.sqlstate(), "28000");
  EXPECT_TRUE(no_role.configuration());
  EXPECT_TRUE(diagnose("host=127.0.0.1 port=1 dbname=x user=x").transient());
  EXPECT_TRUE(diagnose(db.direct_url()).transient());  // connects now: transient too
}

}  // namespace
}  // namespace sentinel
