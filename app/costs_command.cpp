#include "app/costs_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "app/config.h"
#include "app/report_format.h"
#include "rows/month.h"
#include "sinks/connection_defaults.h"
#include "sinks/control_connection.h"

namespace sentinel {
namespace {

struct CostsArgs {
  std::string pg_url;
  std::string replica_url;
  std::string config;
  std::string tenant;
  std::string month;
  int top = 0;
  std::string format = "table";
};

// Money leaves PostgreSQL as numeric text and is printed as such: never through a double.
// ORDER BY names the table's columns: the output columns of the same name are text.
constexpr const char* kTenantSql = R"(
SELECT period, period_start::text, cost_usd::text, invocations::text, prompt_tokens::text,
       completion_tokens::text
  FROM costs
 WHERE tenant_id = $1
   AND ((period = 'day' AND period_start >= $2::date
                        AND period_start < ($2::date + interval '1 month')::date)
        OR (period = 'month' AND period_start = $2::date))
 ORDER BY costs.period = 'month', costs.period_start)";

constexpr const char* kTopSql = R"(
WITH m AS (
  SELECT tenant_id, cost_usd, invocations, prompt_tokens, completion_tokens
    FROM costs WHERE period = 'month' AND period_start = $1::date)
SELECT tenant_id, cost_usd::text, invocations::text, prompt_tokens::text,
       completion_tokens::text,
       CASE WHEN t.total > 0 THEN round(100 * cost_usd / t.total, 2)::text ELSE '' END
  FROM m, (SELECT sum(cost_usd) AS total FROM m) t
 ORDER BY m.cost_usd DESC, m.tenant_id
 LIMIT $2)";

constexpr const char* kMonthTotalSql = R"(
SELECT count(*)::text, coalesce(sum(cost_usd), 0)::text, coalesce(sum(invocations), 0)::text
  FROM costs WHERE period = 'month' AND period_start = $1::date)";

void print(const ReportTable& t, const std::string& format) {
  if (format == "csv") {
    fmt::print("{}", t.render_csv());
  } else if (format == "json") {
    fmt::print("{}", t.render_json({"rank", "invocations", "prompt_tokens", "completion_tokens"}));
  } else {
    fmt::print("{}", t.render_text());
  }
}

int tenant_report(pqxx::transaction_base& tx, const CostsArgs& a, int32_t month) {
  const pqxx::result r = tx.exec_params(kTenantSql, a.tenant, month_start_text(month));
  ReportTable t(
      {"period", "period_start", "cost_usd", "invocations", "prompt_tokens", "completion_tokens"},
      {false, false, true, true, true, true});
  bool ruled = false;
  for (const pqxx::row& fields : r) {
    std::vector<std::string> row;
    for (const pqxx::field& f : fields) row.emplace_back(f.c_str());
    if (row[0] == "month" && !ruled && a.format == "table") {
      t.add_rule();
      ruled = true;
    }
    t.add(std::move(row));
  }
  if (a.format == "table") {
    fmt::print("spend of tenant {} in {} (UTC days; cost_usd exact to 9 decimals)\n\n", a.tenant,
               month_text(month));
    if (t.rows() == 0) {
      fmt::print("no costs recorded for tenant {} in {}\n", a.tenant, month_text(month));
      return 0;
    }
  }
  print(t, a.format);
  return 0;
}

int top_report(pqxx::transaction_base& tx, const CostsArgs& a, int32_t month) {
  const std::string start = month_start_text(month);
  const pqxx::result r = tx.exec_params(kTopSql, start, a.top);
  ReportTable t({"rank", "tenant_id", "cost_usd", "invocations", "prompt_tokens",
                 "completion_tokens", "share_pct"},
                {true, false, true, true, true, true, true});
  int rank = 0;
  for (const pqxx::row& fields : r) {
    std::vector<std::string> row{std::to_string(++rank)};
    for (const pqxx::field& f : fields) row.emplace_back(f.c_str());
    t.add(std::move(row));
  }
  if (a.format == "table") {
    const pqxx::row total = tx.exec_params1(kMonthTotalSql, start);
    fmt::print("top {} tenants by spend in {} (UTC)\n\n", a.top, month_text(month));
    print(t, a.format);
    fmt::print("\nall {} tenant(s): {} USD over {} invocation(s)\n", total[0].c_str(),
               total[1].c_str(), total[2].c_str());
    return 0;
  }
  // share_pct is a rounded display figure; JSON gives it as a string like cost_usd.
  print(t, a.format);
  return 0;
}

/// Rethrows a PostgreSQL error; a configuration error (no table, privilege, database, password:
/// by SQLSTATE) as a UsageError naming its fix, exit code 2.
[[noreturn]] void refuse(const PgError& e) {
  if (e.configuration()) throw UsageError(std::string(e.what()) + " (" + e.fix() + ")");
  throw e;
}

/// A malformed --replica is refused naming --replica: the connection-string checks are worded
/// for --pg, the flag of every other command (it said "--pg" to whoever gave only --replica).
void check_replica_url(const std::string& url) {
  try {
    with_connection_defaults(url);
  } catch (const ConnectionStringError& e) {
    std::string message = e.what();
    for (size_t at = message.find("--pg"); at != std::string::npos;
         at = message.find("--pg", at + 9)) {
      message.replace(at, 4, "--replica");
    }
    throw ConnectionStringError(message);
  }
}

int run_costs(const CostsArgs& a) {
  const auto month = parse_month(a.month);
  if (!month) throw UsageError("--month expects YYYY-MM, got '" + a.month + "'");
  const std::string& url = a.replica_url.empty() ? a.pg_url : a.replica_url;
  if (!a.replica_url.empty()) spdlog::debug("reading costs from replica {}", redact_secrets(url));
  if (!a.replica_url.empty()) check_replica_url(url);
  try {
    pqxx::connection conn = connect_control(url);
    pqxx::nontransaction tx(conn);
    return a.tenant.empty() ? top_report(tx, a, *month) : tenant_report(tx, a, *month);
  } catch (const pqxx::sql_error& e) {
    refuse(pg_error_of(e));
  } catch (const PgError& e) {
    refuse(e);
  }
}

}  // namespace

std::function<int()> add_costs_command(CLI::App& app) {
  auto a = std::make_shared<CostsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "costs", "Daily and monthly spend of a tenant, or the month's top tenants, from `costs`");
  cmd->add_option("--pg", a->pg_url, "PostgreSQL connection string or URI (a replica works)");
  cmd->add_option("--replica", a->replica_url,
                  "Read from this read replica instead of --pg (either one is enough)");
  cmd->add_option("--tenant", a->tenant, "Tenant whose daily and monthly spend to show");
  cmd->add_option("--month", a->month, "UTC month YYYY-MM (default: the current month)");
  cmd->add_option("--top", a->top, "Show the N tenants that spent most in the month")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--format", a->format, "table, csv or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->add_option("--config", a->config, "YAML file of option: value");
  add_env_names(*cmd);
  return [cmd, a]() -> int {
    apply_config_file(*cmd, a->config);
    if (a->pg_url.empty() && a->replica_url.empty()) {
      throw UsageError(
          "missing --pg or --replica (or SENTINEL_PG_URL / SENTINEL_REPLICA, or `pg:` / "
          "`replica:` in the --config file)");
    }
    if (!a->tenant.empty() && a->top > 0) throw UsageError("--tenant and --top exclude each other");
    if (a->tenant.empty() && a->top == 0) a->top = 10;
    if (a->month.empty()) a->month = month_text(current_month());
    return run_costs(*a);
  };
}

}  // namespace sentinel
