// A catalog folder (--catalog DIR): its files add types after the built-in ones, replace a
// built-in one by name, and every problem of every file is reported at once.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "catalog/catalog.h"

namespace sentinel {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A fresh, empty folder under the system's temporary directory, removed at the end.
class Folder {
 public:
  Folder() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            (std::string("sentinel-catalog-") + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Folder() { fs::remove_all(path_); }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const fs::path kData = SENTINEL_TEST_DATA_DIR;

std::string embedded(std::string_view file_name) {
  for (const EmbeddedSchema& s : embedded_event_schemas()) {
    if (s.file_name == file_name) return std::string(s.text);
  }
  ADD_FAILURE() << "no built-in " << file_name;
  return {};
}

std::vector<CatalogProblem> problems_of_folder(const std::string& dir) {
  try {
    load_catalog(dir);
  } catch (const CatalogError& e) {
    return e.problems();
  }
  return {};
}

std::string replace(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(CatalogFolder, AYamlFileIsTheSameTypeAsItsJsonTwin) {
  const EventType json = load_event_type(read_text(kData / "catalog/guardrail.schema.json"), "j");
  const EventType yaml =
      load_event_type(read_text(kData / "catalog_yaml/guardrail.schema.yaml"), "y");
  EXPECT_EQ(yaml.document, json.document);
  EXPECT_EQ(yaml.checksum, json.checksum);
  const auto catalog = load_catalog((kData / "catalog_yaml").string());
  ASSERT_NE(catalog->find("guardrail"), nullptr);
  EXPECT_EQ(catalog->find("guardrail")->checksum, json.checksum);
}

TEST(CatalogFolder, AFileNamedAsABuiltInTypeReplacesItInPlace) {
  Folder dir;
  const std::string invocation = replace(embedded("invocation.schema.json"), R"("error_code": {)",
                                         R"("region": {"type": "string", "maxLength": 32},
    "error_code": {)");
  dir.write("invocation.schema.json", invocation);
  dir.write("guardrail.schema.json", read_text(kData / "catalog/guardrail.schema.json"));
  const auto catalog = load_catalog(dir.path());
  ASSERT_EQ(catalog->size(), 3U);
  EXPECT_EQ((*catalog)[0].name, "audit");
  EXPECT_TRUE((*catalog)[0].built_in);
  const EventType& replaced = (*catalog)[1];
  EXPECT_EQ(replaced.name, "invocation");
  EXPECT_FALSE(replaced.built_in);
  EXPECT_EQ(replaced.source, (fs::path(dir.path()) / "invocation.schema.json").string());
  ASSERT_GE(replaced.property_index("region"), 0);
  EXPECT_FALSE(
      replaced.properties[static_cast<size_t>(replaced.property_index("region"))].required);
  EXPECT_NE(replaced.copy_columns().find("status, cost_usd, region, error_code, metadata, extra"),
            std::string::npos)
      << replaced.copy_columns();
  EXPECT_NE(replaced.checksum, load_catalog()->find("invocation")->checksum);
  ASSERT_EQ(replaced.rollups.size(), 1U);
  EXPECT_EQ(replaced.rollups[0].table, "costs");  // still the invocation type's rollup
  EXPECT_EQ((*catalog)[2].name, "guardrail");
}

TEST(CatalogFolder, TheFolderTypesFollowTheBuiltInOnesByName) {
  Folder dir;
  const std::string guardrail = read_text(kData / "catalog/guardrail.schema.json");
  std::string billing = replace(guardrail, R"("name": "guardrail")", R"("name": "billing")");
  billing = replace(billing, R"("sentinel.guardrails")", R"("sentinel.billing")");
  billing = replace(billing, R"("guardrail_events")", R"("billing_events")");
  billing = replace(billing, R"("guardrail_daily")", R"("billing_daily")");
  dir.write("guardrail.schema.json", guardrail);
  dir.write("billing.schema.json", billing);
  dir.write("README.md", "not a schema: ignored");
  const auto catalog = load_catalog(dir.path());
  ASSERT_EQ(catalog->size(), 4U);
  EXPECT_EQ((*catalog)[2].name, "billing");
  EXPECT_EQ((*catalog)[3].name, "guardrail");
}

TEST(CatalogFolder, TwoFilesOfOneTypeTableOrTopicAreProblems) {
  Folder dir;
  const std::string guardrail = read_text(kData / "catalog/guardrail.schema.json");
  dir.write("guardrail.schema.json", guardrail);
  dir.write("guardrail.schema.yaml", guardrail);  // JSON is YAML: the same type again
  std::string copy = replace(guardrail, R"("name": "guardrail")", R"("name": "copy")");
  copy = replace(copy, R"("guardrail_daily")", R"("audit_logs")");
  dir.write("copy.schema.json", copy);
  const std::vector<CatalogProblem> problems = problems_of_folder(dir.path());
  const auto has = [&](std::string_view file, std::string_view pointer, std::string_view text) {
    for (const CatalogProblem& p : problems) {
      if (fs::path(p.file).filename() == file && p.pointer == pointer &&
          p.message.find(text) != std::string::npos && !p.fix.empty()) {
        return true;
      }
    }
    return false;
  };
  std::string all;
  for (const CatalogProblem& p : problems) all += p.to_string() + "\n";
  EXPECT_TRUE(
      has("guardrail.schema.yaml", "/x-sentinel/name", "type \"guardrail\" is also defined by"))
      << all;
  // Reported on the later of the two in catalog order (copy < guardrail).
  EXPECT_TRUE(has("guardrail.schema.json", "/x-sentinel/table",
                  "table \"guardrail_events\" is also type \"copy\"'s"))
      << all;
  EXPECT_TRUE(has("guardrail.schema.json", "/x-sentinel/topic",
                  "topic \"sentinel.guardrails\" is also type \"copy\"'s"))
      << all;
  EXPECT_TRUE(has("copy.schema.json", "/x-sentinel/rollups/0/table", "table \"audit_logs\""))
      << all;
}

TEST(CatalogFolder, EveryProblemOfEveryFileIsReportedAtOnce) {
  Folder dir;
  const std::string guardrail = read_text(kData / "catalog/guardrail.schema.json");
  dir.write("guardrail.schema.json",
            replace(guardrail, R"("format": "uuid")", R"("format": "uuid", "pattern": "x")"));
  dir.write("audit.schema.json",
            replace(embedded("audit.schema.json"), R"("unknown_fields": "keep")",
                    R"("unknown_fields": "drop")"));
  dir.write("broken.schema.yaml", "type: object\nproperties: [1, 2\n");
  const std::vector<CatalogProblem> problems = problems_of_folder(dir.path());
  std::vector<std::string> where;
  for (const CatalogProblem& p : problems) {
    where.push_back(fs::path(p.file).filename().string() + ":" + p.pointer);
  }
  EXPECT_EQ(where, (std::vector<std::string>{
                       "audit.schema.json:/x-sentinel/unknown_fields", "broken.schema.yaml:",
                       "guardrail.schema.json:/properties/decision_id/pattern"}));
}

TEST(CatalogFolder, AFileNotNamedAfterItsTypeIsAProblem) {
  Folder dir;
  dir.write("guardrails.schema.json", read_text(kData / "catalog/guardrail.schema.json"));
  const std::vector<CatalogProblem> problems = problems_of_folder(dir.path());
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].pointer, "/x-sentinel/name");
  EXPECT_NE(problems[0].fix.find("guardrail.schema.json"), std::string::npos) << problems[0].fix;
}

TEST(CatalogFolder, AFolderThatCannotBeReadIsACatalogErrorNamingIt) {
  const std::vector<CatalogProblem> problems = problems_of_folder("/nonexistent/catalog");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].file, "/nonexistent/catalog");
  EXPECT_NE(problems[0].fix.find("--catalog"), std::string::npos);
}

}  // namespace
}  // namespace sentinel
