// One record, one line, in the chosen --log-format: what a log shipper (Vector, Fluent Bit) needs
// to keep each record whole, librdkafka's and libpq's records included (issue 21).
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
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

/// `run` against a migrated database and a broker nobody answers at (127.0.0.1:1), logging to
/// `log`, with `extra` arguments after the sub-command.
std::unique_ptr<testing::Process> run_without_broker(TestDb& db, const std::string& log,
                                                     const std::vector<std::string>& extra) {
  const auto [migrated, out] =
      testing::run_command({SENTINEL_BINARY, "migrate", "--pg", db.bouncer_url()}, seconds(60));
  EXPECT_EQ(migrated, 0) << out;
  std::vector<std::string> argv = {SENTINEL_BINARY,  "run",       "--pg",
                                   db.bouncer_url(), "--brokers", "127.0.0.1:1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<testing::Process>(argv, log);
}

TEST(Logs, JsonLogsOfRunWithAnUnreachableBrokerAreOneObjectPerLineLibrdkafkaIncluded) {
  TestDb db;
  testing::TempFolder folder("logs-json");
  const std::string log = folder.path() + "/run.log";
  // The global flags after the sub-command, as an operator types them.
  const auto run_process =
      run_without_broker(db, log, {"--log-format", "json", "--log-level", "debug"});
  testing::Process& run = *run_process;
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
  testing::TempFolder folder("logs-crash");
  const std::string log = folder.path() + "/run.log";
  const auto run_process = run_without_broker(db, log, {"--log-format", "json"});
  testing::Process& run = *run_process;
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

// librdkafka blocks every signal in its own threads, so a fault there killed the process without
// the crash line (exit 139 and nothing said, as in the CI run above). Its threads now take the
// fault signals: a SIGSEGV aimed at librdkafka's main thread is reported from that thread.
TEST(Logs, AFatalSignalInALibrdkafkaThreadIsReportedFromThatThread) {
  TestDb db;
  testing::TempFolder folder("logs-crash-rdk");
  const std::string log = folder.path() + "/run.log";
  const auto run_process = run_without_broker(db, log, {});
  testing::Process& run = *run_process;
  ASSERT_TRUE(testing::wait_until(seconds(30), [&] {
    return testing::read_file(log).find("consuming") != std::string::npos;
  })) << testing::read_file(log);
  // The consumer's librdkafka main thread ("rdk:main"), found by name.
  pid_t tid = -1;
  const std::string task = "/proc/" + std::to_string(run.pid()) + "/task";
  ASSERT_TRUE(testing::wait_until(seconds(10), [&] {
    for (const auto& entry : std::filesystem::directory_iterator(task)) {
      if (testing::read_file(entry.path().string() + "/comm").starts_with("rdk:main")) {
        tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
      }
    }
    return tid > 0;
  }));
  ASSERT_EQ(::syscall(SYS_tgkill, run.pid(), tid, SIGSEGV), 0);
  EXPECT_EQ(run.wait(seconds(20)), 128 + SIGSEGV) << testing::read_file(log);
  const std::vector<std::string> lines = lines_of(testing::read_file(log));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("fatal signal 11 (SIGSEGV) on thread " + std::to_string(tid)),
            std::string::npos)
      << lines.back();
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
