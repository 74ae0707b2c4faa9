// What every connection string is completed with (sinks/connection_defaults.h): a name the DBA
// recognises, a connect timeout, TCP keepalives and UTF-8, never overriding what the user wrote
// (but refusing another client encoding), and which strings can never connect.
#include "sinks/connection_defaults.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace sentinel {
namespace {

const std::string kKv =
    " client_encoding=UTF8 keepalives=1 keepalives_idle=30 keepalives_interval=10 "
    "keepalives_count=3 tcp_user_timeout=60000";
const std::string kUri =
    "&client_encoding=UTF8&keepalives=1&keepalives_idle=30&keepalives_interval=10&"
    "keepalives_count=3&tcp_user_timeout=60000";

class ConnectionDefaults : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("PGCONNECT_TIMEOUT");
    unsetenv("PGAPPNAME");
    unsetenv("PGCLIENTENCODING");
    unsetenv("PGPORT");
  }
  void TearDown() override {
    unsetenv("PGCONNECT_TIMEOUT");
    unsetenv("PGPORT");
  }
};

TEST_F(ConnectionDefaults, KeyValueStringGetsANameAndATimeout) {
  EXPECT_EQ(with_connection_defaults("host=db port=6432 dbname=sentinel"),
            "host=db port=6432 dbname=sentinel fallback_application_name=sentinel-ingest "
            "connect_timeout=10" +
                kKv);
  EXPECT_EQ(with_connection_defaults(""),
            "fallback_application_name=sentinel-ingest connect_timeout=10" + kKv);
}

TEST_F(ConnectionDefaults, UriGetsThemAsQueryParameters) {
  EXPECT_EQ(with_connection_defaults("postgresql://u@db:6432/sentinel"),
            "postgresql://u@db:6432/sentinel?fallback_application_name=sentinel-ingest&"
            "connect_timeout=10" +
                kUri);
  EXPECT_EQ(with_connection_defaults("postgres://db/sentinel?sslmode=verify-full"),
            "postgres://db/sentinel?sslmode=verify-full&fallback_application_name=sentinel-ingest&"
            "connect_timeout=10" +
                kUri);
}

TEST_F(ConnectionDefaults, WhatTheUserSetWins) {
  EXPECT_EQ(with_connection_defaults("host=db connect_timeout=3"),
            "host=db connect_timeout=3 fallback_application_name=sentinel-ingest" + kKv);
  EXPECT_EQ(with_connection_defaults("postgresql://db/x?connect_timeout=3"),
            "postgresql://db/x?connect_timeout=3&fallback_application_name=sentinel-ingest" + kUri);
  setenv("PGCONNECT_TIMEOUT", "5", 1);
  EXPECT_EQ(with_connection_defaults("host=db"),
            "host=db fallback_application_name=sentinel-ingest" + kKv);
}

TEST_F(ConnectionDefaults, AWordInAPasswordIsNotMistakenForASetting) {
  // A substring search would have found "connect_timeout" in the password.
  EXPECT_EQ(with_connection_defaults("host=db password='connect_timeout=1'"),
            "host=db password='connect_timeout=1' fallback_application_name=sentinel-ingest "
            "connect_timeout=10" +
                kKv);
}

TEST_F(ConnectionDefaults, KeepalivesTheUserSetWin) {
  EXPECT_EQ(with_connection_defaults("host=db keepalives=0 tcp_user_timeout=5000"),
            "host=db keepalives=0 tcp_user_timeout=5000 fallback_application_name=sentinel-ingest "
            "connect_timeout=10 client_encoding=UTF8 keepalives_idle=30 keepalives_interval=10 "
            "keepalives_count=3");
}

// PGCLIENTENCODING or ALTER ROLE ... SET client_encoding would otherwise turn text into mojibake.
TEST_F(ConnectionDefaults, ClientEncodingIsAlwaysUtf8) {
  setenv("PGCLIENTENCODING", "LATIN1", 1);
  EXPECT_NE(with_connection_defaults("host=db").find(" client_encoding=UTF8"), std::string::npos);
  unsetenv("PGCLIENTENCODING");
  for (const char* utf8 : {"UTF8", "utf-8", "Unicode"}) {
    const std::string url = std::string("host=db client_encoding=") + utf8;
    EXPECT_EQ(with_connection_defaults(url).find("client_encoding", url.size()), std::string::npos)
        << url;
  }
  for (const char* other :
       {"host=db client_encoding=LATIN1", "postgresql://db/x?client_encoding=SQL_ASCII",
        "host=db client_encoding=auto"}) {
    try {
      with_connection_defaults(other);
      ADD_FAILURE() << other << " was accepted";
    } catch (const ConnectionStringError& e) {
      EXPECT_NE(std::string(e.what()).find("remove client_encoding from --pg"), std::string::npos)
          << e.what();
    }
  }
}

// These used to be passed on to libpq, whose failure looked like an unreachable server: retried
// forever.
TEST_F(ConnectionDefaults, MalformedStringIsAConfigurationError) {
  for (const char* bad :
       {"host=db port", "postgresql://u@host:notaport/db", "postgresql://[::1",
        "postgresql://[::1/db", "host=db port=0", "host=db port=70000", "host=db port=54x32",
        "host=a,b port=5432,x", "host='db", "hots=db", "postgresql://db/x?nosuchoption=1",
        "host=db connect_timeout=ten", "host=db keepalives_idle=soon",
        "postgresql://u:pw@db:5432/x?port=abc", "host=db sslmode=verify_full",
        "postgresql://db/x?target_session_attrs=primary-only", "host=db gssencmode=yes"}) {
    try {
      with_connection_defaults(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConnectionStringError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--pg"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  // libpq quotes the whole URI in some of its complaints: never the password.
  try {
    with_connection_defaults("postgresql://u:Sw0rdfish-77@[::1/db");
    ADD_FAILURE() << "accepted";
  } catch (const ConnectionStringError& e) {
    EXPECT_EQ(std::string(e.what()).find("Sw0rdfish-77"), std::string::npos) << e.what();
  }
  // Several hosts with one port each, or one port for all, are fine.
  EXPECT_NO_THROW(with_connection_defaults("host=a,b port=5432,6432"));
  EXPECT_NO_THROW(with_connection_defaults("postgresql://a:5432,b:6432/db"));
  EXPECT_NO_THROW(with_connection_defaults("host=a,b port=,6432"));
  EXPECT_NO_THROW(with_connection_defaults("host=/var/run/postgresql"));
  EXPECT_NO_THROW(
      with_connection_defaults("host=db sslmode=verify-full target_session_attrs=read-write"));
}

TEST_F(ConnectionDefaults, MalformedPortOrTimeoutInTheEnvironmentIsAConfigurationError) {
  setenv("PGPORT", "notaport", 1);
  EXPECT_THROW(with_connection_defaults("host=db"), ConnectionStringError);
  EXPECT_NO_THROW(with_connection_defaults("host=db port=5432"));  // the string wins
  unsetenv("PGPORT");
  setenv("PGCONNECT_TIMEOUT", "soon", 1);
  EXPECT_THROW(with_connection_defaults("host=db"), ConnectionStringError);
  EXPECT_NO_THROW(with_connection_defaults("host=db connect_timeout=3"));
}

// redact_url's regex stopped the URI password at a space or the first `@`, and libpq's parse
// errors quote pieces of the string: the password of a malformed string was printed.
TEST_F(ConnectionDefaults, PasswordsOfMalformedStringsAreRedactedEverywhere) {
  EXPECT_EQ(redact_secrets("postgresql://u:SEK RIT@127.0.0.1:1/db"),
            "postgresql://u:***@127.0.0.1:1/db");
  EXPECT_EQ(redact_secrets("postgresql://u:p@ss:SEKRIT@127.0.0.1/db"),
            "postgresql://u:***@127.0.0.1/db");
  EXPECT_EQ(redact_secrets("postgres://u:a/b#c@h/db?password=x%ZZy&port=1"),
            "postgres://u:***@h/db?password=***&port=1");
  EXPECT_EQ(redact_secrets("host=h password='a b\\' c' user=u"), "host=h password=*** user=u");
  EXPECT_EQ(redact_secrets("postgresql://app@db:5432/sentinel"),
            "postgresql://app@db:5432/sentinel");
  // Fragments a message quotes out of context.
  EXPECT_EQ(redact_secrets("invalid port \"SEKRIT@127.0.0.1\"",
                           "postgresql://u:p@ss:SEKRIT@127.0.0.1/db"),
            "invalid port \"***@127.0.0.1\"");
  EXPECT_EQ(redact_secrets("invalid percent-encoded token: \"SEK%ZZRIT\"",
                           "postgresql://127.0.0.1/db?password=SEK%ZZRIT"),
            "invalid percent-encoded token: \"***\"");
  EXPECT_EQ(redact_secrets("said \"SEK@RIT\"", "postgresql://u:SEK%40RIT@h/db"), "said \"***\"");

  struct Case {
    std::string pg, secret;
  };
  for (const Case& c : {Case{"postgresql://127.0.0.1/db?password=Qv8%ZZRIT", "Qv8%ZZRIT"},
                        Case{"postgresql://u:p@ss:Qv8SEK@127.0.0.1/db", "Qv8SEK"},
                        Case{"postgresql://u:Qv8/Xz4@127.0.0.1/db", "Qv8"},
                        Case{"host=h password=Qv8 Xz4 dbname=d", "Xz4"},
                        Case{"host=h port=x password='Qv8 Xz4'", "Qv8 Xz4"}}) {
    try {
      with_connection_defaults(c.pg);
      ADD_FAILURE() << c.pg << " was accepted";
    } catch (const ConnectionStringError& e) {
      EXPECT_EQ(std::string(e.what()).find(c.secret), std::string::npos) << e.what();
    }
  }
}

TEST(OneLine, LibpqLineBreaksBecomeSeparators) {
  EXPECT_EQ(one_line("connection to server at \"localhost\" (::1), port 1 failed: Connection "
                     "refused\n\tIs the server running on that host and accepting TCP/IP "
                     "connections?\nconnection to server at \"localhost\" (127.0.0.1), port 1 "
                     "failed: Connection refused\n\tIs the server running?\n"),
            "connection to server at \"localhost\" (::1), port 1 failed: Connection refused; Is "
            "the server running on that host and accepting TCP/IP connections?; connection to "
            "server at \"localhost\" (127.0.0.1), port 1 failed: Connection refused; Is the "
            "server running?");
  EXPECT_EQ(one_line("ERROR:  syntax error\nLINE 1: SELEC\n        ^\n"),
            "ERROR:  syntax error; LINE 1: SELEC; ^");
  EXPECT_EQ(one_line("plain"), "plain");
  EXPECT_EQ(one_line("\n"), "");
}

}  // namespace
}  // namespace sentinel
