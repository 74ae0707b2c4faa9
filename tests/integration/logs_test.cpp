// One record, one line, in the chosen --log-format: what a log shipper (Vector, Fluent Bit) needs
// to keep each record whole, librdkafka's and libpq's records included (issue 21).
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "app/logging.h"
#include "sinks/pg_connection.h"
#include "tests/support/process.h"
#include "tests/support/temp_folder.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::TestDb;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

TEST(Logs, JsonLogsOfRunWithAnUnreachableBrokerAreOneObjectPerLineLibrdkafkaIncluded) {
  TestDb db;
  const auto [migrated, out] =
      testing::run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60));
  ASSERT_EQ(migrated, 0) << out;
  testing::TempFolder folder("logs-json");
  const std::string log = folder.path() + "/run.log";
  // The global flags after the sub-command, as an operator types them.
  testing::Process run({SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers",
                        "127.0.0.1:1", "--log-format", "json", "--log-level", "debug"},
                       log);
  EXPECT_TRUE(testing::wait_until(seconds(30), [&] {
    return testing::read_file(log).find(R"("component":"librdkafka")") != std::string::npos;
  })) << testing::read_file(log);
  run.signal(SIGTERM);
  EXPECT_TRUE(run.wait(seconds(20)).has_value());

  const std::vector<std::string> lines = lines_of(testing::read_file(log));
  ASSERT_FALSE(lines.empty());
  simdjson::dom::parser parser;
  size_t librdkafka = 0;
  for (const std::string& line : lines) {
    simdjson::dom::element record;
    ASSERT_EQ(parser.parse(simdjson::padded_string(line)).get(record), simdjson::SUCCESS) << line;
    std::string_view component, facility, msg;
    ASSERT_EQ(record["component"].get(component), simdjson::SUCCESS) << line;
    ASSERT_EQ(record["msg"].get(msg), simdjson::SUCCESS) << line;
    if (component == "librdkafka") {
      EXPECT_EQ(record["facility"].get(facility), simdjson::SUCCESS) << line;
      EXPECT_FALSE(facility.empty()) << line;
      ++librdkafka;
    }
  }
  EXPECT_GT(librdkafka, 0u);
}

// A CI run once saw `run` die of SIGSEGV while leaving a rebalancing group, and its log ended
// mid-stop with nothing to say where. A fatal signal is now one log line, in the log format, with
// the thread and the stack as module+offset frames, and the process still dies of that signal.
TEST(Logs, AFatalSignalIsOneJsonLineWithItsStackAndTheProcessStillDiesOfIt) {
  TestDb db;
  const auto [migrated, out] =
      testing::run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60));
  ASSERT_EQ(migrated, 0) << out;
  testing::TempFolder folder("logs-crash");
  const std::string log = folder.path() + "/run.log";
  testing::Process run({SENTINEL_BINARY, "run", "--pg", db.bouncer_url(), "--brokers",
                        "127.0.0.1:1", "--log-format", "json"},
                       log);
  ASSERT_TRUE(testing::wait_until(seconds(30), [&] {
    return testing::read_file(log).find("consuming") != std::string::npos;
  })) << testing::read_file(log);
  run.signal(SIGSEGV);
  EXPECT_EQ(run.wait(seconds(20)), 128 + SIGSEGV) << testing::read_file(log);

  const std::vector<std::string> lines = lines_of(testing::read_file(log));
  ASSERT_FALSE(lines.empty());
  simdjson::dom::parser parser;
  simdjson::dom::element record;
  ASSERT_EQ(parser.parse(simdjson::padded_string(lines.back())).get(record), simdjson::SUCCESS)
      << lines.back();
  std::string_view level, msg;
  ASSERT_EQ(record["level"].get(level), simdjson::SUCCESS);
  ASSERT_EQ(record["msg"].get(msg), simdjson::SUCCESS);
  EXPECT_EQ(level, "critical");
  EXPECT_NE(msg.find("fatal signal 11 (SIGSEGV) on thread "), std::string_view::npos) << msg;
  EXPECT_NE(msg.find("sentinel-ingest+0x"), std::string_view::npos) << msg;
}

/// Runs `body` with stderr (fd 2) going to a file; returns what was written there.
template <typename Body>
std::string captured_stderr(const std::string& path, Body body) {
  std::fflush(stderr);
  const int saved = ::dup(2);
  std::FILE* file = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(file), 2);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(file);
  return testing::read_file(path);
}

TEST(Logs, TextLogOfALibpqNoticeWithDetailAndHintIsOnePrefixedLine) {
  TestDb db;
  testing::TempFolder folder("logs-text");
  const std::string text = captured_stderr(folder.path() + "/stderr", [&] {
    setup_logging("text", "info");
    PgConnection conn(db.direct_url());
    conn.connect();
    conn.exec(
        "DO $$ BEGIN RAISE WARNING 'disk nearly full' USING DETAIL = E'first line\\nsecond "
        "line', HINT = 'free some space'; END $$");
    spdlog::default_logger()->flush();
  });
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  const std::string& line = lines.front();
  EXPECT_NE(line.find(" warning [libpq] WARNING:  disk nearly full; DETAIL:  first line; second "
                      "line; HINT:  free some space"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
}

}  // namespace
}  // namespace sentinel
