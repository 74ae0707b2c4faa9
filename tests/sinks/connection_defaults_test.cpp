// What every connection string is completed with (pgconn/connection_defaults.h): a name the DBA
// recognises and a connect timeout, never overriding what the user wrote.
#include "pgconn/connection_defaults.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace sentinel {
namespace {

class ConnectionDefaults : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("PGCONNECT_TIMEOUT");
    unsetenv("PGAPPNAME");
  }
  void TearDown() override { unsetenv("PGCONNECT_TIMEOUT"); }
};

TEST_F(ConnectionDefaults, KeyValueStringGetsANameAndATimeout) {
  EXPECT_EQ(with_connection_defaults("host=db port=6432 dbname=sentinel"),
            "host=db port=6432 dbname=sentinel fallback_application_name=sentinel-ingest "
            "connect_timeout=10");
  EXPECT_EQ(with_connection_defaults(""),
            "fallback_application_name=sentinel-ingest connect_timeout=10");
}

TEST_F(ConnectionDefaults, UriGetsThemAsQueryParameters) {
  EXPECT_EQ(with_connection_defaults("postgresql://u@db:6432/sentinel"),
            "postgresql://u@db:6432/sentinel?fallback_application_name=sentinel-ingest&"
            "connect_timeout=10");
  EXPECT_EQ(with_connection_defaults("postgres://db/sentinel?sslmode=verify-full"),
            "postgres://db/sentinel?sslmode=verify-full&fallback_application_name=sentinel-ingest&"
            "connect_timeout=10");
}

TEST_F(ConnectionDefaults, WhatTheUserSetWins) {
  EXPECT_EQ(with_connection_defaults("host=db connect_timeout=3"),
            "host=db connect_timeout=3 fallback_application_name=sentinel-ingest");
  EXPECT_EQ(with_connection_defaults("postgresql://db/x?connect_timeout=3"),
            "postgresql://db/x?connect_timeout=3&fallback_application_name=sentinel-ingest");
  setenv("PGCONNECT_TIMEOUT", "5", 1);
  EXPECT_EQ(with_connection_defaults("host=db"),
            "host=db fallback_application_name=sentinel-ingest");
}

TEST_F(ConnectionDefaults, AWordInAPasswordIsNotMistakenForASetting) {
  // A substring search would have found "connect_timeout" in the password.
  EXPECT_EQ(with_connection_defaults("host=db password='connect_timeout=1'"),
            "host=db password='connect_timeout=1' fallback_application_name=sentinel-ingest "
            "connect_timeout=10");
}

TEST_F(ConnectionDefaults, UnparsableStringIsLeftForLibpqToReport) {
  EXPECT_EQ(with_connection_defaults("host=db port"), "host=db port");
}

}  // namespace
}  // namespace sentinel
