#include "catalog/property_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include "catalog/exact_number.h"

namespace sentinel::catalog_detail {

namespace {

/// The keywords of one property's schema that the ingestor implements (§8), and annotations.
const std::set<std::string, std::less<>> kPropertyKeywords = {
    "type",     "enum",    "minLength", "maxLength", "minimum",     "maximum",
    "format",   "$schema", "$id",       "title",     "description", "$comment",
    "examples", "default", "x-source",  "x-column",  "x-pg-type"};

}  // namespace

std::string unsupported_keyword_fix(std::string_view keyword) {
  static const std::map<std::string_view, std::string_view> kInstead = {
      {"pattern",
       "remove it (the ingestor does not check patterns; enum, minLength and "
       "maxLength are checked)"},
      {"exclusiveMinimum", "use minimum (inclusive) instead"},
      {"exclusiveMaximum", "use maximum (inclusive) instead"},
      {"$ref", "write the referenced schema in place"},
      {"oneOf", "give the property one type (a list of types is allowed)"},
      {"anyOf", "give the property one type (a list of types is allowed)"},
      {"allOf", "write the combined schema as one"},
      {"additionalProperties",
       "remove it (unknown fields are governed by x-sentinel.unknown_fields: keep, ignore or "
       "reject)"},
      {"properties", "remove it (an object property is stored whole as jsonb, unchecked inside)"},
      {"required", "list required properties in the top-level required"},
      {"dependentRequired", "remove it (only the top-level required is checked)"},
      {"if", "remove it (conditional schemas are not implemented)"},
  };
  const auto it = kInstead.find(keyword);
  if (it != kInstead.end()) return std::string(it->second);
  return "remove it: the ingestor does not implement it (supported: type, enum, minLength, "
         "maxLength, minimum, maximum, format, annotations, x-source, x-column, x-pg-type)";
}

namespace {

/// The schema nodes of one property, by keyword.
/// Absent keywords are undefined nodes (a default YAML::Node would count as present).
struct Keywords {
  static YAML::Node absent() { return YAML::Node(YAML::NodeType::Undefined); }
  YAML::Node type = absent(), format = absent(), pg_type = absent(), minimum = absent();
  YAML::Node maximum = absent(), enum_values = absent(), min_length = absent();
  YAML::Node max_length = absent(), column = absent(), source = absent();
  YAML::Node description = absent();
};

Keywords sort_keywords(YamlReader& reader, const YAML::Node& schema, const std::string& ptr) {
  Keywords k;
  const auto members = reader.members(schema, ptr, "write the property's schema as an object");
  if (!members) return k;
  const std::map<std::string_view, YAML::Node*> slots = {{"type", &k.type},
                                                         {"format", &k.format},
                                                         {"x-pg-type", &k.pg_type},
                                                         {"minimum", &k.minimum},
                                                         {"maximum", &k.maximum},
                                                         {"enum", &k.enum_values},
                                                         {"minLength", &k.min_length},
                                                         {"maxLength", &k.max_length},
                                                         {"x-column", &k.column},
                                                         {"x-source", &k.source},
                                                         {"description", &k.description}};
  for (const auto& [key, node] : *members) {
    if (!kPropertyKeywords.contains(key)) {
      reader.problems().add(child_pointer(ptr, key), fmt::format("unsupported keyword \"{}\"", key),
                            unsupported_keyword_fix(key));
      continue;
    }
    if (const auto it = slots.find(key); it != slots.end()) *it->second = node;
  }
  return k;
}

constexpr std::string_view kTypeFix =
    "use one of string, integer, number, boolean, object, array (or a list of them; \"null\" is "
    "allowed and means the value may be absent)";

uint8_t type_bit(std::string_view name) {
  if (name == "string") return kJsonString;
  if (name == "integer") return kJsonInteger;
  if (name == "number") return kJsonNumber;
  if (name == "boolean") return kJsonBoolean;
  if (name == "object") return kJsonObject;
  if (name == "array") return kJsonArray;
  return 0;
}

/// `type`: a name or a list of names, as JsonTypeBits; 0 after a problem.
uint8_t read_json_types(YamlReader& reader, const YAML::Node& node, const std::string& ptr) {
  const std::string type_ptr = ptr + "/type";
  if (!node) {
    reader.problems().add(ptr, "the property has no type",
                          "add \"type\": " + std::string(kTypeFix));
    return 0;
  }
  std::vector<std::string> names;
  if (node.IsSequence()) {
    names = reader.strings(node, type_ptr, kTypeFix).value_or(std::vector<std::string>{});
  } else if (auto name = reader.string(node, type_ptr, kTypeFix)) {
    names.push_back(*name);
  }
  uint8_t bits = 0;
  bool ok = !names.empty();
  for (const std::string& name : names) {
    if (name == "null") continue;
    const uint8_t bit = type_bit(name);
    if (bit == 0) {
      reader.problems().add(type_ptr, fmt::format("unknown type \"{}\"", name),
                            std::string(kTypeFix));
      ok = false;
    }
    bits |= bit;
  }
  if (ok && bits == 0) {
    reader.problems().add(type_ptr, "the type allows only null", std::string(kTypeFix));
  }
  return ok ? bits : 0;
}

/// What `x-pg-type` names.
struct PgType {
  std::optional<ColumnType> type;  ///< nullopt: not a type the ingestor stores
  int precision = 0;
  int scale = 0;
};

PgType parse_pg_type(const std::string& text) {
  static const std::map<std::string_view, ColumnType> kNames = {
      {"text", ColumnType::kText},
      {"uuid", ColumnType::kUuid},
      {"timestamptz", ColumnType::kTimestamptz},
      {"integer", ColumnType::kInt4},
      {"int4", ColumnType::kInt4},
      {"bigint", ColumnType::kInt8},
      {"int8", ColumnType::kInt8},
      {"boolean", ColumnType::kBool},
      {"inet", ColumnType::kInet},
      {"jsonb", ColumnType::kJsonb}};
  if (const auto it = kNames.find(text); it != kNames.end()) return {it->second};
  static const std::regex kNumeric(R"(numeric\(\s*([0-9]{1,3})\s*,\s*([0-9]{1,3})\s*\))");
  std::smatch m;
  if (std::regex_match(text, m, kNumeric)) {
    return {ColumnType::kNumeric, std::stoi(m[1].str()), std::stoi(m[2].str())};
  }
  return {};
}

/// The column `type` and `format` alone give (§8), or nullopt after a problem. kNumeric still
/// needs its x-pg-type.
std::optional<ColumnType> natural_type(YamlReader& reader, Property& p, const std::string& ptr) {
  const uint8_t b = p.json_types;
  const auto subset = [b](uint8_t allowed) { return (b & ~allowed) == 0; };
  if (p.format == "uuid" || p.format == "date-time") {
    const bool uuid = p.format == "uuid";
    // A date-time is RFC 3339 text, epoch milliseconds, or either.
    if (uuid ? b == kJsonString : subset(kJsonString | kJsonInteger)) {
      return uuid ? ColumnType::kUuid : ColumnType::kTimestamptz;
    }
    reader.problems().add(
        ptr + "/type",
        fmt::format("format {} needs type {}", p.format,
                    uuid ? "string" : "string, integer or [string, integer]"),
        uuid ? "use \"type\": \"string\"" : "use \"type\": [\"string\", \"integer\"]");
    return std::nullopt;
  }
  if (!p.format.empty()) {
    reader.problems().add(ptr + "/format", fmt::format("unknown format \"{}\"", p.format),
                          "use uuid or date-time, or remove it (no other format is checked)");
    return std::nullopt;
  }
  if ((b & kJsonNumber) != 0 && subset(kJsonNumber | kJsonInteger | kJsonString)) {
    return ColumnType::kNumeric;
  }
  if (b == kJsonInteger) return ColumnType::kInt4;
  if (b == kJsonString) return ColumnType::kText;
  if (b == kJsonBoolean) return ColumnType::kBool;
  if (subset(kJsonObject | kJsonArray)) return ColumnType::kJsonb;
  reader.problems().add(ptr + "/type", "these types need different columns",
                        "give the property one type (number may go with string: a decimal "
                        "string; a date-time may be a string or an integer)");
  return std::nullopt;
}

}  // namespace

namespace {

std::string column_name(ColumnType type) {
  if (type == ColumnType::kNumeric) return "numeric(p,s)";
  Property p;
  p.type = type;
  return p.pg_type();
}

void set_numeric(YamlReader& reader, Property& p, const PgType& pg, const std::string& pg_ptr) {
  if (pg.precision < 1 || pg.precision > 38 || pg.scale > std::min(pg.precision, 18)) {
    reader.problems().add(pg_ptr,
                          fmt::format("numeric({},{}) is out of range", pg.precision, pg.scale),
                          "use numeric(p,s) with p from 1 to 38 and s from 0 to p, at most 18 "
                          "(values are read exactly as 64-bit units of 10^-s)");
    return;
  }
  p.numeric_precision = pg.precision;
  p.numeric_scale = pg.scale;
}

/// Sets p.type from its natural type and x-pg-type. True when x-pg-type chose an integer width.
bool apply_pg_type(YamlReader& reader, Property& p, ColumnType natural, const YAML::Node& node,
                   const std::string& ptr) {
  p.type = natural;
  const std::string pg_ptr = ptr + "/x-pg-type";
  if (!node) {
    if (natural == ColumnType::kNumeric) {
      reader.problems().add(ptr, "a number property needs x-pg-type numeric(p,s)",
                            "add e.g. \"x-pg-type\": \"numeric(20,9)\" (p digits in all, s of them "
                            "after the point): numbers are stored exactly, never as floats");
    }
    return false;
  }
  const auto text = reader.string(node, pg_ptr, "write the PostgreSQL type as a string");
  if (!text) return false;
  const PgType pg = parse_pg_type(*text);
  if (!pg.type) {
    reader.problems().add(pg_ptr, fmt::format("unknown x-pg-type \"{}\"", *text),
                          "use one of text, uuid, timestamptz, integer, bigint, numeric(p,s), "
                          "boolean, inet, jsonb (the types the ingestor can store)");
    return false;
  }
  const ColumnType want = *pg.type;
  if (!(want == natural || (natural == ColumnType::kInt4 && want == ColumnType::kInt8) ||
        (natural == ColumnType::kText && want == ColumnType::kInet))) {
    reader.problems().add(pg_ptr,
                          fmt::format("x-pg-type {} contradicts the property's type (stored as {})",
                                      *text, column_name(natural)),
                          "remove x-pg-type, or change type and format to ones stored as " + *text);
    return false;
  }
  p.type = want;
  if (want == ColumnType::kNumeric) set_numeric(reader, p, pg, pg_ptr);
  return want == ColumnType::kInt4 || want == ColumnType::kInt8;
}

std::optional<int64_t> read_bound(YamlReader& reader, const YAML::Node& node,
                                  const std::string& ptr, const Property& p) {
  if (!node) return std::nullopt;
  if (kind_of(node) != ValueKind::kNumber) {
    reader.problems().add(ptr, fmt::format("expected a number, found {}", kind_name(kind_of(node))),
                          "write the bound as a JSON number");
    return std::nullopt;
  }
  const int scale = p.type == ColumnType::kNumeric ? p.numeric_scale : 0;
  std::optional<int64_t> units = exact_units(node.Scalar(), scale);
  if (!units && p.type == ColumnType::kNumeric) {
    // The ingestor reads numeric values as int64 units of 10^-scale, whatever the precision.
    reader.problems().add(
        ptr,
        fmt::format("{} is not a whole number of the column's units ({} fraction digits), or is "
                    "beyond what the ingestor reads: numeric values are 64-bit units of 10^-{} "
                    "(|value| × 10^{} ≤ 9223372036854775807)",
                    node.Scalar(), scale, scale, scale),
        fmt::format("use a value with at most {} fraction digits between -{} and {}", scale,
                    format_units(std::numeric_limits<int64_t>::max(), scale),
                    format_units(std::numeric_limits<int64_t>::max(), scale)));
  } else if (!units) {
    reader.problems().add(
        ptr,
        fmt::format("{} is not a whole number, or too large for a 64-bit integer", node.Scalar()),
        "use a whole number from -9223372036854775808 to 9223372036854775807");
  }
  return units;
}

/// minimum and maximum, in column units; an integer whose bounds exceed int4 becomes int8.
void read_bounds(YamlReader& reader, Property& p, const Keywords& k, bool explicit_width,
                 const std::string& ptr) {
  const bool number =
      p.type == ColumnType::kInt4 || p.type == ColumnType::kInt8 || p.type == ColumnType::kNumeric;
  for (const auto& [node, key] :
       {std::pair{k.minimum, "minimum"}, std::pair{k.maximum, "maximum"}}) {
    if (node && !number) {
      reader.problems().add(
          ptr + "/" + key,
          fmt::format("{} on a property that is not a number (stored as {})", key, p.pg_type()),
          "remove it, or make the property an integer or a number");
    }
  }
  if (!number) return;
  p.minimum = read_bound(reader, k.minimum, ptr + "/minimum", p);
  p.maximum = read_bound(reader, k.maximum, ptr + "/maximum", p);
  if (p.minimum && p.maximum && *p.minimum > *p.maximum) {
    reader.problems().add(ptr + "/maximum", "maximum is below minimum", "swap or correct them");
  }
  constexpr int64_t kMax4 = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMin4 = std::numeric_limits<int32_t>::min();
  const bool wide = (p.maximum && *p.maximum > kMax4) || (p.minimum && *p.minimum < kMin4);
  if (p.type == ColumnType::kInt4 && wide) {
    if (explicit_width) {
      reader.problems().add(ptr + "/x-pg-type", "x-pg-type integer cannot hold these bounds",
                            "use \"x-pg-type\": \"bigint\", or bounds within -2^31..2^31-1");
    } else {
      p.type = ColumnType::kInt8;
    }
  }
  if (p.type == ColumnType::kNumeric && p.numeric_precision > 0 && p.numeric_precision <= 18) {
    int64_t limit = 1;
    for (int i = 0; i < p.numeric_precision; ++i) limit *= 10;
    const auto fits = [limit](const std::optional<int64_t>& v) {
      return !v || (*v<limit&& * v> - limit);
    };
    if (!fits(p.minimum) || !fits(p.maximum)) {
      reader.problems().add(ptr, fmt::format("a bound does not fit {}", p.pg_type()),
                            "widen the precision of x-pg-type or narrow minimum/maximum");
    }
  }
}

std::optional<int64_t> read_length(YamlReader& reader, const YAML::Node& node,
                                   const std::string& ptr, const Property& p) {
  if (!node) return std::nullopt;
  if (p.type != ColumnType::kText) {
    reader.problems().add(ptr,
                          fmt::format("a length limit on a property stored as {}", p.pg_type()),
                          "remove it: minLength and maxLength apply to plain string properties");
    return std::nullopt;
  }
  return reader.integer(node, ptr, 0, std::numeric_limits<int32_t>::max(),
                        "write a length in characters, a whole number from 0");
}

/// enum, minLength, maxLength: checked on plain string (text) properties only.
void read_string_limits(YamlReader& reader, Property& p, const Keywords& k,
                        const std::string& ptr) {
  if (k.enum_values && p.type != ColumnType::kText) {
    reader.problems().add(ptr + "/enum",
                          fmt::format("enum on a property stored as {}", p.pg_type()),
                          "remove it: enum applies to plain string properties");
  } else if (k.enum_values) {
    auto values = reader.strings(k.enum_values, ptr + "/enum", "list the allowed strings");
    std::set<std::string, std::less<>> seen;
    for (const std::string& v : values.value_or(std::vector<std::string>{})) {
      if (!seen.insert(v).second) {
        reader.problems().add(ptr + "/enum", fmt::format("\"{}\" is listed twice", v),
                              "list each value once");
      }
    }
    if (values && values->empty()) {
      reader.problems().add(ptr + "/enum", "enum is empty: no value would be valid",
                            "list the allowed values, or remove enum");
    }
    if (values) p.enum_values = std::move(*values);
  }
  p.min_length = read_length(reader, k.min_length, ptr + "/minLength", p);
  p.max_length = read_length(reader, k.max_length, ptr + "/maxLength", p);
  if (p.min_length && p.max_length && *p.min_length > *p.max_length) {
    reader.problems().add(ptr + "/maxLength", "maxLength is below minLength",
                          "swap or correct them");
  }
}

/// x-column, x-source, description.
void read_names(YamlReader& reader, Property& p, const Keywords& k, const std::string& ptr) {
  p.column = p.name;
  if (k.column) {
    p.column = reader.string(k.column, ptr + "/x-column", "write the column name as a string")
                   .value_or(p.name);
  }
  p.path = {p.name};
  if (k.source) {
    const auto source = reader.string(
        k.source, ptr + "/x-source", "write the dotted path as a string, e.g. usage.prompt_tokens");
    if (source) {
      p.path.clear();
      for (size_t start = 0;;) {
        const size_t dot = source->find('.', start);
        p.path.push_back(source->substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
    if (std::any_of(p.path.begin(), p.path.end(), [](const auto& s) { return s.empty(); })) {
      reader.problems().add(ptr + "/x-source", "the path has an empty part",
                            "write field names separated by single dots, e.g. usage.prompt_tokens");
    }
  }
  if (k.description) {
    p.description = reader.string(k.description, ptr + "/description", "write it as a string")
                        .value_or(std::string{});
  }
}

}  // namespace

Property read_property(YamlReader& reader, const std::string& name, const YAML::Node& schema,
                       const std::string& pointer) {
  Property p;
  p.name = name;
  p.pointer = pointer;
  p.column = name;  // even when its schema is unreadable: no follow-on problem with its names
  p.path = {name};
  const Keywords k = sort_keywords(reader, schema, pointer);
  if (!schema.IsMap()) return p;
  read_names(reader, p, k, pointer);
  p.json_types = read_json_types(reader, k.type, pointer);
  if (k.format) {
    p.format = reader.string(k.format, pointer + "/format", "write the format as a string")
                   .value_or(std::string{});
  }
  if (p.json_types == 0) return p;
  const std::optional<ColumnType> natural = natural_type(reader, p, pointer);
  if (!natural) return p;
  // Bounds and limits are read in the column's units: not at all when the column is unknown.
  const size_t problems_before = reader.problems().problems().size();
  const bool explicit_width = apply_pg_type(reader, p, *natural, k.pg_type, pointer);
  if (reader.problems().problems().size() != problems_before) return p;
  read_bounds(reader, p, k, explicit_width, pointer);
  read_string_limits(reader, p, k, pointer);
  return p;
}

}  // namespace sentinel::catalog_detail
