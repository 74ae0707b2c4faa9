// The house's layers, checked on the source tree (issue 17): a library includes only the layers
// below it, third-party types stay in their room, and every folder is one CMake library that
// names its sources. A change that crosses a layer fails here, not in a reviewer's head.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace sentinel {
namespace {

namespace fs = std::filesystem;

/// Which of our folders each layer may include (itself always). Bottom first.
const std::map<std::string, std::set<std::string>> kMayInclude = {
    {"rows", {}},
    {"schemas", {}},
    {"catalog", {"rows"}},
    {"ingest", {"rows", "catalog"}},
    {"sinks", {"rows", "schemas", "catalog"}},
    {"pipeline", {"rows", "catalog", "ingest", "sinks"}},
    {"testkit", {"rows", "catalog", "ingest"}},
    {"app", {"rows", "schemas", "catalog", "ingest", "sinks", "pipeline", "testkit"}},
    {"fuzz", {"rows", "catalog", "ingest"}},
    {"bench", {"rows", "catalog", "ingest", "sinks", "pipeline", "testkit", "app", "bench"}},
};

/// Third-party headers and the files allowed to include them. A folder name allows the whole
/// folder; a path allows one file.
struct Room {
  std::regex header;
  std::vector<std::string> allowed;
  /// The library's own names (functions, types, constants), for code that reaches them through
  /// another header; empty where the header check is enough.
  std::string names = {};
};

const std::vector<std::pair<std::string, Room>>& rooms() {
  static const std::vector<std::pair<std::string, Room>> kRooms = {
      // librdkafka: the consumer's room, and the fixtures that stand in for a broker.
      {"librdkafka",
       {std::regex(R"(^librdkafka/)"),
        {"ingest", "testkit", "tests", "bench"},
        R"(\b(rd_kafka_\w+|RD_KAFKA_\w+)\b)"}},
      // Raw libpq: the COPY data path (connections and the batch writer) only; libpqxx elsewhere.
      {"libpq",
       {std::regex(R"(^(libpq-fe\.h|postgresql/libpq-fe\.h)$)"),
        {"sinks/pg_connection.h", "sinks/pg_connection.cpp", "sinks/batch_writer.h",
         "sinks/batch_writer.cpp", "sinks/connection_defaults.cpp", "sinks/offset_store.cpp",
         "sinks/reject_store.cpp", "tests", "bench"},
        R"(\b(PGconn|PGresult|PQ[a-z]\w*)\b)"}},
      // libpqxx: the control plane talking to PostgreSQL, never the Kafka side or the row format.
      {"libpqxx", {std::regex(R"(^pqxx/)"), {"sinks", "app", "testkit", "tests", "bench"}}},
      // simdjson: parsing.
      {"simdjson", {std::regex(R"(^simdjson)"), {"ingest", "tests", "bench", "fuzz"}}},
  };
  return kRooms;
}

/// Files that break a rule today and are being moved to their room (issue 17). Each entry is
/// removed by the change that moves it; the list ends empty.
const std::set<std::string> kNotYetMoved = {};

struct Violation {
  std::string file;
  int line;
  std::string what;
};

std::string folder_of(const std::string& rel) { return rel.substr(0, rel.find('/')); }

bool allowed_in(const std::vector<std::string>& allowed, const std::string& rel) {
  for (const auto& a : allowed)
    if (rel == a || folder_of(rel) == a) return true;
  return false;
}

/// Every include of every C++ file under `root` against the rules above.
/// Whether `folder` may include `target` (both top-level folders of ours).
bool may_include(const std::string& folder, const std::string& target) {
  if (target == folder) return true;
  if (folder == "tests") {
    return target == "testkit" || kMayInclude.contains(target);
  }
  const auto it = kMayInclude.find(folder);
  return it != kMayInclude.end() && it->second.contains(target);
}

bool is_ours(const std::string& top) { return kMayInclude.contains(top) || top == "tests"; }

/// Every include of every C++ file under `root` against the rules above.
std::vector<Violation> check_includes(const fs::path& root) {
  static const std::regex kInclude(R"(^\s*#\s*include\s+(["<])([^">]+)[">])");
  std::vector<Violation> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
    const std::string rel = fs::relative(entry.path(), root).generic_string();
    const std::string folder = folder_of(rel);
    if (folder == "build" || folder.starts_with(".") || kNotYetMoved.contains(rel)) continue;
    std::ifstream in(entry.path());
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      std::smatch m;
      if (std::regex_search(text, m, kInclude)) {
        const std::string path = m[2];
        const std::string top = path.substr(0, path.find('/'));
        if (path.find("..") != std::string::npos) {
          // "../sinks/x.h" would pass any layer unseen: every include names its folder.
          out.push_back({rel, n, "relative include " + path + " (name its folder from the root)"});
        } else if (path.find('/') != std::string::npos && is_ours(top)) {
          if (!may_include(folder, top)) {
            out.push_back({rel, n, folder + "/ includes " + top + "/"});
          }
        } else if (m[1] == "<") {
          for (const auto& [name, room] : rooms())
            if (std::regex_search(path, room.header) && !allowed_in(room.allowed, rel))
              out.push_back({rel, n, name + " outside its room: <" + path + ">"});
        }
      } else {
        const std::string code = text.substr(0, text.find("//"));
        for (const auto& [name, room] : rooms())
          if (!room.names.empty() && !allowed_in(room.allowed, rel) &&
              std::regex_search(code, m, std::regex(room.names)))
            out.push_back({rel, n, name + " outside its room: " + m.str(0)});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Violation& a, const Violation& b) {
    return std::tie(a.file, a.line) < std::tie(b.file, b.line);
  });
  return out;
}

std::string describe(const std::vector<Violation>& v) {
  std::ostringstream s;
  for (const auto& x : v) s << "  " << x.file << ":" << x.line << ": " << x.what << "\n";
  return s.str();
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Layers, NoIncludeCrossesALayerAndThirdPartyTypesStayInTheirRoom) {
  const auto v = check_includes(SENTINEL_SOURCE_DIR);
  EXPECT_TRUE(v.empty()) << v.size() << " include(s) cross a layer (tests/layers_test.cpp):\n"
                         << describe(v);
}

TEST(Layers, EveryLibraryFolderNamesEachOfItsSourcesInItsCMakeLists) {
  const fs::path root = SENTINEL_SOURCE_DIR;
  for (const char* folder : {"rows", "ingest", "sinks", "pipeline", "testkit", "app"}) {
    const std::string cmake = read(root / folder / "CMakeLists.txt");
    EXPECT_EQ(cmake.find("GLOB"), std::string::npos) << folder << "/CMakeLists.txt globs";
    for (const auto& entry : fs::directory_iterator(root / folder)) {
      if (entry.path().extension() != ".cpp") continue;
      const std::string name = entry.path().filename().string();
      EXPECT_NE(cmake.find(name), std::string::npos)
          << folder << "/" << name << " is not listed in " << folder << "/CMakeLists.txt";
    }
  }
}

TEST(Layers, TheCheckReportsACrossingIncludeAndAForeignHeader) {
  const fs::path root =
      fs::temp_directory_path() /
      ("sentinel-layers-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::remove_all(root);
  fs::create_directories(root / "ingest");
  fs::create_directories(root / "rows");
  std::ofstream(root / "ingest" / "bad.cpp") << "#include \"sinks/batch_writer.h\"\n"
                                             << "#include <pqxx/pqxx>\n"
                                             << "#include \"rows/chunk.h\"\n";
  std::ofstream(root / "rows" / "bad.h") << "#include <librdkafka/rdkafka.h>\n"
                                         << "#include \"../sinks/pg_connection.h\"\n"
                                         << "#include <pipeline/pipeline.h>\n"
                                         << "#include <sys/socket.h>\n";
  const auto v = check_includes(root);
  fs::remove_all(root);
  ASSERT_EQ(v.size(), 5u) << describe(v);
  EXPECT_EQ(v[0].file + ":" + std::to_string(v[0].line) + " " + v[0].what,
            "ingest/bad.cpp:1 ingest/ includes sinks/");
  EXPECT_EQ(v[1].what, "libpqxx outside its room: <pqxx/pqxx>");
  EXPECT_EQ(v[2].file, "rows/bad.h");
  EXPECT_EQ(v[3].what, "relative include ../sinks/pg_connection.h (name its folder from the root)");
  EXPECT_EQ(v[4].what, "rows/ includes pipeline/");
}

}  // namespace
}  // namespace sentinel
