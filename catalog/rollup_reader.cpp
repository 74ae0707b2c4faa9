// TypeLoader's rollups: x-sentinel.rollups[i] into Rollups, their references checked.
#include <fmt/format.h>

#include <algorithm>

#include "catalog/type_loader.h"

namespace sentinel::catalog_detail {

void TypeLoader::read_rollup(const YAML::Node& node, const std::string& ptr) {
  const auto members = reader_.members(node, ptr, "write the rollup as an object");
  if (!members) return;
  Rollup r;
  std::set<std::string, std::less<>> present;
  for (const auto& [key, value] : *members) {
    present.insert(key);
    if (!kRollupKeys.contains(key)) {
      problems_.add(child_pointer(ptr, key), fmt::format("unknown rollup key \"{}\"", key),
                    "use table, key, periods, count, sums");
      continue;
    }
    read_rollup_member(r, key, value, child_pointer(ptr, key));
  }
  for (const std::string_view key : {"table", "key", "periods", "count"}) {
    if (!present.contains(key)) {
      problems_.add(ptr, fmt::format("the rollup has no {}", key),
                    fmt::format("add \"{}\" (a rollup needs table, key, periods and count)", key));
    }
  }
  for (const Rollup& other : type_.rollups) {
    if (!r.table.empty() && other.table == r.table) {
      problems_.add(ptr + "/table", fmt::format("two rollups write table \"{}\"", r.table),
                    "give each rollup a table of its own");
    }
  }
  check_rollup_columns(r, ptr);
  type_.rollups.push_back(std::move(r));
}

void TypeLoader::read_rollup_member(Rollup& r, const std::string& key, const YAML::Node& value,
                                    const std::string& ptr) {
  if (key == "table") {
    r.table = reader_.string(value, ptr, "write the rollup's table as a string").value_or("");
    check_table(r.table, ptr, true);
  } else if (key == "key") {
    read_rollup_key(r, value, ptr);
  } else if (key == "periods") {
    const auto periods = reader_.strings(value, ptr, "write a list of day and/or month");
    if (!periods) return;
    for (size_t i = 0; i < periods->size(); ++i) {
      const std::string& p = (*periods)[i];
      if (p != "day" && p != "month") {
        problems_.add(child_pointer(ptr, i), fmt::format("unknown period \"{}\"", p),
                      "use day and/or month (UTC, from partition_by)");
      }
    }
    for (const std::string_view p : {"day", "month"}) {
      if (std::find(periods->begin(), periods->end(), p) != periods->end()) {
        r.periods.emplace_back(p);
      }
    }
    if (periods->empty()) {
      problems_.add(ptr, "the rollup has no period", "list day, month or both");
    }
  } else if (key == "count") {
    r.count = reader_.string(value, ptr, "write the count column's name as a string").value_or("");
    if (!r.count.empty()) check_column_name(r.count, ptr, "count column");
  } else if (key == "sums") {
    read_rollup_sums(r, value, ptr);
  }
}

void TypeLoader::read_rollup_key(Rollup& r, const YAML::Node& node, const std::string& ptr) {
  const auto names = reader_.strings(node, ptr, "list the properties to group by");
  if (!names) return;
  if (names->empty()) {
    problems_.add(ptr, "the rollup key is empty",
                  "list the properties to group by (at least one, e.g. [\"tenant_id\"])");
  }
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string key_ptr = child_pointer(ptr, i);
    if (std::find(names->begin(), names->begin() + static_cast<std::ptrdiff_t>(i), (*names)[i]) !=
        names->begin() + static_cast<std::ptrdiff_t>(i)) {
      problems_.add(key_ptr, fmt::format("\"{}\" is listed twice in the rollup key", (*names)[i]),
                    "list each property once");
      continue;
    }
    const Property* p = property_at((*names)[i], key_ptr, "the rollup key");
    if (p == nullptr) continue;
    if (p->type == ColumnType::kJsonb || p->type == ColumnType::kNumeric ||
        p->type == ColumnType::kTimestamptz) {
      problems_.add(
          key_ptr,
          fmt::format("a rollup cannot be keyed by \"{}\" (stored as {})", p->name, p->pg_type()),
          "group by text, uuid, integer, boolean or inet properties (periods already "
          "group by time)");
    } else if (!p->required) {
      problems_.add(key_ptr, fmt::format("rollup key property \"{}\" is not required", p->name),
                    "add it to required: a key column cannot be empty");
    }
    r.key.push_back(p->name);
  }
}

void TypeLoader::read_rollup_sums(Rollup& r, const YAML::Node& node, const std::string& ptr) {
  const auto members = reader_.members(node, ptr, "write sums as an object: column → property");
  if (!members) return;
  for (const auto& [column, value] : *members) {
    const std::string sum_ptr = child_pointer(ptr, column);
    check_column_name(column, sum_ptr, "sum column");
    const auto name = reader_.string(value, sum_ptr, "name the property to sum");
    if (!name) continue;
    const Property* p = property_at(*name, sum_ptr, "the sum");
    if (p == nullptr) continue;
    if (p->type != ColumnType::kInt4 && p->type != ColumnType::kInt8 &&
        p->type != ColumnType::kNumeric) {
      problems_.add(sum_ptr,
                    fmt::format("cannot sum \"{}\": it is stored as {}", p->name, p->pg_type()),
                    "sum an integer or numeric(p,s) property");
    }
    r.sums.emplace_back(column, *name);
  }
}

void TypeLoader::check_rollup_columns(const Rollup& r, const std::string& ptr) {
  std::map<std::string, std::string, std::less<>> taken;  // column → what it is
  for (const std::string& column : kRollupAddedColumns)
    taken.emplace(column, "a column every rollup has");
  for (const std::string& key : r.key) {
    const int index = type_.property_index(key);
    if (index >= 0)
      taken.emplace(type_.properties[static_cast<size_t>(index)].column, "a key column");
  }
  if (!r.count.empty()) {
    if (const auto it = taken.find(r.count); it != taken.end()) {
      problems_.add(ptr + "/count", fmt::format("count column \"{}\" is {}", r.count, it->second),
                    "name the count column differently");
    }
    taken.emplace(r.count, "the count column");
  }
  for (const auto& [column, property] : r.sums) {
    if (const auto it = taken.find(column); it != taken.end()) {
      problems_.add(child_pointer(ptr + "/sums", column),
                    fmt::format("sum column \"{}\" is {}", column, it->second),
                    "name the sum column differently");
    }
  }
}

}  // namespace sentinel::catalog_detail
