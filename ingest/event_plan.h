#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/event_type.h"

namespace sentinel {

struct ParserLimits;

// The compiled form of one EventType (DESIGN §8): what EventParser executes for every message of
// that type. Made once when the parser is built, from the catalog's EventTypes; the parser then
// never looks at the EventType again. ingest/ only (the parser's implementation detail).

/// Finds a key among one JSON object's known names with one table look-up and, for the names of
/// the built-in types, one compare: names are bucketed by (length, first character). Names that
/// share a bucket are compared one by one. Built at run time from any set of names.
class KeyLookup {
 public:
  /// `names[i]` maps to `targets[i]`; names must be unique and outlive the lookup.
  KeyLookup(const std::vector<std::string_view>& names, const std::vector<int16_t>& targets);
  KeyLookup() { table_.fill(-1); }

  /// The target of `key`, or kNotFound.
  int find(std::string_view key) const {
    if (key.empty()) return kNotFound;
    int i = table_[index(key)];
    if (i < 0) return kNotFound;
    for (;; ++i) {
      const Entry& e = entries_[static_cast<size_t>(i)];
      if (e.size == key.size() && same_bytes(e.data, key.data(), key.size())) return e.target;
      if (e.last_in_bucket) return kNotFound;
    }
  }

  static constexpr int kNotFound = -1;

 private:
  struct Entry {
    const char* data;
    uint32_t size;
    int16_t target;
    bool last_in_bucket;
  };
  /// Equal bytes, by 8- or 4-byte words (the last word overlapping the one before): names are
  /// short, and this beats both a call to memcmp and a byte loop.
  static bool same_bytes(const char* a, const char* b, size_t n) {
    if (n >= 8) {
      for (size_t k = 0; k + 8 < n; k += 8) {
        if (load<uint64_t>(a + k) != load<uint64_t>(b + k)) return false;
      }
      return load<uint64_t>(a + n - 8) == load<uint64_t>(b + n - 8);
    }
    if (n >= 4) {
      return load<uint32_t>(a) == load<uint32_t>(b) &&
             load<uint32_t>(a + n - 4) == load<uint32_t>(b + n - 4);
    }
    for (size_t k = 0; k < n; ++k) {
      if (a[k] != b[k]) return false;
    }
    return true;
  }
  template <typename T>
  static T load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
  static size_t index(std::string_view key) {
    return (key.size() & 31) << 5 | (static_cast<uint8_t>(key[0]) & 31);
  }
  std::vector<Entry> entries_;          ///< grouped by bucket
  std::array<int16_t, 32 * 32> table_;  ///< a bucket's first entry, or -1
};

/// One property's checks and encoding, flattened out of its Property.
struct PropertyPlan {
  std::string_view name;  ///< the property's name: what every detail names
  ColumnType type = ColumnType::kText;
  uint8_t json_types = 0;
  bool required = false;
  bool partition = false;       ///< the type's partition_by: the ts window applies
  int container = -1;           ///< the node holding it (x-source path), -1 for the top level
  int scale = 0;                ///< kNumeric
  int64_t precision_limit = 0;  ///< kNumeric: |units| must stay below this (10^p), 0: none
  std::string pg_type;          ///< for details: "numeric(6,4)"
  int64_t lower = 0;            ///< integers and kNumeric: inclusive bounds in units
  int64_t upper = 0;
  bool has_lower = false;  ///< kNumeric: a minimum (integers always have both bounds)
  bool has_upper = false;
  bool capped = false;      ///< kNumeric summed by a rollup: --max-cost-usd applies
  int64_t cap_units = 0;    ///< the cap in this property's units
  int64_t min_length = 0;   ///< code points; 0: none
  int64_t max_length = -1;  ///< code points; -1: none
  std::vector<std::string_view> enum_values;
  std::string enum_expected;  ///< "a|b|c" for details
  std::string_view expected;  ///< the JSON type(s) it takes, for wrong-type details
  int uuid_slot = -1;         ///< kUuid: its index among the type's uuid buffers
};

/// A JSON object the plan reads: the top level (node 0) or a container of x-source paths.
struct NodePlan {
  std::string path;  ///< "" for the top level, "usage" or "a.b" for containers
  /// Key → a property index (>= 0) or, for a container, -2 - its node index.
  KeyLookup lookup;
  int parent = -1;       ///< its parent node, -1 for the top level
  std::string_view key;  ///< its key in the parent
};

/// The compiled plan of one event type.
struct TypePlan {
  const EventType* type = nullptr;
  std::vector<PropertyPlan> properties;  ///< in column order
  std::vector<NodePlan> nodes;           ///< [0] is the top level
  int partition_index = -1;
  int uuid_count = 0;
  int16_t field_count = 0;
  int64_t max_age_micros = 0;
  int64_t max_future_micros = 0;
  /// The built-in `costs` rollup's properties, when the type rolls up into `costs` (else -1).
  bool rolls_up_costs = false;
  int cost_tenant = -1, cost_value = -1, cost_prompt = -1, cost_completion = -1;
};

/// Decodes a target of NodePlan::lookup.
constexpr bool is_container_target(int target) { return target <= -2; }
constexpr int container_of_target(int target) { return -2 - target; }

/// Compiles one type. Throws std::invalid_argument for a type the loader should have refused
/// (a property path through another property, a rollup naming an unknown property).
TypePlan compile_plan(const EventType& type, const ParserLimits& limits);

}  // namespace sentinel
