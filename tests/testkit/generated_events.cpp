#include "tests/testkit/generated_events.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>

#include "testkit/json_draft.h"

namespace sentinel::testing {
namespace {

constexpr const char* kPlainSchema = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "x-sentinel": {"name": "plain", "topic": "test.plain", "table": "plain_events",
                 "partition_by": "at", "max_age_days": 30, "max_future_days": 2,
                 "unknown_fields": "reject"},
  "required": ["at", "tenant_id", "step"],
  "properties": {
    "at": {"type": "string", "format": "date-time"},
    "tenant_id": {"type": "string", "minLength": 3, "maxLength": 12},
    "step": {"type": "integer", "minimum": -50, "maximum": 50},
    "bytes": {"type": "integer", "minimum": 0, "x-pg-type": "bigint"},
    "note": {"type": "string", "maxLength": 8}
  }
})";

}  // namespace

std::shared_ptr<const Catalog> catalog_of_tests() {
  static const std::shared_ptr<const Catalog> catalog = [] {
    std::vector<EventType> types = load_catalog(SENTINEL_TEST_CATALOG_DIR)->types();
    types.push_back(load_event_type(kPlainSchema, "plain.schema.json"));
    return std::make_shared<const Catalog>(std::move(types));
  }();
  return catalog;
}

std::vector<SchemaEvent> generate(const std::string& name, int count, double invalid_ratio,
                                  uint64_t seed, SchemaGeneratorOptions options) {
  options.seed = seed;
  options.invalid_ratio = invalid_ratio;
  options.now_unix_micros = kNow;
  SchemaGenerator gen(catalog_of_tests(), {catalog_of_tests()->index_of(name)}, options);
  std::vector<SchemaEvent> events;
  for (int i = 0; i < count; ++i) events.push_back(gen.next());
  return events;
}

namespace {

std::string uuid_problem(const std::string& s) {
  if (s.size() != 36 || s[14] != '4' || std::string_view("89ab").find(s[19]) == std::string::npos) {
    return "not a version-4 uuid: " + s;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(s[i]) || std::isupper(s[i]))
      return "malformed uuid: " + s;
  }
  return "";
}

std::string range_problem(const Property& p, int64_t n) {
  if (p.minimum && n < *p.minimum) return fmt::format("{} < minimum {}", n, *p.minimum);
  if (p.maximum && n > *p.maximum) return fmt::format("{} > maximum {}", n, *p.maximum);
  if (p.type == ColumnType::kInt4 &&
      (n > std::numeric_limits<int32_t>::max() || n < std::numeric_limits<int32_t>::min())) {
    return fmt::format("{} is not an int4", n);
  }
  if (p.type == ColumnType::kNumeric && (n > units_below_precision(p.numeric_precision) ||
                                         n < -units_below_precision(p.numeric_precision))) {
    return fmt::format("{} units do not fit {}", n, p.pg_type());
  }
  return "";
}

std::string text_problem(const Property& p, const std::string& s) {
  const int64_t n = code_points(s);
  if (p.min_length && n < *p.min_length) return fmt::format("{} shorter than {}", s, *p.min_length);
  if (p.max_length && n > *p.max_length) return fmt::format("{} longer than {}", s, *p.max_length);
  if (s.find('\0') != std::string::npos) return "NUL in " + s;
  if (!p.enum_values.empty() &&
      std::find(p.enum_values.begin(), p.enum_values.end(), s) == p.enum_values.end()) {
    return s + " is not in the enum";
  }
  return "";
}

}  // namespace

std::string outside_schema(const EventType& t, const Property& p, const GeneratedValue& v,
                           int64_t now) {
  constexpr int64_t kDay = 86'400'000'000;
  if (!v.present) return p.required ? "required, missing" : "";
  switch (p.type) {
    case ColumnType::kText:
      return text_problem(p, v.text);
    case ColumnType::kUuid:
      return uuid_problem(v.text);
    case ColumnType::kInt4:
    case ColumnType::kInt8:
    case ColumnType::kNumeric:
      return range_problem(p, v.number);
    case ColumnType::kTimestamptz:
      if (v.number % 1000 != 0) return "not a whole millisecond";
      if (v.number < now - t.max_age_days * kDay || v.number > now + t.max_future_days * kDay) {
        return fmt::format("{} outside the window of {}", v.number, t.name);
      }
      return "";
    case ColumnType::kBool:
      return v.number == 0 || v.number == 1 ? "" : "bool not 0/1";
    case ColumnType::kInet:
      return v.text.find_first_of(".:") != std::string::npos ? "" : "not an address: " + v.text;
    case ColumnType::kJsonb:
      if (v.text.empty()) return "empty jsonb";
      if (v.text[0] == '{' && (p.json_types & kJsonObject) == 0) return "object not allowed";
      if (v.text[0] == '[' && (p.json_types & kJsonArray) == 0) return "array not allowed";
      return "";
    case ColumnType::kCount:
      break;
  }
  return "unknown column type";
}

}  // namespace sentinel::testing
