#include "sinks/catalog_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "sinks/control_connection.h"

namespace sentinel {
namespace {

constexpr std::string_view kMigrateFix =
    "run `sentinel-ingest migrate --pg URL --catalog DIR` with the catalog given to run";

/// What a table looks like in the database (schema public).
struct TableShape {
  bool exists = false;
  std::string oid;
  char kind = 0;              ///< pg_class.relkind: 'p' partitioned, 'r' plain
  std::string partition_key;  ///< pg_get_partkeydef: "RANGE (ts)", "" when not partitioned
  std::map<std::string, std::string> columns;  ///< name → format_type ("timestamp with time zone")
  std::vector<std::string> column_order;
  std::set<std::string> not_null;  ///< columns with NOT NULL
  /// NOT NULL columns that PostgreSQL fills by itself (a default, identity or generated column).
  std::set<std::string> filled;
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;  ///< method, columns
  std::vector<std::string> primary_key;
  bool row_guard = false;        ///< a row-level append-only trigger
  bool statement_guard = false;  ///< a statement-level one that covers TRUNCATE
  std::vector<std::string> partitions;
};

/// What sentinel_catalog says was applied for one type.
struct Recorded {
  std::string table;
  std::string checksum;
  std::string document;
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

/// The type as format_type() prints it: what an existing column must say.
std::string format_type_of(const Property& p) {
  switch (p.type) {
    case ColumnType::kTimestamptz:
      return "timestamp with time zone";
    default:
      return p.pg_type();
  }
}

/// A rollup sum column's SQL type: numeric(38, scale) for an exact decimal, bigint for integers.
std::string sum_type_of(const Property& p) {
  return p.type == ColumnType::kNumeric ? fmt::format("numeric(38,{})", p.numeric_scale) : "bigint";
}

/// Whether an existing sum column can hold what the catalog sums (costs has numeric(20,9)).
bool sum_type_fits(const Property& p, const std::string& have) {
  if (p.type != ColumnType::kNumeric) return have == "bigint" || have.ends_with(",0)");
  return have.starts_with("numeric(") && have.ends_with(fmt::format(",{})", p.numeric_scale));
}

TableShape read_table(pqxx::transaction_base& tx, const std::string& name) {
  TableShape t;
  const pqxx::result rel = tx.exec_params(
      "SELECT c.oid, c.relkind, coalesce(pg_catalog.pg_get_partkeydef(c.oid), '') "
      "FROM pg_catalog.pg_class c "
      "WHERE c.relnamespace = 'public'::pg_catalog.regnamespace AND c.relname = $1",
      name);
  if (rel.empty()) return t;
  t.exists = true;
  t.oid = rel[0][0].as<std::string>();
  t.kind = rel[0][1].as<std::string>().front();
  t.partition_key = rel[0][2].as<std::string>();
  for (const pqxx::row& r : tx.exec_params(
           "SELECT attname, pg_catalog.format_type(atttypid, atttypmod), attnotnull, "
           "atthasdef OR attidentity <> '' OR attgenerated <> '' "
           "FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.oid AND attnum > 0 "
           "AND NOT attisdropped ORDER BY attnum",
           t.oid)) {
    t.column_order.push_back(r[0].as<std::string>());
    t.columns[r[0].as<std::string>()] = r[1].as<std::string>();
    if (r[2].as<bool>()) t.not_null.insert(r[0].as<std::string>());
    if (r[3].as<bool>()) t.filled.insert(r[0].as<std::string>());
  }
  for (const pqxx::row& r : tx.exec_params(
           "SELECT am.amname, i.indisprimary, pg_catalog.array_to_string(ARRAY("
           " SELECT a.attname FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) "
           " WITH ORDINALITY k(n, o) JOIN pg_catalog.pg_attribute a "
           " ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), ',') "
           "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
           "JOIN pg_catalog.pg_am am ON am.oid = ic.relam WHERE i.indrelid = $1::pg_catalog.oid",
           t.oid)) {
    std::vector<std::string> columns = split(r[2].as<std::string>(), ',');
    if (r[1].as<bool>()) t.primary_key = columns;
    t.indexes.emplace_back(r[0].as<std::string>(), std::move(columns));
  }
  const pqxx::row guards = tx.exec_params1(
      "SELECT coalesce(bool_or(t.tgtype & 1 = 1), false), "
      "coalesce(bool_or(t.tgtype & 1 = 0 AND t.tgtype & 32 = 32), false) "
      "FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1::pg_catalog.oid AND NOT t.tgisinternal "
      "AND t.tgfoid = 'public.sentinel_forbid_modification()'::pg_catalog.regprocedure",
      t.oid);
  t.row_guard = guards[0].as<bool>();
  t.statement_guard = guards[1].as<bool>();
  for (const pqxx::row& r :
       tx.exec_params("SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c "
                      "ON c.oid = i.inhrelid WHERE i.inhparent = $1::pg_catalog.oid ORDER BY 1",
                      t.oid)) {
    t.partitions.push_back(r[0].as<std::string>());
  }
  return t;
}

std::map<std::string, Recorded> read_recorded(pqxx::transaction_base& tx) {
  std::map<std::string, Recorded> out;
  for (const pqxx::row& r :
       tx.exec("SELECT type_name, table_name, checksum, document FROM public.sentinel_catalog")) {
    out[r[0].as<std::string>()] =
        Recorded{r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>()};
  }
  return out;
}

/// Compares one catalog with the database and fills a plan. Identifiers are quoted the way
/// quote_ident() would (only keywords and unusual names), so that the plan reads like hand-written
/// SQL.
class Planner {
 public:
  Planner(pqxx::transaction_base& tx, CatalogPlan& plan) : tx_(tx), plan_(plan) {
    for (const pqxx::row& r :
         tx_.exec("SELECT word FROM pg_catalog.pg_get_keywords() WHERE catcode <> 'U'")) {
      keywords_.insert(r[0].as<std::string>());
    }
  }

  void plan_type(const EventType& type, const Recorded* recorded);

 private:
  std::string id(const std::string& name) const;
  std::string table_id(const std::string& name) const { return "public." + id(name); }
  /// "a, b, c", each quoted as needed.
  std::string id_list(const std::vector<std::string>& names) const {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + id(n);
    return out;
  }
  void change(const EventType& type, std::string what, std::vector<std::string> sql) {
    plan_.changes.push_back({type.name, std::move(what), std::move(sql)});
  }
  void refuse(const EventType& type, std::string what, std::vector<std::string> sql) {
    plan_.refusals.push_back({type.name, std::move(what), std::move(sql)});
  }
  bool refuse_moved_table(const EventType& type, const Recorded& recorded);
  void create_table(const EventType& type);
  bool check_partitioning(const EventType& type, const TableShape& shape);
  void compare_columns(const EventType& type, const TableShape& shape,
                       const std::optional<EventType>& old);
  void drop_not_null(const EventType& type, const std::string& column, const std::string& why);
  void add_missing_column(const EventType& type, const TableShape& shape,
                          const std::optional<EventType>& old, const Property& p);
  void compare_indexes_and_guards(const EventType& type, const TableShape& shape);
  std::string btree_index(const EventType& type, const std::vector<std::string>& columns) const;
  std::string brin_index(const EventType& type) const;
  std::vector<std::string> guard_triggers(const EventType& type, bool rows, bool statement) const;
  void plan_rollup(const EventType& type, const Rollup& rollup, bool table_exists);
  void note_dropped_rollups(const EventType& type, const EventType& old);
  void compare_rollup(const EventType& type, const Rollup& rollup, const TableShape& shape);
  std::string create_rollup(const EventType& type, const Rollup& rollup) const;
  void add_rollup_columns(const EventType& type, const Rollup& rollup,
                          const std::vector<std::pair<std::string, std::string>>& columns);
  bool has_rows(const std::string& table) const;
  std::string rollup_select(const EventType& type, const Rollup& rollup) const;
  std::vector<std::string> backfill(const EventType& type, std::vector<std::string> sql) const;
  std::vector<std::string> rename_away(const std::string& table, const std::string& to,
                                       const TableShape& shape) const;

  const Property& prop(const EventType& type, const std::string& name) const {
    return type.properties[static_cast<size_t>(type.property_index(name))];
  }
  /// The columns of properties named in an index or a rollup key.
  std::vector<std::string> columns_of(const EventType& type,
                                      const std::vector<std::string>& properties) const {
    std::vector<std::string> columns;
    columns.reserve(properties.size());
    for (const std::string& name : properties) columns.push_back(prop(type, name).column);
    return columns;
  }

  pqxx::transaction_base& tx_;
  CatalogPlan& plan_;
  std::set<std::string> keywords_;
};

std::string Planner::id(const std::string& name) const {
  const bool plain = !name.empty() && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')) &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                     });
  if (plain && !keywords_.contains(name)) return name;
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void Planner::plan_type(const EventType& type, const Recorded* recorded) {
  std::optional<EventType> old;
  if (recorded != nullptr) {
    try {
      old = load_event_type(recorded->document, "sentinel_catalog:" + type.name);
    } catch (const std::exception& e) {
      plan_.notes.push_back(fmt::format(
          "{}: the recorded document no longer loads ({}); renamed columns are not detected",
          type.name, e.what()));
    }
    if (recorded->table != type.table && refuse_moved_table(type, *recorded)) return;
  }
  const TableShape shape = read_table(tx_, type.table);
  if (!shape.exists) {
    create_table(type);
  } else if (check_partitioning(type, shape)) {
    compare_columns(type, shape, old);
    compare_indexes_and_guards(type, shape);
  }
  for (const Rollup& r : type.rollups) plan_rollup(type, r, shape.exists);
  if (old) note_dropped_rollups(type, *old);
  if (recorded == nullptr || recorded->checksum != type.checksum || recorded->table != type.table) {
    std::vector<std::string> rollups;
    for (const Rollup& r : type.rollups) rollups.push_back(r.table);
    const std::string why =
        recorded == nullptr
            ? "not applied yet"
            : fmt::format("applied with another document (checksum {} recorded, {} in the catalog)",
                          recorded->checksum, type.checksum);
    plan_.records.push_back(
        {type.name, type.table, std::move(rollups), type.checksum, type.document, why});
  }
}

/// The catalog names another table than the one recorded: refused while the recorded one is
/// still there and the new one is not (a rename by a DBA carries the rows and partitions).
bool Planner::refuse_moved_table(const EventType& type, const Recorded& recorded) {
  if (read_table(tx_, type.table).exists) return false;
  const TableShape before = read_table(tx_, recorded.table);
  if (!before.exists) return false;
  refuse(type,
         fmt::format("table changed from {} to {}: its rows and month partitions stay with {}",
                     recorded.table, type.table, recorded.table),
         rename_away(recorded.table, type.table, before));
  return true;
}

std::vector<std::string> Planner::rename_away(const std::string& table, const std::string& to,
                                              const TableShape& shape) const {
  std::vector<std::string> sql{fmt::format("ALTER TABLE {} RENAME TO {}", table_id(table), id(to))};
  for (const std::string& part : shape.partitions) {
    std::string renamed = part;
    if (renamed.starts_with(table)) renamed.replace(0, table.size(), to);
    sql.push_back(fmt::format("ALTER TABLE {} RENAME TO {}", table_id(part), id(renamed)));
  }
  return sql;
}

void Planner::create_table(const EventType& type) {
  std::vector<std::string> lines;
  for (const Property& p : type.properties) {
    lines.push_back(
        fmt::format("  {} {}{}", id(p.column), p.pg_type(), p.required ? " NOT NULL" : ""));
  }
  if (type.unknown_fields == UnknownFields::kKeep) {
    lines.push_back(fmt::format("  {} jsonb", kExtraColumn));
  }
  lines.emplace_back("  kafka_partition integer NOT NULL");
  lines.emplace_back("  kafka_offset bigint NOT NULL");
  const std::string partition_column = prop(type, type.partition_by).column;
  std::vector<std::string> sql{fmt::format("CREATE TABLE {} (\n{}\n) PARTITION BY RANGE ({})",
                                           table_id(type.table), join(lines, ",\n"),
                                           id(partition_column))};
  for (const auto& index : type.indexes) sql.push_back(btree_index(type, index));
  sql.push_back(brin_index(type));
  for (std::string& t : guard_triggers(type, true, true)) sql.push_back(std::move(t));
  change(type,
         fmt::format("new type: table {}, month-partitioned on {}, append-only", type.table,
                     partition_column),
         std::move(sql));
}

/// An index named as PostgreSQL names it (table_col1_col2_idx), or left to PostgreSQL to name
/// when that is longer than an identifier may be.
std::string Planner::btree_index(const EventType& type,
                                 const std::vector<std::string>& properties) const {
  const std::vector<std::string> columns = columns_of(type, properties);
  const std::string name = type.table + "_" + join(columns, "_") + "_idx";
  return fmt::format("CREATE INDEX {}ON {} ({})", name.size() <= 63 ? id(name) + " " : "",
                     table_id(type.table), id_list(columns));
}

std::string Planner::brin_index(const EventType& type) const {
  const std::string column = prop(type, type.partition_by).column;
  const std::string name = type.table + "_" + column + "_brin";
  return fmt::format("CREATE INDEX {}ON {} USING brin ({})",
                     name.size() <= 63 ? id(name) + " " : "", table_id(type.table), id(column));
}

/// The append-only guard of audit_logs (schemas/001_core.sql): row level on the parent (cloned to
/// every partition), statement level for TRUNCATE (sentinel_ensure_month_partition adds it to each
/// partition it makes).
std::vector<std::string> Planner::guard_triggers(const EventType& type, bool rows,
                                                 bool statement) const {
  std::vector<std::string> sql;
  if (rows) {
    sql.push_back(
        fmt::format("CREATE TRIGGER {} BEFORE UPDATE OR DELETE ON {} FOR EACH ROW "
                    "EXECUTE FUNCTION public.sentinel_forbid_modification()",
                    id(type.table + "_append_only_rows"), table_id(type.table)));
  }
  if (statement) {
    sql.push_back(fmt::format(
        "CREATE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {} FOR EACH STATEMENT "
        "EXECUTE FUNCTION public.sentinel_forbid_modification()",
        id(type.table + "_append_only"), table_id(type.table)));
  }
  return sql;
}

/// False (and a refusal) when the existing table is not month-partitioned on partition_by.
bool Planner::check_partitioning(const EventType& type, const TableShape& shape) {
  const std::string column = prop(type, type.partition_by).column;
  const std::string expected = "RANGE (" + id(column) + ")";
  if (shape.partition_key == expected) return true;
  const std::string old_name = type.table + "_old";
  std::vector<std::string> sql{
      "-- PostgreSQL cannot change a table's partitioning in place: move the table away, run "
      "`sentinel-ingest migrate` (it creates the table anew), then copy the rows back"};
  for (std::string& s : rename_away(type.table, old_name, shape)) sql.push_back(std::move(s));
  sql.push_back(fmt::format("-- after migrate: INSERT INTO {} ({}) SELECT {} FROM {}",
                            table_id(type.table), type.copy_columns(), type.copy_columns(),
                            table_id(old_name)));
  refuse(
      type,
      fmt::format(
          "table {} is {}, the catalog partitions it by RANGE ({}) (partition_by {})", type.table,
          shape.partition_key.empty() ? "not partitioned" : "partitioned by " + shape.partition_key,
          column, type.partition_by),
      std::move(sql));
  return false;
}

/// A NOT NULL column that rows may now leave empty: every event would be refused by PostgreSQL
/// (null value violates not-null). Dropping NOT NULL only relaxes the table, so migrate does it.
void Planner::drop_not_null(const EventType& type, const std::string& column,
                            const std::string& why) {
  change(type, fmt::format("column {}.{} may be null now ({})", type.table, column, why),
         {fmt::format("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL", table_id(type.table),
                      id(column))});
}

void Planner::compare_columns(const EventType& type, const TableShape& shape,
                              const std::optional<EventType>& old) {
  std::set<std::string> expected;
  for (const Property& p : type.properties) {
    expected.insert(p.column);
    const auto have = shape.columns.find(p.column);
    if (have == shape.columns.end()) {
      add_missing_column(type, shape, old, p);
    } else if (have->second != format_type_of(p)) {
      refuse(
          type,
          fmt::format("column {}.{} is {}, the catalog says {} (property {})", type.table, p.column,
                      have->second, p.pg_type(), p.name),
          {fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}", table_id(type.table),
                       id(p.column), p.pg_type(), id(p.column), p.pg_type())});
    } else if (!p.required && shape.not_null.contains(p.column)) {
      drop_not_null(type, p.column, fmt::format("property {} is not required", p.name));
    }
  }
  const std::pair<std::string, std::string> fixed[] = {{std::string(kExtraColumn), "jsonb"},
                                                       {"kafka_partition", "integer"},
                                                       {"kafka_offset", "bigint"}};
  for (const auto& [column, sql_type] : fixed) {
    if (column == kExtraColumn && type.unknown_fields != UnknownFields::kKeep) continue;
    expected.insert(column);
    if (shape.columns.contains(column)) continue;
    change(
        type, fmt::format("new column {}.{} ({})", type.table, column, sql_type),
        {fmt::format("ALTER TABLE {} ADD COLUMN {} {}", table_id(type.table), column, sql_type)});
  }
  for (const std::string& column : shape.column_order) {
    if (expected.contains(column)) continue;
    if (shape.not_null.contains(column) && !shape.filled.contains(column)) {
      drop_not_null(type, column, "no property writes it and it has no default");
    }
    plan_.notes.push_back(fmt::format(
        "{}: column {}.{} is kept: no property of the catalog writes it any more (its values "
        "stay; ALTER TABLE {} DROP COLUMN {} removes them)",
        type.name, type.table, column, table_id(type.table), id(column)));
  }
}

/// A property without its column: a renamed one (the recorded document gave the same property
/// another column, still there) is refused; a new one becomes a nullable column.
void Planner::add_missing_column(const EventType& type, const TableShape& shape,
                                 const std::optional<EventType>& old, const Property& p) {
  if (old) {
    const int i = old->property_index(p.name);
    if (i >= 0) {
      const std::string& before = old->properties[static_cast<size_t>(i)].column;
      if (before != p.column && shape.columns.contains(before)) {
        refuse(type,
               fmt::format("property {} now has column {} instead of {}.{}", p.name, p.column,
                           type.table, before),
               {fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", table_id(type.table),
                            id(before), id(p.column))});
        return;
      }
    }
  }
  change(type,
         fmt::format("new column {}.{} ({}){}", type.table, p.column, p.pg_type(),
                     p.required ? ", nullable: rows stored before have no value" : ""),
         {fmt::format("ALTER TABLE {} ADD COLUMN {} {}", table_id(type.table), id(p.column),
                      p.pg_type())});
}

void Planner::compare_indexes_and_guards(const EventType& type, const TableShape& shape) {
  const auto has_index = [&](std::string_view method, const std::vector<std::string>& columns) {
    return std::any_of(shape.indexes.begin(), shape.indexes.end(),
                       [&](const auto& ix) { return ix.first == method && ix.second == columns; });
  };
  for (const auto& index : type.indexes) {
    const std::vector<std::string> columns = columns_of(type, index);
    if (has_index("btree", columns)) continue;
    change(type, fmt::format("new index on {} ({})", type.table, join(columns, ", ")),
           {btree_index(type, index)});
  }
  if (!has_index("brin", {prop(type, type.partition_by).column})) {
    change(type, fmt::format("BRIN index on {}.{}", type.table, type.partition_by),
           {brin_index(type)});
  }
  if (!shape.row_guard || !shape.statement_guard) {
    change(type, fmt::format("append-only triggers on {}", type.table),
           guard_triggers(type, !shape.row_guard, !shape.statement_guard));
  }
}

/// A missing rollup table is created, unless its event table already has rows: created empty, it
/// would show their periods without them, so it is refused with the back-fill a DBA runs.
void Planner::plan_rollup(const EventType& type, const Rollup& rollup, bool table_exists) {
  const TableShape shape = read_table(tx_, rollup.table);
  if (shape.exists) {
    compare_rollup(type, rollup, shape);
    return;
  }
  if (!table_exists || !has_rows(type.table)) {
    change(type, fmt::format("new rollup table {}", rollup.table), {create_rollup(type, rollup)});
    return;
  }
  std::string columns =
      id_list(columns_of(type, rollup.key)) + ", period, period_start, " + id(rollup.count);
  for (const auto& [column, property] : rollup.sums) columns += ", " + id(column);
  refuse(type,
         fmt::format("new rollup table {} for table {}, which already has rows: created empty, "
                     "its counts and sums would leave those rows out",
                     rollup.table, type.table),
         backfill(type, {create_rollup(type, rollup),
                         fmt::format("INSERT INTO {} ({})\n{}", table_id(rollup.table), columns,
                                     rollup_select(type, rollup))}));
}

/// Whether a table has a row. A role that may not read it (run's) cannot tell: taken as yes,
/// which only words a mismatch that is there anyway.
bool Planner::has_rows(const std::string& table) const {
  if (!tx_.exec_params1("SELECT pg_catalog.has_table_privilege($1, 'SELECT')", table_id(table))[0]
           .as<bool>()) {
    return true;
  }
  return tx_.exec1(fmt::format("SELECT EXISTS (SELECT FROM {})", table_id(table)))[0].as<bool>();
}

/// The rollup's lines computed from the rows of its event table, as the ingestor computes them:
/// per key, UTC day and/or first day of the UTC month of partition_by, the row count and the sums
/// (a missing value adds nothing). Columns named as the rollup table's.
std::string Planner::rollup_select(const EventType& type, const Rollup& rollup) const {
  const std::string ts = id(prop(type, type.partition_by).column);
  const std::vector<std::string> key = columns_of(type, rollup.key);
  std::string values = fmt::format("pg_catalog.count(*) AS {}", id(rollup.count));
  for (const auto& [column, property] : rollup.sums) {
    values += fmt::format(", COALESCE(pg_catalog.sum({}), 0) AS {}",
                          id(prop(type, property).column), id(column));
  }
  std::vector<std::string> present;
  present.reserve(key.size());
  for (const std::string& k : key) present.push_back(id(k) + " IS NOT NULL");
  std::vector<std::string> parts;
  for (const std::string& period : rollup.periods) {
    const std::string start =
        period == "day"
            ? fmt::format("({} AT TIME ZONE 'UTC')::date", ts)
            : fmt::format("pg_catalog.date_trunc('month', {} AT TIME ZONE 'UTC')::date", ts);
    parts.push_back(fmt::format(
        "SELECT {0}, '{1}' AS period, {2} AS period_start, {3}\nFROM {4} WHERE {5} GROUP BY {0}, "
        "{2}",
        id_list(key), period, start, values, table_id(type.table), join(present, " AND ")));
  }
  return join(parts, "\nUNION ALL\n");
}

/// `sql` (the DDL and the back-fill) wrapped in what a DBA must do around it.
std::vector<std::string> Planner::backfill(const EventType& type,
                                           std::vector<std::string> sql) const {
  std::vector<std::string> out{
      "-- stop every ingestor first (rows committed meanwhile would be left out), then:", "BEGIN"};
  for (std::string& s : sql) out.push_back(std::move(s));
  out.emplace_back("COMMIT");
  out.push_back(fmt::format(
      "-- the back-fill reads the rows {} holds now: periods whose partitions were dropped are "
      "not counted",
      type.table));
  out.emplace_back(
      "-- then run `sentinel-ingest migrate --catalog DIR` again and start the ingestors with this "
      "catalog");
  return out;
}

/// A rollup the recorded document had and the catalog no longer has: its table stays (and stops
/// being upserted).
void Planner::note_dropped_rollups(const EventType& type, const EventType& old) {
  for (const Rollup& r : old.rollups) {
    const bool still = std::any_of(type.rollups.begin(), type.rollups.end(),
                                   [&](const Rollup& now) { return now.table == r.table; });
    if (still || !read_table(tx_, r.table).exists) continue;
    plan_.notes.push_back(fmt::format(
        "{}: rollup table {} is kept: the catalog no longer rolls this type up into it (its sums "
        "stop; DROP TABLE {} removes it)",
        type.name, r.table, table_id(r.table)));
  }
}

std::string Planner::create_rollup(const EventType& type, const Rollup& rollup) const {
  std::vector<std::string> lines;
  for (const std::string& name : rollup.key) {
    const Property& p = prop(type, name);
    lines.push_back(fmt::format("  {} {} NOT NULL", id(p.column), p.pg_type()));
  }
  lines.emplace_back("  period text NOT NULL CHECK (period IN ('day', 'month'))");
  lines.emplace_back("  period_start date NOT NULL");
  lines.push_back(fmt::format("  {} bigint NOT NULL DEFAULT 0", id(rollup.count)));
  for (const auto& [column, property] : rollup.sums) {
    lines.push_back(
        fmt::format("  {} {} NOT NULL DEFAULT 0", id(column), sum_type_of(prop(type, property))));
  }
  lines.emplace_back("  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()");
  lines.push_back(fmt::format("  PRIMARY KEY ({}, period, period_start)",
                              id_list(columns_of(type, rollup.key))));
  lines.emplace_back("  CHECK (period = 'day' OR pg_catalog.date_part('day', period_start) = 1)");
  return fmt::format("CREATE TABLE {} (\n{}\n) WITH (fillfactor = 80)", table_id(rollup.table),
                     join(lines, ",\n"));
}

/// An existing rollup table: a different key is refused (a primary key is not changed in place);
/// a missing count or sum column is added; a sum column of another type is refused.
void Planner::compare_rollup(const EventType& type, const Rollup& rollup, const TableShape& shape) {
  std::vector<std::string> key;
  bool key_types_match = true;
  for (const std::string& name : rollup.key) {
    const Property& p = prop(type, name);
    key.push_back(p.column);
    const auto have = shape.columns.find(p.column);
    key_types_match =
        key_types_match && have != shape.columns.end() && have->second == format_type_of(p);
  }
  key.emplace_back("period");
  key.emplace_back("period_start");
  if (shape.primary_key != key || !key_types_match) {
    refuse(type,
           fmt::format("rollup table {} has primary key ({}), the catalog says ({})", rollup.table,
                       join(shape.primary_key, ", "), join(key, ", ")),
           {"-- a primary key is not changed in place: move the table away, then "
            "`sentinel-ingest migrate` creates it with the new key (sums start from zero)",
            fmt::format("ALTER TABLE {} RENAME TO {}", table_id(rollup.table),
                        id(rollup.table + "_old"))});
    return;
  }
  std::vector<std::pair<std::string, std::string>> missing;  // column, SQL type
  if (!shape.columns.contains(rollup.count)) missing.emplace_back(rollup.count, "bigint");
  for (const auto& [column, property] : rollup.sums) {
    const Property& p = prop(type, property);
    const auto have = shape.columns.find(column);
    if (have == shape.columns.end()) {
      missing.emplace_back(column, sum_type_of(p));
    } else if (!sum_type_fits(p, have->second)) {
      refuse(type,
             fmt::format("rollup column {}.{} is {}, the sum of {} needs {}", rollup.table, column,
                         have->second, property, sum_type_of(p)),
             {fmt::format("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}",
                          table_id(rollup.table), id(column), sum_type_of(p), id(column),
                          sum_type_of(p))});
    }
  }
  if (!missing.empty()) add_rollup_columns(type, rollup, missing);
}

/// New count or sum columns of an existing rollup table: added as 0 when the table has no line;
/// else 0 would be wrong for every line stored, so they are refused with the back-fill.
void Planner::add_rollup_columns(const EventType& type, const Rollup& rollup,
                                 const std::vector<std::pair<std::string, std::string>>& columns) {
  std::vector<std::string> adds;
  std::vector<std::string> names;
  std::vector<std::string> sets;
  for (const auto& [column, sql_type] : columns) {
    adds.push_back(fmt::format("ADD COLUMN {} {} NOT NULL DEFAULT 0", id(column), sql_type));
    names.push_back(column);
    sets.push_back(fmt::format("{0} = x.{0}", id(column)));
  }
  const std::string alter =
      fmt::format("ALTER TABLE {} {}", table_id(rollup.table), join(adds, ", "));
  if (!has_rows(rollup.table)) {
    change(type, fmt::format("new rollup columns {}.{}", rollup.table, join(names, ", ")), {alter});
    return;
  }
  std::string match;
  for (const std::string& k : columns_of(type, rollup.key)) {
    match += fmt::format("r.{0} = x.{0} AND ", id(k));
  }
  match += "r.period = x.period AND r.period_start = x.period_start";
  refuse(type,
         fmt::format("new rollup columns {}.{}: the table already has lines, for which 0 would "
                     "be wrong",
                     rollup.table, join(names, ", ")),
         backfill(type, {alter, fmt::format("UPDATE {} AS r SET {}\nFROM (\n{}\n) AS x WHERE {}",
                                            table_id(rollup.table), join(sets, ", "),
                                            rollup_select(type, rollup), match)}));
}

std::string document_placeholder(const CatalogRecord& r) {
  return fmt::format("<the effective schema of {}, {} bytes>", r.type, r.document.size());
}

constexpr std::string_view kRecordSql =
    "INSERT INTO public.sentinel_catalog AS s "
    "(type_name, table_name, rollup_tables, checksum, document) "
    "VALUES ({}, {}, pg_catalog.string_to_array({}, ','), {}, {}) "
    "ON CONFLICT (type_name) DO UPDATE SET table_name = EXCLUDED.table_name, "
    "rollup_tables = EXCLUDED.rollup_tables, checksum = EXCLUDED.checksum, "
    "document = EXCLUDED.document, applied_at = pg_catalog.now()";

constexpr std::string_view kApplyRoles = "CALL public.sentinel_apply_roles()";

std::string quoted_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

namespace {

void append_refusals(const CatalogPlan& plan, std::string& out) {
  for (const CatalogRefusal& r : plan.refusals) {
    out += fmt::format("-- REFUSED: {}: {}; a DBA would run:\n", r.type, r.what);
    for (const std::string& s : r.sql) out += s.starts_with("--") ? s + "\n" : s + ";\n";
  }
  out +=
      "-- migrate applies nothing while a change is refused: run the SQL above (or change the "
      "catalog back), then `sentinel-ingest migrate` again";
  out += plan.changes.empty() && plan.records.empty() ? ".\n" : "; it then applies:\n";
}

void append_changes(const CatalogPlan& plan, std::string& out) {
  for (const CatalogChange& c : plan.changes) {
    out += fmt::format("-- {}: {}\n", c.type, c.what);
    for (const std::string& s : c.sql) out += s + ";\n";
  }
  for (const CatalogRecord& r : plan.records) {
    out += fmt::format("-- {}: record in sentinel_catalog ({})\n", r.type, r.why);
    out += fmt::format(fmt::runtime(kRecordSql), quoted_literal(r.type), quoted_literal(r.table),
                       quoted_literal(join(r.rollup_tables, ",")), quoted_literal(r.checksum),
                       document_placeholder(r)) +
           ";\n";
  }
  if (!plan.changes.empty() || !plan.records.empty()) {
    out +=
        "-- ownership and grants: sentinel_owner owns, sentinel_ingest may INSERT rows and "
        "upsert rollups\n" +
        std::string(kApplyRoles) + ";\n";
  }
}

}  // namespace

std::string CatalogPlan::to_text() const {
  std::string out;
  if (nothing_to_do()) out += "-- the database matches the catalog: nothing to apply\n";
  if (refused()) append_refusals(*this, out);
  append_changes(*this, out);
  for (const std::string& n : notes) out += "-- kept: " + n + "\n";
  return out;
}

CatalogPlan plan_catalog(pqxx::transaction_base& tx, const Catalog& catalog) {
  CatalogPlan plan;
  const std::map<std::string, Recorded> recorded = read_recorded(tx);
  Planner planner(tx, plan);
  for (const EventType& type : catalog.types()) {
    const auto it = recorded.find(type.name);
    planner.plan_type(type, it == recorded.end() ? nullptr : &it->second);
  }
  for (const auto& [name, r] : recorded) {
    if (catalog.find(name) != nullptr) continue;
    plan.notes.push_back(fmt::format(
        "{}: recorded in sentinel_catalog but not in the catalog: table {} and its rows stay", name,
        r.table));
  }
  return plan;
}

void apply_catalog_plan(pqxx::transaction_base& tx, const CatalogPlan& plan) {
  if (plan.refused()) throw CatalogRefusedError(plan);
  for (const CatalogChange& c : plan.changes) {
    for (const std::string& s : c.sql) tx.exec0(s);
  }
  for (const CatalogRecord& r : plan.records) {
    tx.exec_params0(fmt::format(fmt::runtime(kRecordSql), "$1", "$2", "$3", "$4", "$5"), r.type,
                    r.table, join(r.rollup_tables, ","), r.checksum, r.document);
  }
  if (!plan.nothing_to_do()) tx.exec0(std::string(kApplyRoles));
}

CatalogRefusedError::CatalogRefusedError(const CatalogPlan& plan)
    : MigrationError(fmt::format("migrate: the event catalog needs changes migrate does not make "
                                 "by itself; nothing was applied\n{}",
                                 plan.to_text())) {}

void verify_catalog(pqxx::transaction_base& tx, const Catalog& catalog) {
  if (!tx.exec1("SELECT to_regclass('public.sentinel_catalog') IS NOT NULL")[0].as<bool>()) {
    throw CatalogMismatchError(
        fmt::format("the database has no event catalog (table sentinel_catalog): {}", kMigrateFix));
  }
  CatalogPlan plan;
  try {
    plan = plan_catalog(tx, catalog);
  } catch (const pqxx::insufficient_privilege&) {
    const std::string user = tx.conn().username();
    throw CatalogMismatchError(fmt::format(
        "{} may not read sentinel_catalog: GRANT sentinel_ingest TO {} (see schemas/README.md)",
        user, user));
  }
  if (plan.nothing_to_do()) return;
  std::vector<std::string> differences;
  for (const CatalogRefusal& r : plan.refusals) differences.push_back(r.type + ": " + r.what);
  for (const CatalogChange& c : plan.changes) differences.push_back(c.type + ": " + c.what);
  for (const CatalogRecord& r : plan.records) differences.push_back(r.type + ": " + r.why);
  throw CatalogMismatchError(fmt::format("the database does not match the event catalog ({}): {}",
                                         join(differences, "; "), kMigrateFix));
}

void verify_catalog(const std::string& url, const Catalog& catalog) {
  pqxx::connection conn = connect_control(url);
  pqxx::read_transaction tx(conn);
  verify_catalog(tx, catalog);
}

}  // namespace sentinel
