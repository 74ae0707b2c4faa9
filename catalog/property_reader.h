#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "catalog/event_type.h"
#include "catalog/yaml_reader.h"

namespace sentinel::catalog_detail {

/// Reads one entry of `properties` (its name, its schema node, its pointer) into a Property:
/// the JSON types it accepts, its column type (the catalog's type mapping, schemas/README.md), its
/// bounds in column units, its string limits, column and source path. Every keyword outside §8's
/// list and every contradiction is a problem in `reader`; the returned property is then incomplete.
/// `required` is left false (the caller knows the `required` list).
Property read_property(YamlReader& reader, const std::string& name, const YAML::Node& schema,
                       const std::string& pointer);

/// The fix for a keyword the ingestor does not implement: what to use instead, or "remove it".
std::string unsupported_keyword_fix(std::string_view keyword);

}  // namespace sentinel::catalog_detail
