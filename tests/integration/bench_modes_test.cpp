// Issue 20: the end-to-end bench's two modes work at a tiny size against the test PostgreSQL:
// --sink-only (the pipeline fed from memory, no Kafka) and --keys tenant (Zipf-skewed partitions),
// each storing every event exactly once and saying what it measured.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_folder.h"

namespace sentinel {
namespace {

using testing::run_command;
using testing::TempFolder;

std::string test_pg_url() {
  const char* url = std::getenv("SENTINEL_TEST_PG_URL");
  return url != nullptr ? url : "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs the bench with `args` into `out`; returns its exit code and output.
std::pair<int, std::string> bench(const TempFolder& out, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SENTINEL_E2E_BENCH, "--pg",  test_pg_url(), "--ingest-bin",
                                   SENTINEL_BINARY,    "--out", out.path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::minutes(4));
}

TEST(BenchModes, SinkOnlyStoresEveryEventOnceWithoutKafka) {
  ASSERT_FALSE(test_pg_url().empty()) << "run through scripts/test.sh (SENTINEL_TEST_PG_URL)";
  TempFolder out("bench-sink-only");
  const auto [code, output] = bench(out, {"--sink-only", "--events", "20000", "--rounds", "1"});
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("= 20000 of 20000 (exact)"), std::string::npos) << output;
  EXPECT_NE(output.find("(in memory, no Kafka)"), std::string::npos) << output;
  const std::string json = read_file(out.path() + "/result.json");
  EXPECT_NE(json.find("\"mode\": \"sink-only\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exact\": true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"ratio\": 0."), std::string::npos) << json;
  EXPECT_NE(json.find("\"cpu_us_per_message\""), std::string::npos) << json;
}

TEST(BenchModes, TenantKeysSkewThePartitionsAndStoreEveryEventOnce) {
  ASSERT_FALSE(test_pg_url().empty()) << "run through scripts/test.sh (SENTINEL_TEST_PG_URL)";
  TempFolder out("bench-tenant-keys");
  const auto [code, output] =
      bench(out, {"--keys", "tenant", "--events", "20000", "--partitions", "8", "--rounds", "1"});
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("= 20000 of 20000 (exact)"), std::string::npos) << output;
  const std::string json = read_file(out.path() + "/result.json");
  EXPECT_NE(json.find("\"keys\": \"tenant\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exact\": true"), std::string::npos) << json;
  // Zipf-skewed tenants: the hottest of 8 partitions holds well over an even eighth.
  const size_t at = json.find("\"hottest_partition_share\": ");
  ASSERT_NE(at, std::string::npos) << json;
  const double share =
      std::stod(json.substr(at + std::string("\"hottest_partition_share\": ").size()));
  EXPECT_GT(share, 0.2) << json;
}

TEST(BenchModes, UnknownKeyModeIsRefused) {
  TempFolder out("bench-bad-keys");
  const auto [code, output] = bench(out, {"--keys", "random", "--events", "10"});
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("--keys"), std::string::npos) << output;
}

}  // namespace
}  // namespace sentinel
