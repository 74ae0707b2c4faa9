// The binary's contract with the person or tool running it: exit codes and messages.
#include <gtest/gtest.h>

#include "sinks/migrator.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::run_command;
using testing::TestDb;

TEST(Cli, RunAgainstAnUnmigratedDatabaseExits2AndSaysToMigrate) {
  TestDb db;
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers", "127.0.0.1:1"}, seconds(60));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("sentinel-ingest migrate"), std::string::npos) << out;
}

TEST(Cli, MigrateThenRunStartsAndStopsCleanlyOnSigterm) {
  TestDb db;
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60));
  ASSERT_EQ(code, 0) << out;
  const auto [again, out2] =
      run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60));
  EXPECT_EQ(again, 0) << out2;
  EXPECT_NE(out2.find("up to date"), std::string::npos) << out2;
}

TEST(Cli, MissingRequiredSettingsExit2NamingFlagAndEnvironment) {
  const auto [code, out] = run_command({SENTINEL_BINARY, "run", "--brokers", "x:1"}, seconds(20));
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("--pg"), std::string::npos) << out;
  EXPECT_NE(out.find("SENTINEL_PG_URL"), std::string::npos) << out;
}

TEST(Cli, UnknownFlagExits2) {
  const auto [code, out] = run_command({SENTINEL_BINARY, "run", "--no-such-flag"}, seconds(20));
  EXPECT_EQ(code, 2) << out;
}

TEST(Cli, BadKafkaPropertyExits2NamingIt) {
  TestDb db;
  apply_migrations(db.direct_url());
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers", "127.0.0.1:1",
                   "--kafka-prop", "no.such.property=1"},
                  seconds(30));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("no.such.property"), std::string::npos) << out;
}

TEST(Cli, WrongPasswordIsNeverPrinted) {
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "run", "--pg",
       "postgresql://nobody:hunter2-secret@127.0.0.1:1/db?connect_timeout=2", "--brokers", "x:1"},
      seconds(5));
  EXPECT_EQ(out.find("hunter2-secret"), std::string::npos) << out;
}

TEST(Cli, HelpListsEveryRunFlagWithItsEnvironmentVariable) {
  const auto [code, out] = run_command({SENTINEL_BINARY, "run", "--help"}, seconds(10));
  EXPECT_EQ(code, 0);
  for (const char* s : {"--pg", "--brokers", "--group", "--audit-topic", "--invocations-topic",
                        "--writers", "--config", "--metrics-listen", "--kafka-prop",
                        "SENTINEL_PG_URL", "SENTINEL_KAFKA_BROKERS", "SENTINEL_WRITERS"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace sentinel
