#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/problem_list.h"

namespace sentinel::catalog_detail {

/// What a YAML node holds, in JSON's terms. JSON is YAML's flow syntax, so one parser reads both
/// kinds of file; a quoted scalar is always a string, a plain one is a number, boolean or null
/// when it reads as one (YAML 1.2's core schema), a string otherwise.
enum class ValueKind : uint8_t { kString, kNumber, kBool, kNull, kList, kMap };

ValueKind kind_of(const YAML::Node& node);
/// "a string", "a number" ...: for messages.
std::string_view kind_name(ValueKind kind);

/// Typed reads of schema values that record a problem (at the value's pointer, with `fix`) when
/// the value has the wrong kind, and return nothing then.
class YamlReader {
 public:
  explicit YamlReader(ProblemList& problems) : problems_(problems) {}

  std::optional<std::string> string(const YAML::Node& node, const std::string& pointer,
                                    std::string_view fix);
  /// A whole number within [min, max].
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& pointer, int64_t min,
                                 int64_t max, std::string_view fix);
  /// A list of strings (possibly empty).
  std::optional<std::vector<std::string>> strings(const YAML::Node& node,
                                                  const std::string& pointer, std::string_view fix);
  /// An object's members in file order (a duplicated key is a problem and read once).
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> members(const YAML::Node& node,
                                                                         const std::string& pointer,
                                                                         std::string_view fix);

  ProblemList& problems() { return problems_; }

 private:
  void wrong_kind(const YAML::Node& node, const std::string& pointer, std::string_view expected,
                  std::string_view fix);

  ProblemList& problems_;
};

}  // namespace sentinel::catalog_detail
