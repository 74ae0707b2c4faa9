#include "tests/support/catalog_tables.h"

#include <stdexcept>

namespace sentinel::testing {
namespace {

const Property& property_named(const EventType& type, const std::string& name) {
  const int i = type.property_index(name);
  if (i < 0) throw std::runtime_error(type.name + ": no property " + name);
  return type.properties[static_cast<size_t>(i)];
}

std::string rollup_table_sql(const EventType& type, const Rollup& rollup) {
  std::string sql = "CREATE TABLE public." + rollup.table + " (";
  std::string key;
  for (const std::string& k : rollup.key) {
    const Property& p = property_named(type, k);
    sql += p.column + " " + p.pg_type() + " NOT NULL, ";
    key += p.column + ", ";
  }
  sql += "period text NOT NULL, period_start date NOT NULL, " + rollup.count + " bigint NOT NULL";
  for (const auto& [column, property] : rollup.sums) {
    const Property& p = property_named(type, property);
    sql += ", " + column + " " +
           (p.type == ColumnType::kNumeric ? "numeric(38," + std::to_string(p.numeric_scale) + ")"
                                           : std::string("bigint")) +
           " NOT NULL";
  }
  return sql + ", updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (" + key +
         "period, period_start))";
}

/// 001's sentinel_ensure_month_partition accepts only its two parents, by a literal list in its
/// body: the same definition with `table` added to the list. A definition without that list
/// (a later migration's) is left as it is.
void let_ensure_partition_accept(const TestDb& db, const std::string& table) {
  const std::string def = db.query(
      "SELECT pg_get_functiondef('public.sentinel_ensure_month_partition(text, date)'::"
      "regprocedure)");
  const std::string list = "('audit_logs', 'invocations')";
  const size_t at = def.find("parent NOT IN " + list);
  if (at == std::string::npos) return;
  std::string widened = def;
  widened.replace(def.find(list, at), list.size(),
                  "('audit_logs', 'invocations', '" + table + "')");
  db.query(widened);
}

}  // namespace

std::string event_table_sql(const EventType& type) {
  std::string sql = "CREATE TABLE public." + type.table + " (";
  for (const Property& p : type.properties) {
    sql += p.column + " " + p.pg_type() + (p.required ? " NOT NULL" : "") + ", ";
  }
  if (type.unknown_fields == UnknownFields::kKeep) sql += std::string(kExtraColumn) + " jsonb, ";
  return sql + "kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL) " +
         "PARTITION BY RANGE (" + property_named(type, type.partition_by).column + ")";
}

void create_type_tables_by_hand(const TestDb& db, const EventType& type) {
  db.query(event_table_sql(type));
  for (const Rollup& r : type.rollups) db.query(rollup_table_sql(type, r));
  let_ensure_partition_accept(db, type.table);
  // Partitions are made by the function as its owner (sentinel_owner): it must own the parent.
  const std::string owner = db.query(
      "SELECT proowner::regrole::text FROM pg_proc WHERE oid = "
      "'public.sentinel_ensure_month_partition(text, date)'::regprocedure");
  db.query("ALTER TABLE public." + type.table + " OWNER TO " + owner);
}

void create_catalog_tables_by_hand(const TestDb& db, const Catalog& catalog) {
  for (const EventType& type : catalog.types()) {
    if (db.query("SELECT to_regclass('public." + type.table + "') IS NULL") == "t") {
      create_type_tables_by_hand(db, type);
    } else if (type.unknown_fields == UnknownFields::kKeep) {
      db.query("ALTER TABLE public." + type.table + " ADD COLUMN IF NOT EXISTS " +
               std::string(kExtraColumn) + " jsonb");
    }
  }
}

}  // namespace sentinel::testing
