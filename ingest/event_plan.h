#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/event_type.h"

namespace sentinel {

struct ParserLimits;

// The compiled form of one EventType (architecture.md §9): what EventParser executes for every
// message of that type. Made once when the parser is built, from the catalog's EventTypes; the
// parser then never looks at the EventType again. ingest/ only (the parser's implementation
// detail).

/// The bytes of a key of n <= 16 bytes in two little-endian 8-byte words (KeyLookup).
struct KeyMask {
  uint64_t lo, hi;
};
constexpr std::array<KeyMask, 17> make_key_masks() {
  std::array<KeyMask, 17> m{};
  for (size_t n = 0; n <= 16; ++n) {
    m[n].lo = n >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1;
    m[n].hi = n >= 16 ? ~uint64_t{0} : n <= 8 ? 0 : (uint64_t{1} << (8 * (n - 8))) - 1;
  }
  return m;
}
inline constexpr std::array<KeyMask, 17> kKeyMasks = make_key_masks();
static_assert(std::endian::native == std::endian::little, "key masks assume little-endian loads");

/// Finds a key among one JSON object's known names with one table look-up and, for the names of
/// the built-in types, one compare: names are bucketed by (length, first character). Names that
/// share a bucket are compared one by one. Built at run time from any set of names.
class KeyLookup {
 public:
  /// `names[i]` maps to `targets[i]`; names must be unique and outlive the lookup.
  KeyLookup(const std::vector<std::string_view>& names, const std::vector<int16_t>& targets);
  KeyLookup() { table_.fill(-1); }

  /// The target of `key`, or kNotFound. `key` must have 16 readable bytes from its start, as
  /// keys simdjson hands out do (in the padded message, or in its padded string buffer): names
  /// of up to 16 bytes are compared as two masked words, without a branch on their length.
  int find(std::string_view key) const {
    if (key.empty()) return kNotFound;
    int i = table_[index(key)];
    if (i < 0) return kNotFound;
    const uint64_t k0 = load<uint64_t>(key.data());
    const uint64_t k1 = load<uint64_t>(key.data() + 8);
    for (;; ++i) {
      const Entry& e = entries_[static_cast<size_t>(i)];
      if (e.size == key.size()) {
        if (key.size() <= 16) {
          const KeyMask& m = kKeyMasks[key.size()];
          if ((((k0 ^ e.w0) & m.lo) | ((k1 ^ e.w1) & m.hi)) == 0) return e.target;
        } else if (std::memcmp(e.data, key.data(), key.size()) == 0) {
          return e.target;
        }
      }
      if (e.last_in_bucket) return kNotFound;
    }
  }

  static constexpr int kNotFound = -1;

 private:
  struct Entry {
    uint64_t w0, w1;  ///< the name's first 16 bytes, zero-padded
    const char* data;
    uint32_t size;
    int16_t target;
    bool last_in_bucket;
  };
  template <typename T>
  static T load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
  static size_t index(std::string_view key) {
    return (key.size() & 31) << 5 | (static_cast<uint8_t>(key[0]) & 31);
  }
  std::vector<Entry> entries_;                  ///< grouped by bucket
  std::array<int16_t, size_t{32} * 32> table_;  ///< a bucket's first entry, or -1
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
  /// kNumeric: what a too-large detail says of the limit: the column's precision when it binds
  /// first, else the ingestor's own (int64 units of 10^-scale).
  std::string too_large;
  int64_t lower = 0;  ///< integers and kNumeric: inclusive bounds in units
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
