#include "ingest/event_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "ingest/event_parser.h"
#include "ingest/scalars.h"
#include "rows/pow10.h"

namespace sentinel {

KeyLookup::KeyLookup(const std::vector<std::string_view>& names,
                     const std::vector<int16_t>& targets) {
  table_.fill(-1);
  if (names.size() > static_cast<size_t>(std::numeric_limits<int16_t>::max())) {
    throw std::invalid_argument("too many properties in one object");
  }
  // Group the names by bucket, so that each bucket is one contiguous run of entries.
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return index(names[a]) < index(names[b]); });
  for (const size_t i : order) {
    const std::string_view name = names[i];
    if (name.empty()) throw std::invalid_argument("a property name is empty");
    int16_t& first = table_[index(name)];
    if (first < 0) {
      first = static_cast<int16_t>(entries_.size());
    } else {
      entries_.back().last_in_bucket = false;
    }
    for (size_t j = static_cast<size_t>(first); j < entries_.size(); ++j) {
      if (std::string_view(entries_[j].data, entries_[j].size) == name) {
        throw std::invalid_argument(fmt::format("two properties read the key \"{}\"", name));
      }
    }
    std::array<char, 16> head{};
    std::memcpy(head.data(), name.data(), std::min<size_t>(name.size(), 16));
    Entry e{0, 0, name.data(), static_cast<uint32_t>(name.size()), targets[i], true};
    std::memcpy(&e.w0, head.data(), 8);
    std::memcpy(&e.w1, head.data() + 8, 8);
    entries_.push_back(e);
  }
}

namespace {

/// 10^n as int64 (n <= 18).
constexpr int64_t pow10(int n) { return static_cast<int64_t>(kPowersOf10[static_cast<size_t>(n)]); }

std::string_view expected_types(const Property& p) {
  switch (p.type) {
    case ColumnType::kUuid:
      return "UUID string";
    case ColumnType::kInet:
      return "IP address string";
    case ColumnType::kTimestamptz:
      return (p.json_types & kJsonInteger) != 0 ? "RFC 3339 string or integer epoch milliseconds"
                                                : "RFC 3339 string";
    case ColumnType::kInt4:
    case ColumnType::kInt8:
      return "integer";
    case ColumnType::kNumeric:
      return (p.json_types & kJsonString) != 0 ? "number or decimal string" : "number";
    case ColumnType::kBool:
      return "boolean";
    case ColumnType::kJsonb: {
      const bool object = (p.json_types & kJsonObject) != 0;
      const bool array = (p.json_types & kJsonArray) != 0;
      return object && array ? "object or array" : array ? "array" : "object";
    }
    case ColumnType::kText:
    case ColumnType::kCount:
      break;
  }
  return "string";
}

/// The cap --max-cost-usd (nano-units) puts on a numeric property of `scale`, in its units.
int64_t cap_in_units(int64_t cap_nanos, int scale) {
  if (scale <= 9) return cap_nanos / pow10(9 - scale);
  int64_t units = 0;
  return __builtin_mul_overflow(cap_nanos, pow10(scale - 9), &units)
             ? std::numeric_limits<int64_t>::max()
             : units;
}

/// The limit a numeric value beyond the ingestor's or the column's range is told about.
std::string numeric_limit(const Property& p) {
  if (p.numeric_precision <= 18) return fmt::format("(the column is {})", p.pg_type());
  if (p.numeric_scale == 0) {
    return fmt::format("(the ingestor reads {} exactly as 64-bit integers: |value| ≤ {})",
                       p.pg_type(), std::numeric_limits<int64_t>::max());
  }
  return fmt::format(
      "(the ingestor reads {} exactly as 64-bit units of 10^-{}: |value| × 10^{} ≤ {}, so at "
      "most {})",
      p.pg_type(), p.numeric_scale, p.numeric_scale, std::numeric_limits<int64_t>::max(),
      format_decimal(std::numeric_limits<int64_t>::max(), p.numeric_scale));
}

bool summed_by_a_rollup(const EventType& type, std::string_view property) {
  for (const Rollup& r : type.rollups) {
    for (const auto& [column, source] : r.sums) {
      if (source == property) return true;
    }
  }
  return false;
}

void set_bounds(const Property& p, PropertyPlan& plan) {
  switch (p.type) {
    case ColumnType::kInt4:
      plan.lower = std::max<int64_t>(p.minimum.value_or(INT32_MIN), INT32_MIN);
      plan.upper = std::min<int64_t>(p.maximum.value_or(INT32_MAX), INT32_MAX);
      plan.has_lower = plan.has_upper = true;
      break;
    case ColumnType::kInt8:
      plan.lower = p.minimum.value_or(INT64_MIN);
      plan.upper = p.maximum.value_or(INT64_MAX);
      plan.has_lower = plan.has_upper = true;
      break;
    case ColumnType::kNumeric:
      plan.lower = p.minimum.value_or(0);
      plan.upper = p.maximum.value_or(0);
      plan.has_lower = p.minimum.has_value();
      plan.has_upper = p.maximum.has_value();
      break;
    default:
      break;
  }
}

PropertyPlan compile_property(const EventType& type, const Property& p,
                              const ParserLimits& limits) {
  PropertyPlan plan;
  plan.name = p.name;
  plan.type = p.type;
  plan.json_types = p.json_types;
  plan.required = p.required;
  plan.partition = p.name == type.partition_by;
  plan.expected = expected_types(p);
  plan.pg_type = p.pg_type();
  set_bounds(p, plan);
  if (p.type == ColumnType::kNumeric) {
    plan.scale = p.numeric_scale;
    plan.precision_limit = p.numeric_precision <= 18 ? pow10(p.numeric_precision) : 0;
    plan.too_large = numeric_limit(p);
    plan.capped = summed_by_a_rollup(type, p.name);
    plan.cap_units = cap_in_units(limits.max_cost_nanos, p.numeric_scale);
  }
  plan.min_length = p.min_length.value_or(0);
  plan.max_length = p.max_length.value_or(-1);
  for (const std::string& v : p.enum_values) {
    plan.enum_values.emplace_back(v);
    if (!plan.enum_expected.empty()) plan.enum_expected += '|';
    plan.enum_expected += v;
  }
  return plan;
}

/// The node of `path`'s containers (all but its last element), made on first use.
int container_node(TypePlan& plan, const std::vector<std::string>& path,
                   std::vector<std::vector<std::string_view>>& names,
                   std::vector<std::vector<int16_t>>& targets) {
  int node = 0;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const std::string_view key = path[i];
    int child = -1;
    for (size_t n = 1; n < plan.nodes.size(); ++n) {
      if (plan.nodes[n].parent == node && plan.nodes[n].key == key) child = static_cast<int>(n);
    }
    if (child < 0) {
      child = static_cast<int>(plan.nodes.size());
      NodePlan created;
      created.parent = node;
      created.key = key;
      created.path = plan.nodes[static_cast<size_t>(node)].path.empty()
                         ? std::string(key)
                         : plan.nodes[static_cast<size_t>(node)].path + "." + std::string(key);
      plan.nodes.push_back(std::move(created));
      names.emplace_back();
      targets.emplace_back();
      names[static_cast<size_t>(node)].push_back(key);
      targets[static_cast<size_t>(node)].push_back(static_cast<int16_t>(-2 - child));
    }
    node = child;
  }
  return node;
}

void find_cost_properties(const EventType& type, TypePlan& plan) {
  for (const Rollup& r : type.rollups) {
    if (r.table != "costs") continue;
    plan.rolls_up_costs = true;
    if (!r.key.empty()) plan.cost_tenant = type.property_index(r.key.front());
    for (const auto& [column, source] : r.sums) {
      const int index = type.property_index(source);
      if (column == "cost_usd") plan.cost_value = index;
      if (column == "prompt_tokens") plan.cost_prompt = index;
      if (column == "completion_tokens") plan.cost_completion = index;
    }
  }
}

}  // namespace

TypePlan compile_plan(const EventType& type, const ParserLimits& limits) {
  constexpr int64_t kDay = 86400LL * 1'000'000;
  TypePlan plan;
  plan.type = &type;
  plan.field_count = type.field_count();
  plan.max_age_micros = limits.max_age_micros.value_or(type.max_age_days * kDay);
  plan.max_future_micros = limits.max_future_micros.value_or(type.max_future_days * kDay);
  plan.nodes.emplace_back();
  std::vector<std::vector<std::string_view>> names(1);
  std::vector<std::vector<int16_t>> targets(1);
  for (size_t i = 0; i < type.properties.size(); ++i) {
    const Property& p = type.properties[i];
    PropertyPlan pp = compile_property(type, p, limits);
    if (p.type == ColumnType::kUuid) pp.uuid_slot = plan.uuid_count++;
    const int node = container_node(plan, p.path, names, targets);
    pp.container = node == 0 ? -1 : node;
    names[static_cast<size_t>(node)].push_back(p.path.back());
    targets[static_cast<size_t>(node)].push_back(static_cast<int16_t>(i));
    if (pp.partition) plan.partition_index = static_cast<int>(i);
    plan.properties.push_back(std::move(pp));
  }
  for (size_t n = 0; n < plan.nodes.size(); ++n) {
    plan.nodes[n].lookup = KeyLookup(names[n], targets[n]);
  }
  if (plan.partition_index < 0) {
    throw std::invalid_argument(fmt::format("event type {}: partition_by \"{}\" is not a property",
                                            type.name, type.partition_by));
  }
  find_cost_properties(type, plan);
  return plan;
}

}  // namespace sentinel
