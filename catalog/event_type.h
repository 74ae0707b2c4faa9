#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentinel {

// An event type as data (schemas/README.md: the event catalog): what the catalog loader makes of
// one `NAME.schema.json` file, and what every layer above reads instead of naming the types. Plain
// values, no behaviour beyond a few derived names: the loader (catalog/catalog.h) guarantees the
// invariants written on each field, so that nothing downstream re-checks them.

/// The PostgreSQL type of a property's column.
enum class ColumnType : uint8_t {
  kText,         ///< string
  kUuid,         ///< string, format: uuid
  kTimestamptz,  ///< format: date-time (RFC 3339 string or integer epoch milliseconds)
  kInt4,         ///< integer within int4 (the default for integer)
  kInt8,         ///< integer whose maximum exceeds 2^31-1, or x-pg-type: bigint
  kNumeric,      ///< number, read exactly at `scale` fraction digits (x-pg-type: numeric(p,s))
  kBool,         ///< boolean
  kInet,         ///< string, x-pg-type: inet
  kJsonb,        ///< object or array (size, depth and NUL limits of §2)
  kCount
};

/// The JSON types a property accepts, as bits of `Property::json_types`. A null is never a type
/// here: null and absent are the same (a missing value), refused only for a required property.
enum JsonTypeBit : uint8_t {
  kJsonString = 1 << 0,
  kJsonInteger = 1 << 1,  ///< a number without fraction or exponent
  kJsonNumber = 1 << 2,   ///< any number (implies integer)
  kJsonBoolean = 1 << 3,
  kJsonObject = 1 << 4,
  kJsonArray = 1 << 5,
};

/// One property: one column, read from one place in the event.
struct Property {
  std::string name;                     ///< its key under `properties`
  std::string column;                   ///< `x-column`, or `name`
  std::vector<std::string> path;        ///< `x-source` split on '.', or {name}; never empty
  ColumnType type = ColumnType::kText;  ///< x-pg-type jsonb on an array/object is the default
  int numeric_precision = 0;  ///< kNumeric: p of numeric(p,s), 1..38 (values must fit int64 units)
  int numeric_scale = 0;      ///< kNumeric: s, 0..min(p, 18)
  uint8_t json_types = 0;     ///< JsonTypeBit set accepted (from `type`); never 0
  bool required = false;      ///< listed in `required`
  std::string format;         ///< `format` as written ("uuid", "date-time", "" ...)
  std::vector<std::string> enum_values;  ///< `enum` (strings only), in file order
  std::optional<int64_t> min_length;     ///< code points
  std::optional<int64_t> max_length;
  /// `minimum`/`maximum` in the column's units: integers as is, kNumeric in units of
  /// 10^-numeric_scale (0.5 at scale 4 is 5000). Exact: never through a float.
  std::optional<int64_t> minimum;
  std::optional<int64_t> maximum;
  std::string description;
  std::string pointer;  ///< JSON pointer of its schema in the file, e.g. /properties/score

  /// The column's SQL type as `migrate` creates it: "text", "numeric(6,4)", "timestamptz" ...
  std::string pg_type() const;
};

/// What a type does with top-level fields no property reads.
enum class UnknownFields : uint8_t { kKeep, kIgnore, kReject };

/// An aggregate table upserted with the rows, in the same transaction (costs is one).
struct Rollup {
  std::string table;
  std::vector<std::string> key;      ///< property names; columns named as the properties' columns
  std::vector<std::string> periods;  ///< "day" and/or "month", in that order
  std::string count;                 ///< bigint column counting events
  /// column → property (an integer or kNumeric property); the column is numeric(38, scale)
  /// for kNumeric and bigint for integers, except where an existing table says otherwise.
  std::vector<std::pair<std::string, std::string>> sums;
};

/// One event type of the catalog.
struct EventType {
  std::string name;          ///< [a-z][a-z0-9_]*, unique in the catalog
  std::string title;         ///< `title`, or name
  std::string description;   ///< `description`, may be empty
  std::string topic;         ///< default Kafka topic
  std::string table;         ///< PostgreSQL table, unique in the catalog
  std::string partition_by;  ///< a required date-time property
  int max_age_days = 400;    ///< the partition_by window, relative to the time of ingestion
  int max_future_days = 1;
  std::vector<std::vector<std::string>> indexes;  ///< btree indexes, as property names
  UnknownFields unknown_fields = UnknownFields::kKeep;
  std::vector<Rollup> rollups;
  std::vector<Property> properties;  ///< in column order: the order of `properties` in the file

  std::string source;     ///< where it was loaded from: "built-in" or the file's path
  bool built_in = false;  ///< an embedded file (not replaced by --catalog)
  std::string document;   ///< the effective schema as canonical JSON (what `catalog show` prints)
  std::string checksum;   ///< sha256 (hex) of `document`: what `migrate` records

  /// The properties' index by name, or -1.
  int property_index(std::string_view property_name) const;
  /// The COPY column list of its table: the properties' columns, `extra` when unknown fields are
  /// kept, then the lineage columns (kafka_partition, kafka_offset).
  std::string copy_columns() const;
  /// Number of columns in copy_columns().
  int16_t field_count() const;
};

/// The column unknown fields are kept in (jsonb), when a type keeps them.
inline constexpr std::string_view kExtraColumn = "extra";

}  // namespace sentinel
