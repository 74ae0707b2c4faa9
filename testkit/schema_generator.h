#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "rows/reject_reason.h"
#include "testkit/json_draft.h"
#include "testkit/vocabulary.h"

namespace sentinel {

/// How SchemaGenerator makes its events.
struct SchemaGeneratorOptions {
  uint64_t seed = 1;
  int tenants = 200;  ///< distinct values of tenant properties (Zipf-skewed popularity)
  /// Share of malformed events, spread evenly over every reject reason a message can have.
  double invalid_ratio = 0.0;
  /// partition_by falls in [now - days_back, now]; at most the type's max_age_days - 1.
  int days_back = 42;
  int64_t now_unix_micros = 0;  ///< 0: the wall clock
  /// Share of valid events with a top-level field no property reads (types that do not reject
  /// unknown fields keep it in `extra` or ignore it).
  double unknown_field_ratio = 0.05;
  /// The limits of the parser the events are meant for (ParserLimits' defaults): too_large events
  /// exceed them.
  size_t max_message_bytes = 1 << 20;
  int max_depth = 32;
};

/// One property's value in a generated valid event, as the parser must read it (the meaning of
/// ingest's PropertyValue, owned).
struct GeneratedValue {
  bool present = false;  ///< false: absent or null
  /// Integers; numeric in units of 10^-scale; bool 0/1; date-time Unix microseconds.
  int64_t number = 0;
  /// text: the unescaped string; uuid: canonical lower case; inet: the address as written;
  /// jsonb: the JSON text as written; empty for other types.
  std::string text;
};

/// One generated Kafka message of a catalog type and what the ingestor must make of it.
struct SchemaEvent {
  int type = 0;       ///< index of its type in the catalog
  std::string topic;  ///< the type's default topic
  std::string key;    ///< Kafka key: the tenant when the type has a tenant property, else the id
  std::string payload;
  bool valid = true;
  RejectReason expected_reason = RejectReason::kInvalidJson;  ///< when !valid
  /// When !valid: the property the detail names ("" for invalid_json, not_an_object and a
  /// too-large message).
  std::string expected_property;
  // The truth behind a valid event, for checking what lands.
  std::string id;                      ///< the first required uuid property's value, or ""
  std::string tenant;                  ///< the first tenant property's value, or ""
  int64_t ts_unix_micros = 0;          ///< partition_by
  bool unknown_field = false;          ///< has a field no property reads
  std::vector<GeneratedValue> values;  ///< by property index (EventType::properties)

  /// The value of `t`'s property named `property` (a rollup's key or sum, say). Throws
  /// std::out_of_range when `t` has no such property.
  const GeneratedValue& value(const EventType& t, std::string_view property) const;
};

/// Realistic, valid-by-construction events of any catalog type, made from its schema alone:
/// every required property, optional ones mostly present (sometimes absent, sometimes null),
/// values within the schema and plausible for the property's name (tenants, ids, models,
/// providers, actions, addresses, prices, token counts), several spellings of the same value
/// (timestamps, decimals), nested objects for dotted x-source paths, now and then an unknown
/// field. At `invalid_ratio`, malformed events of every reason a message can have, each with its
/// expected reason. Deterministic for a seed and the same types. Not thread-safe.
class SchemaGenerator {
 public:
  /// Generates events of the catalog's types `types` (indices), picked in turn at random with
  /// equal shares. Throws std::invalid_argument if `types` is empty or an index is out of range.
  SchemaGenerator(std::shared_ptr<const Catalog> catalog, std::vector<int> types,
                  SchemaGeneratorOptions options = {});

  SchemaEvent next();
  const Catalog& catalog() const { return *catalog_; }

 private:
  /// How a malformed event's text is spoiled once rendered.
  enum class TextSpoil : uint8_t { kNone, kTruncate, kTrailing, kArray, kString };

  JsonDraft valid_draft(const EventType& t, SchemaEvent& e);
  void add_unknown_field(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  /// Makes `e` malformed for the next reject reason in turn (schema_spoiler.cpp).
  TextSpoil spoil(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  void spoil_text(SchemaEvent& e, TextSpoil how);
  void spoil_missing(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  void spoil_type(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  bool spoil_value(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  void spoil_ts(const EventType& t, JsonDraft& draft, SchemaEvent& e);
  void spoil_size(const EventType& t, JsonDraft& draft, SchemaEvent& e);

  std::shared_ptr<const Catalog> catalog_;
  std::vector<int> types_;
  SchemaGeneratorOptions options_;
  std::mt19937_64 rng_;
  TenantPool tenants_;
  uint64_t invalid_count_ = 0;
};

/// `wanted`, or `wanted` with "_x" appended until no property of `t` reads a top-level field of
/// that name: a field the type does not know.
std::string unused_field_name(const EventType& t, std::string wanted);

}  // namespace sentinel
