#include "sinks/partition_manager.h"

#include <fmt/format.h>

#include <chrono>
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

// The first instant of `month` (see rows/month.h), UTC, in unix microseconds.
int64_t month_start_unix_micros(int32_t month) {
  using namespace std::chrono;
  const sys_days day = year_month_day{
      year{month_year(month)}, std::chrono::month{static_cast<unsigned>(month_of_year(month))},
      std::chrono::day{1}};
  return duration_cast<microseconds>(day.time_since_epoch()).count();
}

// Removed rejects by replay state, from rows of (state, count).
std::map<std::string, int64_t> counts_by_state(const pqxx::result& r) {
  std::map<std::string, int64_t> out;
  for (const pqxx::row& row : r) out[row[0].as<std::string>()] = row[1].as<int64_t>();
  return out;
}

// The cutoff as a timestamptz from $1 (unix microseconds).
constexpr std::string_view kCutoff =
    "('epoch'::timestamptz + $1::bigint * '1 microsecond'::interval)";

}  // namespace

int64_t RejectPurge::total_removed() const {
  int64_t n = 0;
  for (const auto& [state, count] : removed) n += count;
  return n;
}

PurgeRight purge_right(pqxx::connection& conn) {
  pqxx::read_transaction tx(conn);
  const pqxx::row r = tx.exec1(
      "SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'), "
      "pg_catalog.pg_get_userbyid(c.relowner), current_user::text "
      "FROM pg_catalog.pg_class c WHERE c.oid = 'public.ingest_rejects'::regclass");
  return {r[0].as<bool>(), r[1].as<std::string>(), r[2].as<std::string>()};
}

std::vector<RejectPurge> purge_rejects(pqxx::connection& conn, int64_t cutoff_unix_micros,
                                       bool keep_pending, bool dry_run) {
  std::vector<std::string> names;
  {
    pqxx::read_transaction tx(conn);
    for (const pqxx::row& row :
         tx.exec("SELECT c.relname FROM pg_catalog.pg_inherits i "
                 "JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
                 "WHERE i.inhparent = 'public.ingest_rejects'::regclass ORDER BY c.relname")) {
      names.push_back(row[0].as<std::string>());
    }
  }
  const std::string cutoff = std::to_string(cutoff_unix_micros);
  std::vector<RejectPurge> out;
  for (const std::string& name : names) {
    const std::optional<int32_t> month = month_from_name(kRejectsTable, name);
    if (month && month_start_unix_micros(*month) >= cutoff_unix_micros) continue;  // all newer
    const bool whole = month && month_start_unix_micros(*month + 1) <= cutoff_unix_micros;
    RejectPurge p;
    p.partition = name;
    // One short transaction per partition: dropping one locks its parent table.
    pqxx::work tx(conn);
    const std::string parent = "public." + tx.quote_name(std::string(kRejectsTable));
    const std::string child = "public." + tx.quote_name(name);
    // Someone else's purge may have dropped it since the list.
    if (tx.exec_params1("SELECT to_regclass($1) IS NULL", child)[0].as<bool>()) continue;
    const std::map<std::string, int64_t> old = counts_by_state(tx.exec_params(
        fmt::format("SELECT coalesce(replay_state, 'pending'), pg_catalog.count(*) FROM {} "
                    "WHERE rejected_at < {} GROUP BY 1",
                    child, kCutoff),
        cutoff));
    if (old.empty()) continue;
    if (keep_pending && old.contains("pending")) p.pending_kept = old.at("pending");
    if (whole && p.pending_kept == 0) {
      p.dropped = true;
      p.removed = old;
      if (!dry_run) {
        tx.exec0("ALTER TABLE " + parent + " DETACH PARTITION " + child);
        tx.exec0("DROP TABLE " + child);
      }
    } else if (dry_run) {
      p.removed = old;
      if (keep_pending) p.removed.erase("pending");
    } else {
      p.removed = counts_by_state(tx.exec_params(
          fmt::format("WITH d AS (DELETE FROM {} WHERE rejected_at < {}{} RETURNING replay_state) "
                      "SELECT coalesce(replay_state, 'pending'), pg_catalog.count(*) FROM d "
                      "GROUP BY 1",
                      child, kCutoff, keep_pending ? " AND replay_state IS NOT NULL" : ""),
          cutoff));
    }
    tx.commit();
    if (p.total_removed() > 0 || p.pending_kept > 0) out.push_back(std::move(p));
  }
  return out;
}

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
