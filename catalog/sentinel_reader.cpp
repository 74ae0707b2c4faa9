// TypeLoader's second half: x-sentinel (name, topic, table, partitioning, indexes, rollups) and
// the checks that need every property: column names, partition_by, references.
#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <vector>

#include "catalog/type_loader.h"

namespace sentinel::catalog_detail {

namespace {

bool valid_type_name(const std::string& name) {
  static const std::regex kName("[a-z][a-z0-9_]*");
  return name.size() <= kMaxIdentifierBytes && std::regex_match(name, kName);
}

/// Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], neither "." nor "..".
bool valid_topic(const std::string& topic) {
  static const std::regex kTopic("[a-zA-Z0-9._-]{1,249}");
  return topic != "." && topic != ".." && std::regex_match(topic, kTopic);
}

}  // namespace

void TypeLoader::read_sentinel(const YAML::Node& node) {
  const std::string ptr = "/x-sentinel";
  const auto members = reader_.members(node, ptr, "write x-sentinel as an object");
  if (!members) return;
  std::set<std::string, std::less<>> present;
  // Rollups last: they refer to the type's name and table.
  for (const bool rollups : {false, true}) {
    for (const auto& [key, value] : *members) {
      if ((key == "rollups") != rollups) continue;
      present.insert(key);
      if (!kSentinelKeys.contains(key)) {
        problems_.add(child_pointer(ptr, key), fmt::format("unknown x-sentinel key \"{}\"", key),
                      "use name, topic, table, partition_by, max_age_days, max_future_days, "
                      "indexes, unknown_fields, rollups");
        continue;
      }
      read_sentinel_member(key, value, child_pointer(ptr, key));
    }
  }
  for (const std::string_view key : {"name", "topic", "table", "partition_by"}) {
    if (!present.contains(key)) {
      problems_.add(ptr, fmt::format("x-sentinel has no {}", key),
                    fmt::format("add \"{}\" (schemas/README.md, the event catalog: name, topic, "
                                "table and partition_by are "
                                "required)",
                                key));
    }
  }
}

void TypeLoader::read_sentinel_member(const std::string& key, const YAML::Node& value,
                                      const std::string& ptr) {
  if (key == "name") {
    type_.name = reader_.string(value, ptr, "write the type's name as a string").value_or("");
    if (!type_.name.empty() && !valid_type_name(type_.name)) {
      problems_.add(ptr, fmt::format("\"{}\" is not a valid type name", type_.name),
                    "use lower-case letters, digits and underscores, starting with a letter "
                    "(at most 63), e.g. guardrail");
    }
  } else if (key == "topic") {
    type_.topic = reader_.string(value, ptr, "write the Kafka topic as a string").value_or("");
    if (!type_.topic.empty() && !valid_topic(type_.topic)) {
      problems_.add(ptr, fmt::format("\"{}\" is not a valid Kafka topic name", type_.topic),
                    "use 1 to 249 letters, digits, '.', '_' or '-'");
    }
  } else if (key == "table") {
    type_.table = reader_.string(value, ptr, "write the table name as a string").value_or("");
    check_table(type_.table, ptr, false);
  } else if (key == "partition_by") {
    type_.partition_by =
        reader_.string(value, ptr, "name a required date-time property").value_or("");
    if (!type_.partition_by.empty()) check_partition_by(ptr);
  } else if (key == "max_age_days") {
    type_.max_age_days = static_cast<int>(
        reader_.integer(value, ptr, 1, 36500, "write a number of days from 1 to 36500")
            .value_or(type_.max_age_days));
  } else if (key == "max_future_days") {
    type_.max_future_days = static_cast<int>(
        reader_.integer(value, ptr, 0, 36500, "write a number of days from 0 to 36500")
            .value_or(type_.max_future_days));
  } else if (key == "indexes") {
    read_indexes(value, ptr);
  } else if (key == "unknown_fields") {
    const std::string mode =
        reader_.string(value, ptr, "write keep, ignore or reject").value_or("");
    if (mode == "keep" || mode == "ignore" || mode == "reject") {
      type_.unknown_fields = mode == "keep"     ? UnknownFields::kKeep
                             : mode == "ignore" ? UnknownFields::kIgnore
                                                : UnknownFields::kReject;
    } else if (!mode.empty()) {
      problems_.add(ptr, fmt::format("unknown unknown_fields value \"{}\"", mode),
                    "use keep (stored in the jsonb column extra), ignore or reject");
    }
  } else if (key == "rollups") {
    if (!value.IsSequence()) {
      problems_.add(ptr, "rollups is not a list", "write a list of rollup objects");
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) read_rollup(value[i], child_pointer(ptr, i));
  }
}

void TypeLoader::check_table(const std::string& table, const std::string& ptr, bool rollup) {
  if (table.empty()) return;
  static const std::regex kMonthPartition(".*_[0-9]{4}_[0-9]{2}");
  const size_t max_bytes = rollup ? kMaxRollupTableBytes : kMaxEventTableBytes;
  if (const std::string why = identifier_problem(table, max_bytes); !why.empty()) {
    problems_.add(
        ptr, fmt::format("table \"{}\" {}", table, why),
        rollup ? fmt::format("choose a lower-case name of letters, digits and underscores, at "
                             "most {} bytes (its primary key is named <table>{})",
                             max_bytes, kRollupKeySuffix)
               : fmt::format("choose a lower-case name of letters, digits and underscores, at "
                             "most {} bytes (its month partitions' triggers are named "
                             "<table>{}, at most 63 bytes)",
                             max_bytes, kLongestEventTableSuffix));
  } else if (std::regex_match(table, kMonthPartition)) {
    problems_.add(
        ptr, fmt::format("table \"{}\" is named like a month partition (<table>_YYYY_MM)", table),
        "choose a name not ending in _YYYY_MM: event tables' month partitions are "
        "named so");
  } else if (table.starts_with("pg_")) {
    problems_.add(ptr,
                  fmt::format("table \"{}\" starts with pg_, the prefix of PostgreSQL's own "
                              "objects",
                              table),
                  "choose a name not starting with pg_");
  } else if (kOwnTables.contains(table)) {
    problems_.add(ptr, fmt::format("table \"{}\" is one of the ingestor's own", table),
                  "choose another name");
  } else if (table == kCostsTable && !(rollup && type_.name == kCostsType)) {
    problems_.add(ptr, "table \"costs\" is the invocation type's cost rollup",
                  "choose another name");
  } else if (rollup && table == type_.table) {
    problems_.add(ptr, fmt::format("the rollup table \"{}\" is the event table", table),
                  "give the rollup a table of its own");
  }
}

void TypeLoader::check_partition_by(const std::string& ptr) {
  const Property* p = property_at(type_.partition_by, ptr, "partition_by");
  if (p == nullptr) return;
  if (p->type != ColumnType::kTimestamptz) {
    problems_.add(ptr,
                  fmt::format("partition_by property \"{}\" is not a date-time (stored as {})",
                              p->name, p->pg_type()),
                  "add \"format\": \"date-time\" to it, or name another property");
  } else if (!p->required) {
    problems_.add(ptr, fmt::format("partition_by property \"{}\" is not required", p->name),
                  "add it to required: every row needs a month");
  }
}

const Property* TypeLoader::property_at(const std::string& name, const std::string& ptr,
                                        std::string_view role) {
  const int index = type_.property_index(name);
  if (index >= 0) return &type_.properties[static_cast<size_t>(index)];
  problems_.add(ptr, fmt::format("{} names \"{}\", which is not a property", role, name),
                "name one of the properties, or add it under properties");
  return nullptr;
}

void TypeLoader::read_indexes(const YAML::Node& node, const std::string& ptr) {
  if (!node.IsSequence()) {
    problems_.add(ptr, "indexes is not a list",
                  "write a list of property lists, e.g. "
                  "[[\"tenant_id\", \"ts\"]]");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string index_ptr = child_pointer(ptr, i);
    const auto names =
        reader_.strings(node[i], index_ptr, "write an index as a list of properties");
    if (!names) continue;
    if (names->empty()) {
      problems_.add(index_ptr, "the index has no properties", "name its properties, or remove it");
    }
    for (size_t j = 0; j < names->size(); ++j) {
      property_at((*names)[j], child_pointer(index_ptr, j), "the index");
    }
    type_.indexes.push_back(*names);
  }
}

void TypeLoader::check_column_name(const std::string& column, const std::string& ptr,
                                   std::string_view what) {
  if (const std::string why = identifier_problem(column); !why.empty()) {
    problems_.add(ptr, fmt::format("{} \"{}\" {}", what, column, why),
                  "use lower-case letters, digits and underscores (x-column names a property's "
                  "column)");
  }
}

void TypeLoader::check_columns() {
  std::map<std::string, std::string, std::less<>> owners;  // column → property
  for (const Property& p : type_.properties) {
    const std::string ptr = p.column != p.name ? p.pointer + "/x-column" : p.pointer;
    check_column_name(p.column, ptr, "column");
    if (kAddedColumns.contains(p.column)) {
      problems_.add(ptr, fmt::format("column \"{}\" is one the ingestor adds itself", p.column),
                    "store the property under another column with \"x-column\"");
    }
    const auto [it, added] = owners.emplace(p.column, p.name);
    if (!added) {
      problems_.add(
          ptr,
          fmt::format("column \"{}\" is also the column of property \"{}\"", p.column, it->second),
          "give one of them another column with \"x-column\"");
    }
  }
}

namespace {

std::string dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& part : path) out += (out.empty() ? "" : ".") + part;
  return out;
}

/// True when `inner` starts with every part of `outer` (or is it).
bool within(const std::vector<std::string>& outer, const std::vector<std::string>& inner) {
  return outer.size() <= inner.size() && std::equal(outer.begin(), outer.end(), inner.begin());
}

}  // namespace

void TypeLoader::check_sources() {
  const auto& ps = type_.properties;
  for (size_t j = 0; j < ps.size(); ++j) {
    const Property& q = ps[j];
    const bool sourced = q.path != std::vector<std::string>{q.name};
    const std::string ptr = sourced ? q.pointer + "/x-source" : q.pointer;
    for (size_t i = 0; i < j; ++i) {
      const Property& p = ps[i];
      std::string message;
      if (p.path == q.path) {
        message = fmt::format(
            "property \"{}\" reads the field {}, and property \"{}\" reads "
            "it too",
            q.name, dotted(q.path), p.name);
      } else if (within(p.path, q.path)) {
        message = fmt::format(
            "property \"{}\" reads {}, inside {}, which property \"{}\" "
            "reads whole",
            q.name, dotted(q.path), dotted(p.path), p.name);
      } else if (within(q.path, p.path)) {
        message = fmt::format(
            "property \"{}\" reads the field {}, and property \"{}\" reads "
            "{} inside it",
            q.name, dotted(q.path), p.name, dotted(p.path));
      } else {
        continue;
      }
      problems_.add(ptr, std::move(message),
                    "read each field with one property only: remove one of them, or point "
                    "x-source elsewhere (an object property stores its whole object as jsonb)");
      break;
    }
  }
}

}  // namespace sentinel::catalog_detail
