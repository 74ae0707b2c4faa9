#include "app/catalog_command.h"

#include <fmt/format.h>

#include <map>
#include <memory>

#include "app/catalog_plan_command.h"
#include "app/config.h"
#include "app/report_format.h"
#include "catalog/catalog.h"

namespace sentinel {

namespace {

/// What to run once a sub-command of `catalog` was parsed; returns the exit code.
using Runner = std::function<int()>;

constexpr const char* kCatalogHelp =
    "A folder of event-type files (NAME.schema.json or NAME.schema.yaml) added to the built-in "
    "types; a file named as a built-in type (audit, invocation) replaces it";

/// --catalog DIR (env SENTINEL_CATALOG) on one sub-command.
void add_catalog_option(CLI::App& cmd, std::string& dir) {
  cmd.add_option("--catalog", dir, kCatalogHelp);
  add_env_names(cmd);
}

std::string rollup_tables(const EventType& t) {
  std::string s;
  for (const Rollup& r : t.rollups) s += (s.empty() ? "" : ",") + r.table;
  return s.empty() ? "-" : s;
}

/// `catalog list`'s text: one line per type (name, topic, table, columns, rollups, source).
std::string catalog_list_text(const std::string& dir) {
  const auto catalog = load_catalog(dir);
  ReportTable table({"name", "topic", "table", "columns", "rollups", "source"},
                    {false, false, false, true, false, false});
  for (const EventType& t : catalog->types()) {
    table.add(
        {t.name, t.topic, t.table, std::to_string(t.field_count()), rollup_tables(t), t.source});
  }
  return table.render_text();
}

Runner add_list(CLI::App& catalog) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = catalog.add_subcommand(
      "list", "One line per event type: name, topic, table, its columns, rollup tables, source");
  add_catalog_option(*cmd, *dir);
  return [dir] {
    fmt::print("{}", catalog_list_text(*dir));
    return 0;
  };
}

Runner add_show(CLI::App& catalog) {
  struct ShowCli {
    std::string dir, name;
  };
  auto a = std::make_shared<ShowCli>();
  CLI::App* cmd = catalog.add_subcommand(
      "show",
      "Print an event type's effective schema as JSON: every default written out, ready to be "
      "edited and saved as NAME.schema.json in a --catalog folder");
  cmd->add_option("name", a->name, "The event type (catalog list shows them)")->required();
  add_catalog_option(*cmd, a->dir);
  return [a] {
    const auto catalog = load_catalog(a->dir);
    const EventType* t = catalog->find(a->name);
    if (t == nullptr) {
      std::string known;
      for (const EventType& k : catalog->types()) known += (known.empty() ? "" : ", ") + k.name;
      throw UsageError(fmt::format("catalog show: no event type named '{}' (the catalog has: {})",
                                   a->name, known));
    }
    fmt::print("{}", t->document);
    return 0;
  };
}

Runner add_check(CLI::App& catalog) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = catalog.add_subcommand(
      "check",
      "Validate the catalog: exit 0 when every file is usable, else 2 with every problem (file, "
      "JSON pointer, what is wrong, the fix), one per line");
  add_catalog_option(*cmd, *dir);
  return [dir] {
    const auto catalog = load_catalog(*dir);
    fmt::print("catalog: {} event types, ok\n", catalog->size());
    return 0;
  };
}

Runner add_plan(CLI::App& catalog) {
  struct PlanCli {
    std::string dir, pg_url;
  };
  auto a = std::make_shared<PlanCli>();
  CLI::App* cmd = catalog.add_subcommand(
      "plan",
      "Print the DDL `migrate --catalog` would apply to this database (new tables, new columns), "
      "what it keeps (removed properties' columns) and what it refuses (changed types, renames: "
      "with the SQL a DBA would run). Changes nothing; exit 2 when migrate would refuse");
  cmd->add_option("--pg", a->pg_url, "PostgreSQL connection string or URI (migrate's role)")
      ->envname("SENTINEL_PG_URL");
  add_catalog_option(*cmd, a->dir);
  return [a] {
    if (a->pg_url.empty()) {
      throw UsageError("catalog plan: missing --pg (or SENTINEL_PG_URL)");
    }
    return run_catalog_plan(a->pg_url, a->dir);
  };
}

}  // namespace

std::function<int()> add_catalog_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "catalog",
      "The event types: list them, show one's effective schema, check a --catalog folder, plan "
      "what migrate would change in a database");
  cmd->require_subcommand(1);
  auto runners = std::make_shared<std::map<std::string, Runner>>();
  (*runners)["list"] = add_list(*cmd);
  (*runners)["show"] = add_show(*cmd);
  (*runners)["check"] = add_check(*cmd);
  (*runners)["plan"] = add_plan(*cmd);
  return [cmd, runners] { return runners->at(cmd->get_subcommands().front()->get_name())(); };
}

}  // namespace sentinel
