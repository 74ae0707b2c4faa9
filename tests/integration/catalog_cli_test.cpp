// `sentinel-ingest catalog list|show|check`: what a person sees and the exit codes .
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "catalog/catalog.h"
#include "tests/support/process.h"
#include "tests/support/temp_folder.h"

namespace sentinel {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::count_occurrences;
using testing::run_command;

const std::string kData = SENTINEL_TEST_DATA_DIR "/catalog";

/// A folder for one test.
class Folder : public testing::TempFolder {
 public:
  explicit Folder(const std::string& name) : TempFolder("catalog-cli-" + name) {}
};

TEST(CatalogCli, ListShowsOneLinePerTypeWithItsTablesAndSource) {
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "catalog", "list", "--catalog", kData}, seconds(20));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(count_occurrences(out, "\n"), 5U) << out;  // header, rule, three types
  EXPECT_NE(out.find("invocation  sentinel.invocations  invocations"), std::string::npos) << out;
  EXPECT_NE(out.find("costs"), std::string::npos) << out;
  EXPECT_NE(out.find("guardrail_daily"), std::string::npos) << out;
  EXPECT_NE(out.find(kData + "/guardrail.schema.json"), std::string::npos) << out;
  EXPECT_EQ(count_occurrences(out, "built-in"), 2U) << out;
}

TEST(CatalogCli, ShowPrintsASchemaThatLoadsBackToTheSameChecksum) {
  const auto catalog = load_catalog(kData);
  Folder dir("show");
  for (const std::string name : {"guardrail", "invocation"}) {
    const auto [code, out] =
        run_command({SENTINEL_BINARY, "catalog", "show", name, "--catalog", kData}, seconds(20));
    ASSERT_EQ(code, 0) << out;
    dir.write(name + ".schema.json", out);
  }
  const auto again = load_catalog(dir.path());
  ASSERT_EQ(again->size(), 3U);
  EXPECT_EQ(again->find("guardrail")->checksum, catalog->find("guardrail")->checksum);
  EXPECT_EQ(again->find("invocation")->checksum, catalog->find("invocation")->checksum);
  EXPECT_FALSE(again->find("invocation")->built_in);  // the shown file replaced the built-in
}

TEST(CatalogCli, ShowOfAnUnknownTypeExits2NamingTheKnownOnes) {
  const auto [code, out] = run_command({SENTINEL_BINARY, "catalog", "show", "nope"}, seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("no event type named 'nope'"), std::string::npos) << out;
  EXPECT_NE(out.find("audit, invocation"), std::string::npos) << out;
}

TEST(CatalogCli, CheckOfAGoodCatalogExits0) {
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "catalog", "check", "--catalog", kData}, seconds(20));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "catalog: 3 event types, ok\n");
}

TEST(CatalogCli, CheckOfABadCatalogExits2WithEveryProblemOnALineOfItsOwn) {
  Folder dir("check");
  dir.write("bad.schema.json", R"({
  "type": "object",
  "x-sentinel": {"name": "bad", "topic": "bad", "table": "bad_events", "partition_by": "ts"},
  "required": ["ts"],
  "properties": {
    "ts": {"type": "string", "format": "date-time"},
    "code": {"type": "string", "pattern": "^[a-z]+$"},
    "price": {"type": "number"}
  }
})");
  dir.write("notes.txt", "not a schema: ignored");
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "catalog", "check", "--catalog", dir.path()}, seconds(20));
  EXPECT_EQ(code, 2) << out;
  const std::string file = dir.path() + "/bad.schema.json";
  EXPECT_NE(out.find("sentinel-ingest: catalog: " + file +
                     ": /properties/code/pattern: unsupported keyword \"pattern\" (fix: "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("sentinel-ingest: catalog: " + file +
                     ": /properties/price: a number property needs x-pg-type numeric(p,s) (fix: "),
            std::string::npos)
      << out;
  EXPECT_EQ(count_occurrences(out, "\n"), 2U) << out;
}

TEST(CatalogCli, TheCatalogFolderCanComeFromTheEnvironment) {
  ::setenv("SENTINEL_CATALOG", kData.c_str(), 1);
  const auto [code, out] = run_command({SENTINEL_BINARY, "catalog", "check"}, seconds(20));
  ::unsetenv("SENTINEL_CATALOG");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "catalog: 3 event types, ok\n");
}

TEST(CatalogCli, AMissingFolderExits2NamingIt) {
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "catalog", "list", "--catalog", "/nonexistent/catalog"}, seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("/nonexistent/catalog: cannot read the catalog folder"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace sentinel
