#include "catalog/event_type.h"

#include <fmt/format.h>

#include "rows/tables.h"

namespace sentinel {

std::string Property::pg_type() const {
  switch (type) {
    case ColumnType::kText:
      return "text";
    case ColumnType::kUuid:
      return "uuid";
    case ColumnType::kTimestamptz:
      return "timestamptz";
    case ColumnType::kInt4:
      return "integer";
    case ColumnType::kInt8:
      return "bigint";
    case ColumnType::kNumeric:
      return fmt::format("numeric({},{})", numeric_precision, numeric_scale);
    case ColumnType::kBool:
      return "boolean";
    case ColumnType::kInet:
      return "inet";
    case ColumnType::kJsonb:
      return "jsonb";
    case ColumnType::kCount:
      break;
  }
  return "?";
}

int EventType::property_index(std::string_view property_name) const {
  for (size_t i = 0; i < properties.size(); ++i) {
    if (properties[i].name == property_name) return static_cast<int>(i);
  }
  return -1;
}

std::string EventType::copy_columns() const {
  std::string columns;
  for (const Property& p : properties) {
    columns += p.column;
    columns += ", ";
  }
  if (unknown_fields == UnknownFields::kKeep) {
    columns += kExtraColumn;
    columns += ", ";
  }
  columns += kLineageColumns;
  return columns;
}

int16_t EventType::field_count() const {
  return static_cast<int16_t>(properties.size() + (unknown_fields == UnknownFields::kKeep ? 1 : 0) +
                              kLineageColumnCount);
}

}  // namespace sentinel
