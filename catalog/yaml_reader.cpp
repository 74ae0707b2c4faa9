#include "catalog/yaml_reader.h"

#include <fmt/format.h>

#include <regex>
#include <set>

#include "catalog/exact_number.h"

namespace sentinel::catalog_detail {

namespace {

bool plain_number(const std::string& s) {
  static const std::regex kNumber(R"([-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?)");
  return std::regex_match(s, kNumber);
}

}  // namespace

ValueKind kind_of(const YAML::Node& node) {
  if (node.IsSequence()) return ValueKind::kList;
  if (node.IsMap()) return ValueKind::kMap;
  if (!node.IsScalar()) return ValueKind::kNull;
  if (node.Tag() != "?") return ValueKind::kString;  // quoted ("!") or explicitly tagged
  const std::string& s = node.Scalar();
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return ValueKind::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return ValueKind::kBool;
  }
  return plain_number(s) ? ValueKind::kNumber : ValueKind::kString;
}

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kString:
      return "a string";
    case ValueKind::kNumber:
      return "a number";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kNull:
      return "null";
    case ValueKind::kList:
      return "a list";
    case ValueKind::kMap:
      return "an object";
  }
  return "?";
}

void YamlReader::wrong_kind(const YAML::Node& node, const std::string& pointer,
                            std::string_view expected, std::string_view fix) {
  problems_.add(pointer, fmt::format("expected {}, found {}", expected, kind_name(kind_of(node))),
                std::string(fix));
}

std::optional<std::string> YamlReader::string(const YAML::Node& node, const std::string& pointer,
                                              std::string_view fix) {
  if (kind_of(node) != ValueKind::kString) {
    wrong_kind(node, pointer, "a string", fix);
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> YamlReader::integer(const YAML::Node& node, const std::string& pointer,
                                           int64_t min, int64_t max, std::string_view fix) {
  if (kind_of(node) != ValueKind::kNumber) {
    wrong_kind(node, pointer, "a whole number", fix);
    return std::nullopt;
  }
  const std::optional<int64_t> value = exact_units(node.Scalar(), 0);
  if (!value || *value < min || *value > max) {
    problems_.add(pointer,
                  fmt::format("{} is not a whole number from {} to {}", node.Scalar(), min, max),
                  std::string(fix));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> YamlReader::strings(const YAML::Node& node,
                                                            const std::string& pointer,
                                                            std::string_view fix) {
  if (!node.IsSequence()) {
    wrong_kind(node, pointer, "a list of strings", fix);
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    std::optional<std::string> s = string(node[i], child_pointer(pointer, i), fix);
    ok = ok && s.has_value();
    if (s) out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, YAML::Node>>> YamlReader::members(
    const YAML::Node& node, const std::string& pointer, std::string_view fix) {
  if (!node.IsMap()) {
    wrong_kind(node, pointer, "an object", fix);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
    if (!seen.insert(key).second) {
      problems_.add(child_pointer(pointer, key), fmt::format("\"{}\" appears twice", key),
                    "keep one of them");
      continue;
    }
    out.emplace_back(key, it->second);
  }
  return out;
}

}  // namespace sentinel::catalog_detail
