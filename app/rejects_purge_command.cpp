// `rejects purge` (architecture.md §10): retention for ingest_rejects, as the owner role. Whole
// month partitions older than the cutoff are dropped, the older rows of the one that straddles it
// deleted; never-replayed rejects are kept unless --include-pending (docs/decisions.md).
#include <fmt/format.h>

#include <chrono>
#include <limits>
#include <memory>
#include <pqxx/pqxx>

#include "app/config.h"
#include "app/rejects_command.h"
#include "app/report_format.h"
#include "sinks/control_connection.h"
#include "sinks/partition_manager.h"
#include "sinks/reject_listing.h"

namespace sentinel {
namespace {

constexpr int64_t kNotGiven = std::numeric_limits<int64_t>::min();

struct PurgeCli {
  std::string pg_url;
  std::string config;
  int64_t older_than_days = kNotGiven;
  bool include_pending = false;
  bool dry_run = false;
};

/// Why the connected role may not purge, and what to do.
std::string refusal(const std::string& user, const std::string& owner) {
  return fmt::format(
      "rejects purge needs the owner role of ingest_rejects (sentinel_owner or the table owner{}): "
      "{} may not drop its partitions or delete rejects; connect --pg as the owner, e.g. the role "
      "that ran `sentinel-ingest migrate`",
      owner.empty() ? "" : ", here " + owner, user.empty() ? "this role" : "role " + user);
}

void print_report(const std::vector<partitions::RejectPurge>& purged, const PurgeCli& a,
                  const std::string& cutoff) {
  std::vector<std::string> header = {"partition", "action"};
  for (const std::string_view s : reject_listing::kStates) header.emplace_back(s);
  header.insert(header.end(), {"removed", "pending kept"});
  ReportTable t(header, {false, false, true, true, true, true, true, true});
  std::map<std::string, int64_t> total;
  int64_t kept = 0;
  for (const partitions::RejectPurge& p : purged) {
    std::vector<std::string> row = {p.partition,
                                    p.dropped ? (a.dry_run ? "would drop" : "dropped")
                                              : (a.dry_run ? "would delete rows" : "deleted rows")};
    for (const std::string_view s : reject_listing::kStates) {
      const auto it = p.removed.find(std::string(s));
      row.push_back(std::to_string(it == p.removed.end() ? 0 : it->second));
      total[std::string(s)] += it == p.removed.end() ? 0 : it->second;
    }
    row.push_back(std::to_string(p.total_removed()));
    row.push_back(std::to_string(p.pending_kept));
    kept += p.pending_kept;
    t.add(std::move(row));
  }
  int64_t removed = 0;
  for (const auto& [s, n] : total) removed += n;
  fmt::print("{}rejects purge: rejects stored before {} ({} days ago){}\n\n",
             a.dry_run ? "[dry run] " : "", cutoff, a.older_than_days,
             a.dry_run ? " (nothing changed)" : "");
  if (purged.empty()) {
    fmt::print("nothing to purge\n");
    return;
  }
  t.add_rule();
  std::vector<std::string> sum = {"total", ""};
  for (const std::string_view s : reject_listing::kStates) {
    sum.push_back(std::to_string(total[std::string(s)]));
  }
  sum.insert(sum.end(), {std::to_string(removed), std::to_string(kept)});
  t.add(std::move(sum));
  fmt::print("{}", t.render_text());
  const int64_t pending = total["pending"];
  fmt::print("{} {} rejects; {} of them pending (never replayed)\n",
             a.dry_run ? "would remove" : "removed", removed, pending);
  if (kept > 0) {
    fmt::print(
        "kept {} pending (never replayed) rejects older than the cutoff, and the partitions "
        "holding them: `rejects list --state pending` shows them, `rejects replay` replays them, "
        "--include-pending removes them\n",
        kept);
  }
}

int run_purge(const PurgeCli& a) {
  try {
    pqxx::connection conn = connect_control(a.pg_url);
    // Refused before anything is read or changed: the ingest role can neither drop nor delete.
    const partitions::PurgeRight right = partitions::purge_right(conn);
    if (!right.allowed) throw UsageError(refusal(right.user, right.owner));
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const int64_t cutoff = now - a.older_than_days * 86'400'000'000LL;
    const std::string cutoff_text = [&] {
      pqxx::nontransaction tx(conn);
      return tx
          .exec_params1(
              "SELECT pg_catalog.to_char(('epoch'::timestamptz + $1::bigint * "
              "'1 microsecond'::interval) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
              cutoff)[0]
          .as<std::string>();
    }();
    const auto purged = partitions::purge_rejects(conn, cutoff, !a.include_pending, a.dry_run);
    print_report(purged, a, cutoff_text);
    return 0;
  } catch (const pqxx::insufficient_privilege&) {
    // SQLSTATE 42501, whatever the server's lc_messages: a role that passed the check but was
    // refused all the same (a partition owned by someone else).
    throw UsageError(refusal("", ""));
  } catch (const pqxx::sql_error& e) {
    throw_pg_error(e);
  }
}

}  // namespace

std::function<int()> add_rejects_purge(CLI::App& rejects) {
  auto a = std::make_shared<PurgeCli>();
  CLI::App* cmd = rejects.add_subcommand(
      "purge",
      "Remove the rejects stored more than DAYS days ago, as the owner role: whole month "
      "partitions are dropped, the older rows of the month that straddles the cutoff deleted. "
      "Never-replayed (pending) rejects are kept unless --include-pending");
  cmd->add_option("--pg", a->pg_url,
                  "PostgreSQL connection string or URI, as the owner of ingest_rejects "
                  "(sentinel_owner or a member); the ingest role is refused");
  cmd->add_option("--older-than", a->older_than_days,
                  "DAYS (at least 1): remove the rejects stored before now minus DAYS days");
  cmd->add_flag("--include-pending", a->include_pending,
                "Remove the never-replayed rejects older than the cutoff too (they are kept by "
                "default, with the partitions holding them)");
  cmd->add_flag("--dry-run", a->dry_run,
                "Say per partition and replay state what would be removed; change nothing");
  cmd->add_option("--config", a->config, "YAML file of option: value");
  add_env_names(*cmd);
  return [cmd, a]() -> int {
    apply_config_file(*cmd, a->config);
    require_pg_url("rejects purge", a->pg_url);
    if (a->older_than_days == kNotGiven) {
      throw UsageError("rejects purge: missing --older-than DAYS");
    }
    if (a->older_than_days < 1 || a->older_than_days > 1'000'000) {
      throw UsageError(fmt::format(
          "rejects purge: --older-than {}: DAYS must be a whole number of days, at least 1",
          a->older_than_days));
    }
    return run_purge(*a);
  };
}

}  // namespace sentinel
