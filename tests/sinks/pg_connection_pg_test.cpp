// What every PgConnection is opened with, seen from the socket and the server: TCP keepalives,
// UTF-8 whatever the role says, and one-line errors.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>

#include "sinks/connection_defaults.h"
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

}  // namespace
}  // namespace sentinel
