// The global flags (--log-level, --log-format, --version) wherever an operator puts them, and
// what --version tells a bug report (issue 21). No server needed.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/process.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::run_command;

TEST(GlobalFlags, LogLevelAfterTheSubcommandIsAccepted) {
  // Without --pg the run stops at its own settings: a usage error about --pg, not the flag.
  const auto [code, out] = run_command({SENTINEL_BINARY, "run", "--log-level", "debug",
                                        "--log-format", "text", "--brokers", "127.0.0.1:1"},
                                       seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("missing --pg"), std::string::npos) << out;
  EXPECT_EQ(out.find("log-level"), std::string::npos) << out;
}

TEST(GlobalFlags, GlobalFlagsAfterANestedSubcommandAreAccepted) {
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "catalog", "list", "--log-level", "warn"}, seconds(20));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("audit"), std::string::npos) << out;
}

TEST(GlobalFlags, UnknownLogLevelExits2NamingTheValidOnes) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{SENTINEL_BINARY, "--log-level", "verbose", "catalog", "list"},
        std::vector<std::string>{SENTINEL_BINARY, "run", "--log-level", "verbose"}}) {
    const auto [code, out] = run_command(argv, seconds(20));
    EXPECT_EQ(code, 2) << out;
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
      EXPECT_NE(out.find(level), std::string::npos) << level << ": " << out;
    }
  }
}

TEST(GlobalFlags, VersionNamesTheCommitAndTheLibraries) {
  const auto [code, out] = run_command({SENTINEL_BINARY, "--version"}, seconds(20));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.rfind("sentinel-ingest ", 0), 0u) << out;
  for (const char* name : {"\ncommit ", "\nlibrdkafka ", "\nlibpq ", "\nsimdjson ", "OpenSSL "}) {
    EXPECT_NE(out.find(name), std::string::npos) << name << ": " << out;
  }
}

}  // namespace
}  // namespace sentinel
