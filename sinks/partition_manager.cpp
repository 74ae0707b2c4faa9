#include "sinks/partition_manager.h"

#include <memory>
#include <pqxx/pqxx>

#include "rows/month.h"
#include "rows/tables.h"
#include "sinks/control_connection.h"

namespace sentinel::partitions {
namespace {

// The event tables of `catalog` as a PostgreSQL array literal, for "= ANY($1::text[])". Table
// names are plain identifiers (the catalog loader checks them): nothing to quote.
std::string event_tables_array(const Catalog& catalog) {
  std::string out = "{";
  for (const EventType& type : catalog.types()) {
    if (out.size() > 1) out += ',';
    out += type.table;
  }
  return out + "}";
}

// The month a partition name carries ("<table>_YYYY_MM"), if it is one of ours.
std::optional<int32_t> month_from_name(std::string_view table, std::string_view name) {
  if (name.size() != table.size() + 8 || !name.starts_with(table) || name[table.size()] != '_' ||
      name[table.size() + 5] != '_') {
    return std::nullopt;
  }
  std::string text(name.substr(table.size() + 1, 7));
  text[4] = '-';
  return parse_month(text);
}

}  // namespace

std::vector<std::string> premake(const std::string& url, const Catalog& catalog, int32_t from_month,
                                 int count) {
  pqxx::connection conn = connect_control(url);
  std::vector<std::string> names;
  for (int32_t m = from_month; m < from_month + count; ++m) {
    std::vector<std::string> tables;
    for (const EventType& type : catalog.types()) tables.push_back(type.table);
    tables.emplace_back(kRejectsTable);
    for (const std::string& table : tables) {
      // One short transaction per partition: creating one locks its parent table.
      pqxx::nontransaction tx(conn);
      const pqxx::row r =
          tx.exec_params1(std::string(kEnsurePartitionSql), table, month_start_text(m));
      names.push_back(r[0].as<std::string>());
    }
  }
  return names;
}

std::vector<PartitionInfo> list(const std::string& url, const Catalog& catalog) {
  pqxx::connection conn = connect_control(url);
  pqxx::read_transaction tx(conn);
  const pqxx::result r = tx.exec_params(
      "SELECT p.relname, c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
      "FROM pg_inherits i "
      "JOIN pg_class p ON p.oid = i.inhparent "
      "JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE p.relnamespace = 'public'::regnamespace "
      "  AND p.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p') "
      "ORDER BY p.relname, c.relname",
      event_tables_array(catalog));
  std::vector<PartitionInfo> out;
  out.reserve(r.size());
  for (const pqxx::row& row : r) {
    PartitionInfo info;
    info.table = row[0].as<std::string>();
    info.name = row[1].as<std::string>();
    info.month = month_from_name(info.table, info.name);
    info.estimated_rows = row[2].as<int64_t>();
    info.total_bytes = row[3].as<int64_t>();
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<PartitionInfo> drop_older_than(const std::string& url, const Catalog& catalog,
                                           int32_t keep_from_month, bool dry_run) {
  std::vector<PartitionInfo> old;
  for (PartitionInfo& p : list(url, catalog)) {
    if (p.month && *p.month < keep_from_month) old.push_back(std::move(p));
  }
  if (dry_run || old.empty()) return old;
  pqxx::connection conn = connect_control(url);
  for (const PartitionInfo& p : old) {
    pqxx::work tx(conn);
    const std::string parent = "public." + tx.quote_name(p.table);
    const std::string child = "public." + tx.quote_name(p.name);
    // Someone else's retention run may have dropped it since list().
    if (tx.exec_params1("SELECT to_regclass($1) IS NULL", child)[0].as<bool>()) continue;
    tx.exec0("ALTER TABLE " + parent + " DETACH PARTITION " + child);
    tx.exec0("DROP TABLE " + child);
    tx.commit();
  }
  return old;
}

}  // namespace sentinel::partitions
