#include "catalog/canonical_document.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>
#include <utility>
#include <vector>

#include "catalog/exact_number.h"

namespace sentinel::catalog_detail {

namespace {

/// A JSON value under construction: a scalar already encoded, or an array or object of values.
struct Json {
  enum class Kind : uint8_t { kScalar, kArray, kObject };
  Kind kind = Kind::kScalar;
  std::string scalar;
  std::vector<std::pair<std::string, Json>> members;  ///< keys are empty in an array

  static Json object() { return Json{Kind::kObject, {}, {}}; }
  static Json array() { return Json{Kind::kArray, {}, {}}; }
  static Json raw(std::string text) { return Json{Kind::kScalar, std::move(text), {}}; }
  static Json string(std::string_view s);
  static Json strings(const std::vector<std::string>& list);

  Json& add(std::string key, Json value) {
    members.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Json& push(Json value) { return add({}, std::move(value)); }
};

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + '"';
}

Json Json::string(std::string_view s) { return raw(quote(s)); }

Json Json::strings(const std::vector<std::string>& list) {
  Json a = array();
  for (const std::string& s : list) a.push(string(s));
  return a;
}

constexpr size_t kWidth = 100;

std::string one_line(const Json& v) {
  if (v.kind == Json::Kind::kScalar) return v.scalar;
  const bool object = v.kind == Json::Kind::kObject;
  std::string out = object ? "{" : "[";
  for (size_t i = 0; i < v.members.size(); ++i) {
    if (i > 0) out += ", ";
    if (object) out += quote(v.members[i].first) + ": ";
    out += one_line(v.members[i].second);
  }
  return out + (object ? "}" : "]");
}

/// Appends `v`, whose first line already holds `used` columns, indented by `indent` spaces.
void pretty(const Json& v, size_t indent, size_t used, std::string& out) {
  std::string line = one_line(v);
  if (v.kind == Json::Kind::kScalar || v.members.empty() || used + line.size() <= kWidth) {
    out += line;
    return;
  }
  const bool object = v.kind == Json::Kind::kObject;
  out += object ? "{\n" : "[\n";
  const std::string pad(indent + 2, ' ');
  for (size_t i = 0; i < v.members.size(); ++i) {
    out += pad;
    if (object) out += quote(v.members[i].first) + ": ";
    const size_t key_width = object ? quote(v.members[i].first).size() + 2 : 0;
    pretty(v.members[i].second, indent + 2, pad.size() + key_width + 1, out);
    out += i + 1 < v.members.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + (object ? "}" : "]");
}

Json type_json(uint8_t bits) {
  static constexpr std::array<std::pair<JsonTypeBit, std::string_view>, 6> kNames = {{
      {kJsonString, "string"},
      {kJsonInteger, "integer"},
      {kJsonNumber, "number"},
      {kJsonBoolean, "boolean"},
      {kJsonObject, "object"},
      {kJsonArray, "array"},
  }};
  Json list = Json::array();
  for (const auto& [bit, name] : kNames) {
    if ((bits & bit) != 0) list.push(Json::string(name));
  }
  return list.members.size() == 1 ? list.members[0].second : list;
}

std::string join_path(const std::vector<std::string>& path) {
  std::string s;
  for (const std::string& part : path) s += (s.empty() ? "" : ".") + part;
  return s;
}

Json property_json(const Property& p) {
  Json o = Json::object();
  o.add("type", type_json(p.json_types));
  if (!p.format.empty()) o.add("format", Json::string(p.format));
  o.add("x-pg-type", Json::string(p.pg_type()));
  o.add("x-column", Json::string(p.column));
  o.add("x-source", Json::string(join_path(p.path)));
  if (!p.enum_values.empty()) o.add("enum", Json::strings(p.enum_values));
  if (p.min_length) o.add("minLength", Json::raw(std::to_string(*p.min_length)));
  if (p.max_length) o.add("maxLength", Json::raw(std::to_string(*p.max_length)));
  const int scale = p.type == ColumnType::kNumeric ? p.numeric_scale : 0;
  if (p.minimum) o.add("minimum", Json::raw(format_units(*p.minimum, scale)));
  if (p.maximum) o.add("maximum", Json::raw(format_units(*p.maximum, scale)));
  if (!p.description.empty()) o.add("description", Json::string(p.description));
  return o;
}

Json rollup_json(const Rollup& r) {
  Json sums = Json::object();
  for (const auto& [column, property] : r.sums) sums.add(column, Json::string(property));
  Json o = Json::object();
  o.add("table", Json::string(r.table))
      .add("key", Json::strings(r.key))
      .add("periods", Json::strings(r.periods))
      .add("count", Json::string(r.count))
      .add("sums", std::move(sums));
  return o;
}

Json sentinel_json(const EventType& t) {
  static constexpr std::array<std::string_view, 3> kUnknown = {"keep", "ignore", "reject"};
  Json indexes = Json::array();
  for (const auto& index : t.indexes) indexes.push(Json::strings(index));
  Json rollups = Json::array();
  for (const Rollup& r : t.rollups) rollups.push(rollup_json(r));
  Json o = Json::object();
  o.add("name", Json::string(t.name))
      .add("topic", Json::string(t.topic))
      .add("table", Json::string(t.table))
      .add("partition_by", Json::string(t.partition_by))
      .add("max_age_days", Json::raw(std::to_string(t.max_age_days)))
      .add("max_future_days", Json::raw(std::to_string(t.max_future_days)))
      .add("indexes", std::move(indexes))
      .add("unknown_fields",
           Json::string(kUnknown[static_cast<size_t>(t.unknown_fields) % kUnknown.size()]))
      .add("rollups", std::move(rollups));
  return o;
}

}  // namespace

std::string canonical_document(const EventType& type) {
  Json required = Json::array();
  Json properties = Json::object();
  for (const Property& p : type.properties) {
    if (p.required) required.push(Json::string(p.name));
    properties.add(p.name, property_json(p));
  }
  Json doc = Json::object();
  doc.add("$schema", Json::string("https://json-schema.org/draft/2020-12/schema"))
      .add("title", Json::string(type.title));
  if (!type.description.empty()) doc.add("description", Json::string(type.description));
  doc.add("type", Json::string("object"))
      .add("x-sentinel", sentinel_json(type))
      .add("required", std::move(required))
      .add("properties", std::move(properties));
  std::string out;
  pretty(doc, 0, 0, out);
  return out + "\n";
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL could not compute a SHA-256 (EVP_Digest failed)");
  }
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace sentinel::catalog_detail
