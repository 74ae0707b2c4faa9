#include "catalog/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace sentinel {

std::string CatalogProblem::to_string() const {
  std::string s = file;
  if (!pointer.empty()) s += ": " + pointer;
  s += ": " + message;
  if (!fix.empty()) s += " (fix: " + fix + ")";
  return s;
}

namespace {
std::string join_problems(const std::vector<CatalogProblem>& problems) {
  std::string s;
  for (const CatalogProblem& p : problems) {
    if (!s.empty()) s += '\n';
    s += p.to_string();
  }
  return s;
}
}  // namespace

CatalogError::CatalogError(std::vector<CatalogProblem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

Catalog::Catalog(std::vector<EventType> types) : types_(std::move(types)) {}

const EventType* Catalog::find(std::string_view name) const {
  const int i = index_of(name);
  return i < 0 ? nullptr : &types_[static_cast<size_t>(i)];
}

int Catalog::index_of(std::string_view name) const {
  for (size_t i = 0; i < types_.size(); ++i) {
    if (types_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

namespace fs = std::filesystem;

/// The *.schema.json and *.schema.yaml files of `dir`, sorted by file name.
std::vector<fs::path> schema_files(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  std::vector<fs::path> files;
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.ends_with(".schema.json") || name.ends_with(".schema.yaml")) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    throw CatalogError({{dir, "", "cannot read the catalog folder: " + ec.message(),
                         "pass an existing folder to --catalog (or SENTINEL_CATALOG)"}});
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

/// The type a file of the folder defines; its file name must be the type's name.
std::optional<EventType> load_file(const fs::path& path, std::vector<CatalogProblem>& problems) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    problems.push_back({path.string(), "", "cannot read the file", "check its permissions"});
    return std::nullopt;
  }
  try {
    EventType type = load_event_type(text.str(), path.string());
    const std::string name = path.filename().string();
    const std::string stem = name.substr(0, name.size() - std::string_view(".schema.json").size());
    if (stem != type.name) {
      problems.push_back(
          {path.string(), "/x-sentinel/name",
           fmt::format("the file of type \"{}\" is named {}", type.name, name),
           fmt::format("name the file {}.schema{}", type.name, path.extension().string())});
    }
    return type;
  } catch (const CatalogError& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
    return std::nullopt;
  }
}

std::vector<EventType> load_built_ins(std::vector<CatalogProblem>& problems) {
  std::vector<EventType> types;
  for (const EmbeddedSchema& s : embedded_event_schemas()) {
    try {
      EventType type = load_event_type(s.text, "built-in:" + std::string(s.file_name));
      type.source = "built-in";
      type.built_in = true;
      types.push_back(std::move(type));
    } catch (const CatalogError& e) {
      problems.insert(problems.end(), e.problems().begin(), e.problems().end());
    }
  }
  return types;
}

/// Adds the folder's types to the built-in ones: one named as a built-in one takes its place,
/// the others follow by name. Two files of one name are a problem.
std::vector<EventType> merge(std::vector<EventType> types, std::vector<EventType> added,
                             std::vector<CatalogProblem>& problems) {
  std::sort(added.begin(), added.end(),
            [](const EventType& a, const EventType& b) { return a.name < b.name; });
  std::map<std::string, std::string, std::less<>> defined_by;  // name → file of the folder
  for (EventType& t : added) {
    if (const auto it = defined_by.find(t.name); it != defined_by.end()) {
      problems.push_back({t.source, "/x-sentinel/name",
                          fmt::format("type \"{}\" is also defined by {}", t.name, it->second),
                          "keep one file per type (rename x-sentinel.name or remove one)"});
      continue;
    }
    defined_by.emplace(t.name, t.source);
    const auto same = std::find_if(types.begin(), types.end(), [&](const EventType& b) {
      return b.built_in && b.name == t.name;
    });
    if (same != types.end()) {
      *same = std::move(t);
    } else {
      types.push_back(std::move(t));
    }
  }
  return types;
}

/// Tables and topics belong to one type each.
void check_unique(const std::vector<EventType>& types, std::vector<CatalogProblem>& problems) {
  std::map<std::string, std::string, std::less<>> tables, topics;  // → the type that has it
  const auto claim = [&](auto& owners, const std::string& key, const EventType& t,
                         std::string pointer, std::string_view what) {
    const auto [it, added] = owners.emplace(key, t.name);
    if (!added) {
      problems.push_back({t.source == "built-in" ? "built-in:" + t.name + ".schema.json" : t.source,
                          std::move(pointer),
                          fmt::format("{} \"{}\" is also type \"{}\"'s", what, key, it->second),
                          fmt::format("give type \"{}\" a {} of its own", t.name, what)});
    }
  };
  for (const EventType& t : types) {
    claim(tables, t.table, t, "/x-sentinel/table", "table");
    for (size_t i = 0; i < t.rollups.size(); ++i) {
      claim(tables, t.rollups[i].table, t, fmt::format("/x-sentinel/rollups/{}/table", i), "table");
    }
    claim(topics, t.topic, t, "/x-sentinel/topic", "topic");
  }
}

}  // namespace

std::shared_ptr<const Catalog> load_catalog(const std::string& dir) {
  std::vector<CatalogProblem> problems;
  std::vector<EventType> types = load_built_ins(problems);
  std::vector<EventType> added;
  if (!dir.empty()) {
    for (const fs::path& path : schema_files(dir)) {
      if (std::optional<EventType> type = load_file(path, problems)) {
        added.push_back(std::move(*type));
      }
    }
  }
  types = merge(std::move(types), std::move(added), problems);
  check_unique(types, problems);
  if (!problems.empty()) throw CatalogError(std::move(problems));
  return std::make_shared<const Catalog>(std::move(types));
}

}  // namespace sentinel
