// `rejects replay` (architecture.md §10): the stored rejects, validated again with the current
// catalog and limits; the valid ones become their rows, exactly once.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "app/commands.h"
#include "app/config.h"
#include "app/event_type_options.h"
#include "app/rejects_command.h"
#include "app/report_format.h"
#include "ingest/scalars.h"
#include "pipeline/reject_replay.h"
#include "sinks/catalog_schema.h"
#include "sinks/migrator.h"

namespace sentinel {
namespace {

using Clock = std::chrono::steady_clock;

struct ReplayCli {
  std::string pg_url;
  std::string config;
  EventTypeOptions types;
  RejectFilterOptions filter;
  bool dry_run = false;
  std::string metrics_file;
  int page_rejects = 5000;
  size_t max_message_bytes = ParserLimits{}.max_message_bytes;
  std::string max_cost_usd = format_decimal_nanos(ParserLimits{}.max_cost_nanos);
};

/// Progress on stderr after each page: on a terminal one line rewritten in place, otherwise a
/// line every 10 seconds.
class Progress {
 public:
  explicit Progress(bool dry_run) : dry_run_(dry_run) {}
  void operator()(const ReplayReport& r, bool final = false) {
    const auto now = Clock::now();
    if (!tty_ && !final && now - last_ < std::chrono::seconds(10)) return;
    last_ = now;
    const ReplayCounts t = r.totals();
    const double secs = std::chrono::duration<double>(now - start_).count();
    const std::string line =
        fmt::format("{} {}/{} rejects ({} {} rows, {} still invalid), {:.0f} rejects/s, {:.1f} s",
                    dry_run_ ? "read" : "replayed", t.total(), r.pending_at_start,
                    dry_run_ ? "would become" : "became", t.rows, t.invalid,
                    secs > 0 ? static_cast<double>(t.total()) / secs : 0.0, secs);
    if (tty_) {
      fmt::print(stderr, "\r\033[K{}{}", line, final ? "\n" : "");
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }

 private:
  bool dry_run_;
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

void print_report(const ReplayReport& r, bool dry_run, double seconds) {
  ReportTable t({"reason", "rejects", dry_run ? "would be rows" : "rows", "still invalid",
                 "duplicate", "no payload", "unknown topic"},
                {false, true, true, true, true, true, true});
  const auto row = [&](const std::string& name, const ReplayCounts& c) {
    t.add({name, std::to_string(c.total()), std::to_string(c.rows), std::to_string(c.invalid),
           std::to_string(c.duplicate), std::to_string(c.no_payload),
           std::to_string(c.unknown_topic)});
  };
  for (const auto& [reason, counts] : r.by_reason) row(reason, counts);
  const ReplayCounts total = r.totals();
  row("total", total);
  fmt::print("{}rejects replay{}: {} rejects to replay matched\n\n", dry_run ? "[dry run] " : "",
             dry_run ? " (nothing changed)" : "", r.pending_at_start);
  fmt::print("{}", t.render_text());
  if (!r.rows_by_table.empty()) {
    fmt::print("\n{} by table:", dry_run ? "rows it would make" : "rows made");
    for (const auto& [table, n] : r.rows_by_table) fmt::print(" {} {}", table, n);
    fmt::print("\n");
  }
  if (!r.invalid_by_new_reason.empty()) {
    fmt::print("still invalid, by reason now:");
    for (const auto& [reason, n] : r.invalid_by_new_reason) fmt::print(" {} {}", reason, n);
    fmt::print("  (`rejects list --state invalid` shows each one's detail)\n");
  }
  for (const auto& [topic, n] : r.unknown_topics) {
    fmt::print(
        "{} rejects of topic {} left: no event type reads it (give --type-topic NAME={} or the "
        "--catalog that declares it)\n",
        n, topic, topic);
  }
  if (total.no_payload > 0) {
    fmt::print(
        "{} rejects have no payload (their message was no longer in Kafka): left as they "
        "are\n",
        total.no_payload);
  }
  if (r.stopped) fmt::print("stopped before the end: run it again to go on\n");
  fmt::print("{} rejects in {:.1f} s ({:.0f} rejects/s, {} pages{})\n", total.total(), seconds,
             seconds > 0 ? static_cast<double>(total.total()) / seconds : 0.0, r.pages,
             r.retried_pages > 0
                 ? fmt::format(", {} read again after a concurrent replay", r.retried_pages)
                 : "");
}

/// The run's figures in Prometheus text format, written to `path` at the end (through a
/// temporary file and a rename, so a scrape never sees half of it): for node-exporter's textfile
/// collector, since a replay is a job, not a server. Gauges of the last run.
void write_metrics_file(const std::string& path, const ReplayReport& r, double seconds) {
  std::string out =
      "# HELP sentinel_ingest_replay_last_rejects Rejects the last `rejects replay` decided, by "
      "stored reason and outcome.\n# TYPE sentinel_ingest_replay_last_rejects gauge\n";
  for (const auto& [reason, c] : r.by_reason) {
    for (const auto& [outcome, n] : {std::pair<const char*, uint64_t>{"row", c.rows},
                                     {"invalid", c.invalid},
                                     {"duplicate", c.duplicate},
                                     {"no_payload", c.no_payload},
                                     {"unknown_topic", c.unknown_topic}}) {
      out += fmt::format("sentinel_ingest_replay_last_rejects{{reason=\"{}\",outcome=\"{}\"}} {}\n",
                         reason, outcome, n);
    }
  }
  out +=
      "# HELP sentinel_ingest_replay_last_rows Rows the last `rejects replay` made, by table.\n"
      "# TYPE sentinel_ingest_replay_last_rows gauge\n";
  for (const auto& [table, n] : r.rows_by_table) {
    out += fmt::format("sentinel_ingest_replay_last_rows{{table=\"{}\"}} {}\n", table, n);
  }
  const auto now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  out += fmt::format(
      "# HELP sentinel_ingest_replay_last_seconds How long the last `rejects replay` took.\n"
      "# TYPE sentinel_ingest_replay_last_seconds gauge\n"
      "sentinel_ingest_replay_last_seconds {:.3f}\n"
      "# HELP sentinel_ingest_replay_last_end_time_seconds When it ended (Unix time).\n"
      "# TYPE sentinel_ingest_replay_last_end_time_seconds gauge\n"
      "sentinel_ingest_replay_last_end_time_seconds {:.3f}\n"
      "# HELP sentinel_ingest_replay_last_completed 1 when it went to the end, 0 when stopped.\n"
      "# TYPE sentinel_ingest_replay_last_completed gauge\n"
      "sentinel_ingest_replay_last_completed {}\n",
      seconds, now, r.stopped ? 0 : 1);
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr || std::fwrite(out.data(), 1, out.size(), f) != out.size() ||
      std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw UsageError("--metrics-file " + path + ": cannot write it (" + std::strerror(errno) + ")");
  }
}

int run_replay(ReplayCli& a) {
  ReplayOptions o;
  o.pg_url = a.pg_url;
  o.catalog = load_catalog_for(a.types.catalog_dir);
  o.topics = resolve_topics(*o.catalog, a.types);
  o.filter = a.filter.resolve();
  o.dry_run = a.dry_run;
  o.page_rejects = a.page_rejects;
  o.limits.max_message_bytes = a.max_message_bytes;
  o.limits.max_cost_nanos = parse_max_cost_usd(a.max_cost_usd);
  o.stop = &g_stop;
  const MigrationStatus status = check_migrations(a.pg_url);
  if (!status.up_to_date) {
    spdlog::error("{}", status.problem);
    return 2;
  }
  // The rows go to the tables the database has for this catalog (CatalogMismatchError: exit 2).
  verify_catalog(a.pg_url, *o.catalog);
  install_signal_handlers();
  Progress progress(a.dry_run);
  o.on_page = [&](const ReplayReport& r) { progress(r); };
  const auto start = Clock::now();
  const ReplayReport report = replay_rejects(o);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  progress(report, true);
  print_report(report, a.dry_run, seconds);
  if (!a.metrics_file.empty() && !a.dry_run) write_metrics_file(a.metrics_file, report, seconds);
  return 0;
}

}  // namespace

std::function<int()> add_rejects_replay(CLI::App& rejects) {
  auto a = std::make_shared<ReplayCli>();
  CLI::App* cmd = rejects.add_subcommand(
      "replay",
      "Validate the stored rejects again with the current catalog and limits: a valid one becomes "
      "its row (original partition and offset as lineage) and its rollup deltas, in the "
      "transaction that marks it replayed; an invalid one stays, with its new reason and detail. "
      "Exactly once: killed and run again, or run twice, it never makes a second row. Works "
      "through PgBouncer, as the ingest role");
  cmd->add_option("--pg", a->pg_url, "PostgreSQL connection string or URI (the ingest role works)");
  add_catalog_option(*cmd, a->types.catalog_dir);
  add_topic_options(*cmd, a->types, TopicHelp::kConsumed, false);
  cmd->add_option("--type-topic", a->types.topic_settings,
                  "NAME=TOPIC: the Kafka topic the event type NAME was read from, when not its "
                  "catalog topic (as `run --topic`; repeatable)");
  add_reject_filter_options(*cmd, a->filter);
  cmd->add_flag("--dry-run", a->dry_run,
                "Read and validate, change nothing: say per reason what would happen");
  cmd->add_option("--page-rejects", a->page_rejects,
                  "Rejects per transaction (and at most 16 MiB of their payloads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  cmd->add_option("--max-message-bytes", a->max_message_bytes,
                  "As `run --max-message-bytes`: larger payloads stay too_large")
      ->capture_default_str();
  cmd->add_option("--max-cost-usd", a->max_cost_usd, "As `run --max-cost-usd`")
      ->capture_default_str();
  cmd->add_option("--metrics-file", a->metrics_file,
                  "Write the run's figures there at the end, in Prometheus text format "
                  "(node-exporter's textfile collector): sentinel_ingest_replay_last_*");
  cmd->add_option("--config", a->config, "YAML file of option: value");
  add_env_names(*cmd);
  return [cmd, a]() -> int {
    apply_config_file(*cmd, a->config);
    if (a->pg_url.empty()) {
      throw UsageError(
          "rejects replay: missing --pg (or SENTINEL_PG_URL, or `pg:` in the "
          "--config file)");
    }
    return run_replay(*a);
  };
}

}  // namespace sentinel
