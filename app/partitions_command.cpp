#include "app/partitions_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <memory>
#include <pqxx/except>
#include <string>

#include "app/config.h"
#include "app/event_type_options.h"
#include "app/report_format.h"
#include "rows/month.h"
#include "sinks/connection_defaults.h"
#include "sinks/partition_manager.h"
#include "sinks/pg_error.h"

namespace sentinel {
namespace {

struct PartitionsArgs {
  std::string pg_url;
  std::string catalog_dir;
  std::string config;
  int premake = 0;
  std::string drop_older_than;
  bool dry_run = false;
  std::string format = "table";
};

void print_partitions(const std::vector<partitions::PartitionInfo>& parts,
                      const std::string& format) {
  ReportTable t({"table", "partition", "month", "estimated_rows", "bytes", "size"},
                {false, false, false, true, true, true});
  int64_t total_bytes = 0;
  for (const auto& p : parts) {
    total_bytes += p.total_bytes;
    t.add({p.table, p.name, p.month ? month_text(*p.month) : "",
           p.estimated_rows < 0 ? "" : std::to_string(p.estimated_rows),
           std::to_string(p.total_bytes), human_bytes(p.total_bytes)});
  }
  if (format == "table") {
    fmt::print("{}", t.render_text());
    fmt::print("{} partition(s), {} in total; estimated_rows is empty until ANALYZE has run\n",
               parts.size(), human_bytes(total_bytes));
  } else {
    fmt::print("{}", format == "csv" ? t.render_csv() : t.render_json({"estimated_rows", "bytes"}));
  }
}

int run_partitions(const PartitionsArgs& a, const Catalog& catalog) {
  const int32_t now = current_month();
  if (a.premake > 0) {
    const auto names = partitions::premake(a.pg_url, catalog, now, a.premake);
    spdlog::info("premade {} month(s) from {}: {} partition(s) present", a.premake, month_text(now),
                 names.size());
  }
  if (!a.drop_older_than.empty()) {
    const auto keep = parse_month(a.drop_older_than);
    if (!keep)
      throw UsageError("--drop-older-than expects YYYY-MM, got '" + a.drop_older_than + "'");
    if (*keep > now) {
      throw UsageError("--drop-older-than " + a.drop_older_than +
                       " is in the future: it would drop this month's partition");
    }
    const auto dropped = partitions::drop_older_than(a.pg_url, catalog, *keep, a.dry_run);
    for (const auto& p : dropped) {
      spdlog::info(
          "{} {} ({}, {})", a.dry_run ? "would detach and drop" : "detached and dropped", p.name,
          p.estimated_rows < 0 ? "rows unknown" : fmt::format("~{} rows", p.estimated_rows),
          human_bytes(p.total_bytes));
    }
    spdlog::info("{} {} partition(s) older than {}", a.dry_run ? "dry run: would drop" : "dropped",
                 dropped.size(), month_text(*keep));
  }
  print_partitions(partitions::list(a.pg_url, catalog), a.format);
  return 0;
}

}  // namespace

std::function<int()> add_partitions_command(CLI::App& app) {
  auto a = std::make_shared<PartitionsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "partitions",
      "List the month partitions of every event table of the catalog (estimated rows, size); "
      "premake months ahead; drop old ones");
  cmd->add_option("--pg", a->pg_url,
                  "PostgreSQL connection string or URI; dropping needs the tables' owner "
                  "(sentinel_owner or a member)");
  add_catalog_option(*cmd, a->catalog_dir);
  cmd->add_option("--premake", a->premake,
                  "Create the partitions of this many months, starting with the current one")
      ->check(CLI::Range(0, 120));
  cmd->add_option("--drop-older-than", a->drop_older_than,
                  "Detach and drop every partition of a month before YYYY-MM (retention)");
  cmd->add_flag("--dry-run", a->dry_run, "With --drop-older-than: only show what would be dropped");
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
    if (a->dry_run && a->drop_older_than.empty()) {
      throw UsageError("--dry-run goes with --drop-older-than");
    }
    with_connection_defaults(a->pg_url);  // a string that can never connect: exit 2 at once
    const std::shared_ptr<const Catalog> catalog = load_catalog_for(a->catalog_dir);
    try {
      return run_partitions(*a, *catalog);
    } catch (const UsageError&) {
      throw;
    } catch (const ConnectionStringError&) {
      throw;
    } catch (const pqxx::insufficient_privilege& e) {
      // SQLSTATE 42501 (must be owner, permission denied), whatever the server's lc_messages.
      throw UsageError(redact_secrets(one_line(e.what())) +
                       " (connect --pg as the tables' owner: sentinel_owner or a member of it, "
                       "e.g. the role that ran `sentinel-ingest migrate`)");
    } catch (const PgError& e) {
      // Refused or unreachable at connect time, classified by connect_control.
      if (e.configuration()) throw UsageError(std::string(e.what()) + " (" + e.fix() + ")");
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(redact_secrets(one_line(e.what())));
    }
  };
}

}  // namespace sentinel
