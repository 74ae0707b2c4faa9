// load_event_type: one schema file (JSON or YAML) into an EventType, every problem collected.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <vector>

#include "catalog/canonical_document.h"
#include "catalog/catalog.h"
#include "catalog/property_reader.h"
#include "catalog/type_loader.h"

namespace sentinel::catalog_detail {

EventType TypeLoader::load(std::string_view text) {
  type_.source = problems_.file();
  if (const std::optional<YAML::Node> root = parse(text)) read_top(*root);
  if (!problems_.empty()) throw CatalogError(std::move(problems_.problems()));
  if (type_.title.empty()) type_.title = type_.name;
  type_.document = canonical_document(type_);
  type_.checksum = sha256_hex(type_.document);
  return std::move(type_);
}

std::optional<YAML::Node> TypeLoader::parse(std::string_view text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    problems_.add("",
                  fmt::format("malformed JSON/YAML at line {}, column {}: {}", e.mark.line + 1,
                              e.mark.column + 1, e.msg),
                  "correct the syntax there");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    problems_.add("", fmt::format("the file holds {} YAML documents", documents.size()),
                  "keep one document: remove the second --- and what follows it");
    return std::nullopt;
  }
  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  if (!check_tags(root, "")) return std::nullopt;
  return root;
}

bool TypeLoader::check_tags(const YAML::Node& node, const std::string& ptr) {
  // "?" and "!" are YAML's non-specific tags (plain and quoted); any other was written.
  const std::string& tag = node.Tag();
  if (!tag.empty() && tag != "?" && tag != "!") {
    problems_.add(ptr, fmt::format("YAML tag \"{}\" is not part of a schema", tag),
                  "remove the tag: write the value as JSON would (quote a string)");
    return false;
  }
  bool ok = true;
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string{};
      ok = check_tags(it->first, ptr) && ok;
      ok = check_tags(it->second, child_pointer(ptr, key)) && ok;
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) ok = check_tags(node[i], child_pointer(ptr, i)) && ok;
  }
  return ok;
}

void TypeLoader::read_top(const YAML::Node& root) {
  const auto members = reader_.members(root, "", "write the schema as one JSON object");
  if (!members) return;
  for (const auto& [key, value] : *members) read_top_member(key, value);
  if (!properties_) {
    problems_.add("", "the schema has no properties",
                  "add \"properties\": one entry per field of the event");
  } else {
    read_properties(properties_);
  }
  if (required_) read_required(required_);
  if (!sentinel_) {
    problems_.add("", "the schema has no x-sentinel object",
                  "add \"x-sentinel\": {\"name\": ..., \"topic\": ..., \"table\": ..., "
                  "\"partition_by\": ...} (schemas/README.md: the event catalog)");
  } else {
    read_sentinel(sentinel_);
  }
  if (!type_.properties.empty()) {
    check_columns();
    check_sources();
  }
}

void TypeLoader::read_top_member(const std::string& key, const YAML::Node& value) {
  const std::string ptr = child_pointer("", key);
  if (!kTopKeywords.contains(key)) {
    problems_.add(ptr, fmt::format("unsupported keyword \"{}\"", key),
                  key == "additionalProperties"
                      ? "remove it: unknown fields are governed by x-sentinel.unknown_fields "
                        "(keep, ignore or reject)"
                      : unsupported_keyword_fix(key));
  } else if (key == "title") {
    type_.title = reader_.string(value, ptr, "write the title as a string").value_or("");
  } else if (key == "description") {
    type_.description = reader_.string(value, ptr, "write it as a string").value_or("");
  } else if (key == "$schema" || key == "$id") {
    reader_.string(value, ptr, "write it as a string");
  } else if (key == "type") {
    if (reader_.string(value, ptr, "write \"type\": \"object\"").value_or("object") != "object") {
      problems_.add(ptr, "an event schema describes an object", "write \"type\": \"object\"");
    }
  } else if (key == "properties") {
    properties_ = value;
  } else if (key == "required") {
    required_ = value;
  } else if (key == "x-sentinel") {
    sentinel_ = value;
  }
}

void TypeLoader::read_properties(const YAML::Node& node) {
  const auto members =
      reader_.members(node, "/properties", "write properties as an object: name → schema");
  if (!members) return;
  if (members->empty()) {
    problems_.add("/properties", "the schema has no properties",
                  "add one entry per field of the event");
  }
  for (const auto& [name, schema] : *members) {
    type_.properties.push_back(
        read_property(reader_, name, schema, child_pointer("/properties", name)));
  }
}

bool TypeLoader::type_lists_null(const std::string& name) const {
  if (!properties_.IsMap()) return false;
  const YAML::Node type = properties_[name]["type"];
  if (!type.IsSequence()) return false;
  return std::any_of(type.begin(), type.end(),
                     [](const YAML::Node& t) { return t.IsScalar() && t.Scalar() == "null"; });
}

void TypeLoader::read_required(const YAML::Node& node) {
  const auto names = reader_.strings(node, "/required", "list property names");
  if (!names) return;
  for (size_t i = 0; i < names->size(); ++i) {
    const int index = type_.property_index((*names)[i]);
    if (index < 0) {
      problems_.add(child_pointer("/required", i),
                    fmt::format("\"{}\" is not a property", (*names)[i]),
                    "add it under properties, or remove it from required");
    } else {
      type_.properties[static_cast<size_t>(index)].required = true;
      if (type_lists_null((*names)[i])) {
        problems_.add(child_pointer("/required", i),
                      fmt::format("required property \"{}\" allows null (its type lists "
                                  "\"null\")",
                                  (*names)[i]),
                      "remove \"null\" from its type, or remove it from required: a required "
                      "value must be present and not null");
      }
    }
  }
}

}  // namespace sentinel::catalog_detail

namespace sentinel {

EventType load_event_type(std::string_view text, const std::string& file) {
  return catalog_detail::TypeLoader(file).load(text);
}

}  // namespace sentinel
