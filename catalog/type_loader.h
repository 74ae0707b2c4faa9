#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "catalog/event_type.h"
#include "catalog/pg_identifier.h"
#include "catalog/problem_list.h"
#include "catalog/yaml_reader.h"

namespace sentinel::catalog_detail {

inline const std::set<std::string, std::less<>> kTopKeywords = {
    "$schema", "$id",  "title",      "description", "$comment",  "examples",
    "default", "type", "properties", "required",    "x-sentinel"};

inline const std::set<std::string, std::less<>> kSentinelKeys = {
    "name",    "topic",          "table",  "partition_by", "max_age_days", "max_future_days",
    "indexes", "unknown_fields", "rollups"};

inline const std::set<std::string, std::less<>> kRollupKeys = {"table", "key", "periods", "count",
                                                               "sums"};

/// Tables the ingestor itself creates and writes.
inline const std::set<std::string, std::less<>> kOwnTables = {
    "ingest_offsets", "ingest_rejects", "schema_migrations", "sentinel_catalog"};
/// `costs` is ours too, except as the rollup of the (built-in or replaced) invocation type.
constexpr std::string_view kCostsTable = "costs";
constexpr std::string_view kCostsType = "invocation";

/// Columns every event table has besides its properties' (`extra` and the lineage).
inline const std::set<std::string, std::less<>> kAddedColumns = {"extra", "kafka_partition",
                                                                 "kafka_offset"};
/// Columns every rollup table has besides its key, count and sums.
inline const std::set<std::string, std::less<>> kRollupAddedColumns = {"period", "period_start",
                                                                       "updated_at"};

/// The longest suffix `migrate` and the partition function add to an event table's name: a
/// month partition's statement trigger, `<table>_YYYY_MM_append_only` (the partition itself
/// adds `_YYYY_MM`, the parent's triggers `_append_only` and `_append_only_rows`). Every derived
/// name must fit an identifier, or PostgreSQL truncates it and names collide.
constexpr std::string_view kLongestEventTableSuffix = "_YYYY_MM_append_only";
constexpr size_t kMaxEventTableBytes = kMaxIdentifierBytes - kLongestEventTableSuffix.size();
/// A rollup table's primary key is named `<table>_pkey`.
constexpr std::string_view kRollupKeySuffix = "_pkey";
constexpr size_t kMaxRollupTableBytes = kMaxIdentifierBytes - kRollupKeySuffix.size();

/// Reads one schema document, recording every problem instead of stopping at the first.
class TypeLoader {
 public:
  explicit TypeLoader(const std::string& file) : problems_(file), reader_(problems_) {}

  EventType load(std::string_view text);

 private:
  std::optional<YAML::Node> parse(std::string_view text);
  /// False (and a problem each) when a node under `node` carries an explicit YAML tag (`!foo`,
  /// `!!str`): JSON has none, and the reader would not honour it.
  bool check_tags(const YAML::Node& node, const std::string& ptr);
  void read_top(const YAML::Node& root);
  void read_top_member(const std::string& key, const YAML::Node& value);
  void read_properties(const YAML::Node& node);
  void read_required(const YAML::Node& node);
  /// True when property `name`'s schema lists "null" among its types.
  bool type_lists_null(const std::string& name) const;
  void read_sentinel(const YAML::Node& node);
  void read_sentinel_member(const std::string& key, const YAML::Node& value,
                            const std::string& ptr);
  void read_indexes(const YAML::Node& node, const std::string& ptr);
  void read_rollup(const YAML::Node& node, const std::string& ptr);
  void read_rollup_member(Rollup& r, const std::string& key, const YAML::Node& value,
                          const std::string& ptr);
  void read_rollup_key(Rollup& r, const YAML::Node& node, const std::string& ptr);
  void read_rollup_sums(Rollup& r, const YAML::Node& node, const std::string& ptr);
  void check_rollup_columns(const Rollup& r, const std::string& ptr);
  void check_table(const std::string& table, const std::string& ptr, bool rollup);
  void check_column_name(const std::string& column, const std::string& ptr, std::string_view what);
  void check_columns();
  void check_sources();
  void check_partition_by(const std::string& ptr);
  /// The property named `name`, or nullptr after recording a problem at `ptr`.
  const Property* property_at(const std::string& name, const std::string& ptr,
                              std::string_view role);

  ProblemList problems_;
  YamlReader reader_;
  EventType type_;
  YAML::Node properties_ = YAML::Node(YAML::NodeType::Undefined);
  YAML::Node required_ = YAML::Node(YAML::NodeType::Undefined);
  YAML::Node sentinel_ = YAML::Node(YAML::NodeType::Undefined);
};

}  // namespace sentinel::catalog_detail
