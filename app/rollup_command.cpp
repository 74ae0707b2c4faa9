#include "app/rollup_command.h"

#include <fmt/format.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/report_format.h"
#include "catalog/catalog.h"
#include "rows/month.h"
#include "sinks/control_connection.h"
#include "sinks/pg_error.h"

namespace sentinel {
namespace {

struct RollupArgs {
  std::string pg_url;
  std::string config;
  std::string catalog_dir;
  std::string table;
  std::string month;
  std::string period = "month";
  std::string format = "table";
};

struct Found {
  const EventType* type = nullptr;
  const Rollup* rollup = nullptr;
};

/// The rollup named by --table, or the only one of the catalog; UsageError naming the choices.
Found find_rollup(const Catalog& catalog, const std::string& table) {
  std::vector<Found> all;
  for (const EventType& t : catalog.types()) {
    for (const Rollup& r : t.rollups) all.push_back({&t, &r});
  }
  std::string names;
  for (const Found& f : all) {
    if (f.rollup->table == table) return f;
    names += (names.empty() ? "" : ", ") + f.rollup->table;
  }
  if (all.empty()) throw UsageError("the catalog declares no rollup (x-sentinel.rollups)");
  if (!table.empty()) {
    throw UsageError(
        fmt::format("--table {}: not a rollup of the catalog; its rollups: {}", table, names));
  }
  if (all.size() == 1) return all.front();
  throw UsageError(fmt::format("--table is required: the catalog has several rollups ({})", names));
}

/// Every column of the rollup as text, keys first; money and other sums leave PostgreSQL as
/// numeric text and are printed as such, never through a double. Names are the catalog's, which
/// the loader allows only as plain lower-case identifiers that are not SQL keywords.
std::string report_sql(const Found& f) {
  std::string select, order;
  for (const std::string& key : f.rollup->key) {
    const Property& p = f.type->properties[static_cast<size_t>(f.type->property_index(key))];
    select += fmt::format("{}::text, ", p.column);
    order += fmt::format("r.{}, ", p.column);
  }
  select += fmt::format("period_start::text, {}::text", f.rollup->count);
  for (const auto& [column, property] : f.rollup->sums) {
    select += fmt::format(", {}::text", column);
  }
  return fmt::format(
      "SELECT {} FROM {} r WHERE period = $1 AND period_start >= $2::date"
      " AND period_start < ($2::date + interval '1 month')::date ORDER BY {}r.period_start",
      select, f.rollup->table, order);
}

int run_rollup(const RollupArgs& a) {
  const auto month = parse_month(a.month);
  if (!month) throw UsageError("--month expects YYYY-MM, got '" + a.month + "'");
  const std::shared_ptr<const Catalog> catalog = load_catalog(a.catalog_dir);
  const Found f = find_rollup(*catalog, a.table);

  std::vector<std::string> header = f.rollup->key;
  std::vector<bool> right(header.size(), false);
  header.insert(header.end(), {"period_start", f.rollup->count});
  right.insert(right.end(), {false, true});
  std::vector<std::string> numbers = {f.rollup->count};
  for (const auto& [column, property] : f.rollup->sums) {
    header.push_back(column);
    right.push_back(true);
  }
  ReportTable t(header, right);
  try {
    pqxx::connection conn = connect_control(a.pg_url);
    pqxx::nontransaction tx(conn);
    for (const pqxx::row& fields :
         tx.exec_params(report_sql(f), a.period, month_start_text(*month))) {
      std::vector<std::string> row;
      for (const pqxx::field& field : fields) row.emplace_back(field.c_str());
      t.add(std::move(row));
    }
  } catch (const pqxx::sql_error& e) {
    const PgError error = pg_error_of(e);
    if (error.configuration())
      throw UsageError(std::string(error.what()) + " (" + error.fix() + ")");
    throw error;
  }
  if (a.format == "csv") {
    fmt::print("{}", t.render_csv());
  } else if (a.format == "json") {
    fmt::print("{}", t.render_json(numbers));
  } else {
    fmt::print("{} of event type {}, by UTC {} in {} (sums exact)\n\n", f.rollup->table,
               f.type->name, a.period, month_text(*month));
    if (t.rows() == 0) {
      fmt::print("nothing recorded in {} for {}\n", f.rollup->table, month_text(*month));
      return 0;
    }
    fmt::print("{}", t.render_text());
  }
  return 0;
}

}  // namespace

std::function<int()> add_rollup_command(CLI::App& app) {
  auto a = std::make_shared<RollupArgs>();
  CLI::App* cmd = app.add_subcommand(
      "rollup",
      "A month of a catalog rollup table (x-sentinel.rollups): count and exact sums per key, by "
      "UTC day or month; `costs` is the built-in invocation type's");
  cmd->add_option("--pg", a->pg_url, "PostgreSQL connection string or URI (a replica works)");
  cmd->add_option("--catalog", a->catalog_dir,
                  "Folder of event type files (*.schema.json, *.schema.yaml) added to the "
                  "built-in types");
  cmd->add_option("--table", a->table, "The rollup table (needed when the catalog has several)");
  cmd->add_option("--month", a->month, "UTC month YYYY-MM (default: the current month)");
  cmd->add_option("--period", a->period, "day: one line per key and day; month: per key")
      ->capture_default_str()
      ->check(CLI::IsMember({"day", "month"}));
  cmd->add_option("--format", a->format, "table, csv or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->add_option("--config", a->config, "YAML file of option: value");
  add_env_names(*cmd);
  return [cmd, a]() -> int {
    apply_config_file(*cmd, a->config);
    if (a->pg_url.empty()) {
      throw UsageError("missing --pg (or SENTINEL_PG_URL, or `pg:` in the --config file)");
    }
    if (a->month.empty()) a->month = month_text(current_month());
    return run_rollup(*a);
  };
}

}  // namespace sentinel
