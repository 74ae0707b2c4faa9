#include "app/commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <thread>

#include "app/config.h"
#include "app/metrics_server.h"
#include "app/pg_health.h"
#include "app/reject_backlog.h"
#include "app/validate_command.h"
#include "catalog/catalog.h"
#include "rows/month.h"
#include "sinks/catalog_schema.h"
#include "sinks/connection_defaults.h"
#include "sinks/control_connection.h"
#include "sinks/migrator.h"
#include "sinks/partition_manager.h"
#include "sinks/pg_error.h"
#include "testkit/event_generator.h"
#include "testkit/mock_cluster.h"
#include "testkit/publisher.h"
#include "testkit/schema_generator.h"
#include "testkit/throwaway_postgres.h"

namespace sentinel {

std::atomic<bool> g_stop{false};

namespace {

using Clock = std::chrono::steady_clock;

void on_signal(int) { g_stop.store(true); }

/// A PostgreSQL failure of `run`'s startup or of `migrate` as a PgError, classified by SQLSTATE
/// (or, for a refused connection, by connect_control's diagnosis), never by the message's words.
/// Other exceptions (a connection lost mid-check) are transient.
PgError classified(const std::exception& e) {
  if (const auto* pg = dynamic_cast<const PgError*>(&e)) return *pg;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) return pg_error_of(*sql);
  return PgError(redact_secrets(one_line(e.what())), "");
}

/// Logs a configuration error with the fix it needs; true when `e` is one (exit code 2).
bool refused_for_configuration(const PgError& e) {
  if (!e.configuration()) return false;
  spdlog::error("cannot use PostgreSQL: {} ({})", e.what(), e.fix());
  return true;
}

void sleep_unless_stopped(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until && !g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Runs `startup` (what `run` does before the pipeline: the schema check and the partition
/// premake, through libpq and libpqxx calls that have no bound; a server hung behind PgBouncer
/// keeps them waiting for minutes) on a thread of its own, and waits for it or for
/// SIGTERM/SIGINT, whichever comes first. On a signal nothing is in flight yet (no batch, no
/// offset, and the checks only read or run DDL that PostgreSQL rolls back), so the process ends
/// here, exit code 0, with the thread still in its libpq call. Otherwise returns what `startup`
/// returned, or rethrows what it threw.
std::optional<int> startup_unless_stopped(std::function<std::optional<int>()> startup) {
  struct State {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    std::optional<int> result;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  std::thread worker([state, startup = std::move(startup)] {
    std::optional<int> result;
    std::exception_ptr error;
    try {
      result = startup();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lock(state->mutex);
    state->result = result;
    state->error = error;
    state->done = true;
    state->done_cv.notify_all();
  });
  {
    std::unique_lock lock(state->mutex);
    // The signal handler only sets g_stop: look at it every 50 ms.
    while (!state->done && !g_stop.load()) {
      state->done_cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (!state->done) {
      lock.unlock();
      worker.detach();
      spdlog::info("stopped during startup (nothing was in flight)");
      spdlog::default_logger()->flush();
      std::fflush(nullptr);
      std::_Exit(0);
    }
  }
  worker.join();
  if (state->error) std::rethrow_exception(state->error);
  return state->result;
}

/// What `run` does before the pipeline: waits for PostgreSQL, refuses a schema that is missing or
/// out of date and a configuration no retry fixes (the exit code), premakes the current and next
/// month. Waits without a bound on a hung server: the caller runs it in startup_unless_stopped.
std::optional<int> check_schema_and_premake(const PipelineOptions& p) {
  // The schema must be there and current; wait for PostgreSQL itself if it is not up yet.
  auto backoff = std::chrono::milliseconds(200);
  for (;;) {
    try {
      const MigrationStatus status = check_migrations(p.pg_url);
      if (!status.up_to_date) {
        spdlog::error("{}", status.problem);
        return {2};
      }
      // The tables must match the event catalog run ingests (CatalogMismatchError otherwise).
      verify_catalog(p.pg_url, *p.catalog);
      break;
    } catch (const MigrationError& e) {
      spdlog::error("{}", one_line(e.what()));
      return {2};
    } catch (const ConnectionStringError&) {
      throw;
    } catch (const std::exception& e) {
      const PgError error = classified(e);
      if (refused_for_configuration(error)) return {2};
      if (g_stop.load()) return {0};
      spdlog::warn("PostgreSQL not reachable yet: {}; retrying in {} ms", error.what(),
                   backoff.count());
      sleep_unless_stopped(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(p.max_backoff));
    }
  }

  // Current and next month ready before the first batch; later ones are made on demand.
  try {
    partitions::premake(p.pg_url, *p.catalog, current_month(std::chrono::system_clock::now()), 2);
  } catch (const std::exception& e) {
    spdlog::warn("premaking month partitions: {} (they will be created on demand)",
                 redact_secrets(one_line(e.what())));
  }
  return std::nullopt;
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int cmd_run(RunArgs args) {
  PipelineOptions& p = args.pipeline;
  resolve_types(p);
  spdlog::info("sentinel-ingest starting: PostgreSQL {}, Kafka {}",
               redact_secrets(p.pg_url, p.pg_url), p.brokers);
  for (size_t i = 0; i < p.catalog->size(); ++i) {
    const EventType& t = (*p.catalog)[i];
    spdlog::info("event type {}: topic {} → table {} ({})", t.name, p.topics[i], t.table, t.source);
  }

  // Settings first, before anything waits on the network: librdkafka judges the Kafka
  // configuration, the metrics address is bound (exit 2 with the fix either way). Then /healthz
  // and /metrics answer while the schema check below waits for PostgreSQL.
  for (const auto& [key, value] : check_kafka_settings(p)) {
    spdlog::info("Kafka property {}={}", key, value);
  }
  Metrics metrics;
  std::unique_ptr<MetricsServer> server;
  if (!args.metrics_listen.empty())
    server = std::make_unique<MetricsServer>(args.metrics_listen, metrics);
  // Keeps pg_up (/readyz, /metrics, the status line) current from now on: while the schema
  // check waits for PostgreSQL, between batches and while idle.
  PgHealthCheck health(p.pg_url, metrics);

  // Everything before the pipeline may wait on a hung PostgreSQL without a bound: SIGTERM ends
  // it at once (startup_unless_stopped).
  const std::optional<int> early =
      startup_unless_stopped([&p] { return check_schema_and_premake(p); });
  if (early) return *early;
  if (g_stop.load()) {
    spdlog::info("stopped during startup (nothing was in flight)");
    return 0;
  }

  // sentinel_ingest_rejects_pending, once the schema is there.
  RejectBacklog reject_backlog(p.pg_url, metrics);
  Pipeline pipeline(p, metrics);
  const int code = pipeline.run(g_stop);
  if (code == 0) spdlog::info("stopped cleanly");
  if (pipeline.abandoned_writers()) {
    // A writer thread is stuck in libpq and still uses the pipeline: end here, not in its
    // destructor. The kernel closes its socket; PostgreSQL rolls its transaction back.
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

namespace {

/// What migrate changed for the event catalog, one line each.
void print_catalog_changes(const CatalogPlan& plan) {
  for (const CatalogChange& c : plan.changes) fmt::print("catalog: {}: {}\n", c.type, c.what);
  for (const CatalogRecord& r : plan.records) {
    fmt::print("catalog: {}: recorded ({})\n", r.type, r.why);
  }
  for (const std::string& n : plan.notes) fmt::print("catalog: kept: {}\n", n);
}

}  // namespace

int cmd_migrate(const std::string& pg_url, const std::string& catalog_dir) {
  const std::shared_ptr<const Catalog> catalog = load_catalog(catalog_dir);  // CatalogError: 2
  std::vector<int> applied;
  CatalogPlan plan;
  try {
    applied = apply_migrations(pg_url, *catalog, &plan);
  } catch (const CatalogRefusedError& e) {
    fmt::print(stderr, "{}", e.what());  // the plan, with the SQL a DBA would run
    return 2;
  } catch (const MigrationError&) {
    throw;
  } catch (const ConnectionStringError&) {
    throw;
  } catch (const std::exception& e) {
    // A wrong password, CA or database is a configuration error (exit 2), like for `run`.
    if (!refused_for_configuration(classified(e))) throw;
    return 2;
  }
  if (applied.empty() && plan.nothing_to_do()) {
    fmt::print("schema is up to date; nothing to apply\n");
  } else if (!applied.empty()) {
    fmt::print("applied {} migration(s): {}\n", applied.size(), fmt::join(applied, ", "));
  }
  print_catalog_changes(plan);
  return 0;
}

namespace {

/// `pattern` once per event table of `catalog` ({0}: the table), joined by `separator`.
std::string each_event_table(const Catalog& catalog, std::string_view pattern,
                             std::string_view separator) {
  std::string out;
  for (const EventType& t : catalog.types()) {
    if (!out.empty()) out += separator;
    out += fmt::format(fmt::runtime(pattern), t.table);
  }
  return out;
}

/// Sleeps so that `sent` events take `sent / rate` seconds since `start`.
void pace(double rate, uint64_t sent, Clock::time_point start) {
  if (rate <= 0) return;
  const auto due = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(sent) / rate));
  if (due > Clock::now()) std::this_thread::sleep_until(due);
}

/// Progress of `publish` on stderr, called about once a second and once at the end: on a
/// terminal one line rewritten in place (total, rate, percentage, ETA); otherwise (a log file, a
/// container) a plain line every 10 seconds, so logs are not flooded.
void progress(uint64_t sent, uint64_t total, Clock::time_point start, bool final) {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  static auto last_line = start;
  const auto now = Clock::now();
  if (!tty && !final && now - last_line < std::chrono::seconds(10)) return;
  last_line = now;
  const double secs = std::chrono::duration<double>(now - start).count();
  const double rate = secs > 0 ? static_cast<double>(sent) / secs : 0;
  std::string line = fmt::format("published {}", sent);
  if (total > 0) {
    line += fmt::format("/{} ({:.1f}%)", total,
                        100.0 * static_cast<double>(sent) / static_cast<double>(total));
  }
  line += fmt::format(", {:.0f} events/s, {:.1f} s elapsed", rate, secs);
  if (total > 0 && !final && rate > 0) {
    const auto eta = static_cast<int64_t>(static_cast<double>(total - sent) / rate);
    line += fmt::format(", ETA {}:{:02}", eta / 60, eta % 60);
  }
  if (tty) {
    fmt::print(stderr, "\r\033[K{}{}", line, final ? "\n" : "");
  } else {
    spdlog::info("{}", line);  // a log record, in --log-format
  }
  std::fflush(stderr);
}

}  // namespace

int cmd_publish(const PublishArgs& args) {
  Publisher publisher(args.brokers, args.kafka_properties);
  const auto start = Clock::now();
  auto last_progress = start;
  uint64_t sent = 0;
  const uint64_t total = args.from_file.empty() ? args.count : 0;
  auto produce = [&](const std::string& topic, std::string_view key, std::string_view payload) {
    publisher.produce(topic, key, payload);
    pace(args.rate, ++sent, start);
    if (Clock::now() - last_progress > std::chrono::seconds(1)) {
      progress(sent, total, start, false);
      last_progress = Clock::now();
    }
  };
  if (!args.from_file.empty()) {
    std::ifstream in(args.from_file);
    if (!in) throw UsageError("--from " + args.from_file + ": cannot be read");
    std::string line;
    while (std::getline(in, line) && !g_stop.load()) {
      if (!line.empty()) produce(args.topic, {}, line);
    }
  } else if (!args.types.empty()) {
    SchemaGeneratorOptions g;
    g.seed = args.seed;
    g.tenants = args.tenants;
    g.invalid_ratio = args.invalid_ratio;
    g.days_back = args.days_back;
    SchemaGenerator gen(args.catalog, args.types, g);
    while (sent < args.count && !g_stop.load()) {
      const SchemaEvent e = gen.next();
      produce(args.topic.empty() ? e.topic : args.topic, e.key, e.payload);
    }
  } else {
    GeneratorOptions g;
    g.seed = args.seed;
    g.tenants = args.tenants;
    g.invalid_ratio = args.invalid_ratio;
    g.days_back = args.days_back;
    EventGenerator gen(g);
    const std::vector<std::string> topics =
        args.topics.empty() ? own_topics(*load_catalog()) : args.topics;
    while (sent < args.count && !g_stop.load()) {
      const GeneratedEvent e = gen.next();
      produce(topics[static_cast<size_t>(e.topic_index)], e.key, e.payload);
    }
  }
  publisher.flush();
  progress(sent, total, start, true);
  return 0;
}

int cmd_kafka_mock(int partitions, int brokers, const std::vector<std::string>& topics) {
  MockCluster mock(brokers, topics, partitions);
  std::printf("%s\n", mock.bootstraps().c_str());
  std::fflush(stdout);
  spdlog::info("mock Kafka with {} broker(s), topics {} ({} partitions each); SIGTERM stops it",
               brokers, fmt::join(topics, ", "), partitions);
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

// The demo is one script read top to bottom, its numbered steps in the order it prints them;
// split into functions, that order would be spread over the file.
// NOLINTNEXTLINE(readability-function-size): one script, see above
int cmd_demo(const DemoArgs& args) {
  fmt::print("sentinel-ingest demo: embedded mock Kafka + throwaway PostgreSQL 15\n\n");
  fmt::print("1. starting PostgreSQL in a temporary folder ...\n");
  ThrowawayPostgres pg;
  fmt::print("2. applying migrations ...\n");
  const auto applied = apply_migrations(pg.url());
  fmt::print("   applied {}\n", fmt::join(applied, ", "));

  // The built-in types: the demo's generator makes their events.
  const std::shared_ptr<const Catalog> catalog = load_catalog();
  const std::vector<std::string> topics = own_topics(*catalog);
  MockCluster mock(1, topics, 8);
  // The ingestor starts first and the events are published while it consumes, as in
  // production: the mock keeps only a few MB per partition, so a large backlog would be trimmed.
  fmt::print("3. mock Kafka at {}; starting the ingestor ({} writers) ...\n", mock.bootstraps(),
             args.writers);
  PipelineOptions p;
  p.pg_url = pg.url();
  p.brokers = mock.bootstraps();
  p.writers = args.writers;
  p.catalog = catalog;
  p.topics = topics;
  p.status_interval = std::chrono::seconds(3600);
  Metrics metrics;
  std::atomic<bool> stop{false};
  std::atomic<int> code{0};
  spdlog::set_level(spdlog::level::warn);
  Pipeline pipeline(p, metrics);
  std::thread runner([&] { code = pipeline.run(stop); });
  auto stop_pipeline = [&] {
    stop = true;
    runner.join();
    spdlog::set_level(spdlog::level::info);
  };
  while (metrics.assigned_partitions.load() < static_cast<int>(8 * topics.size()) && code == 0 &&
         !g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  fmt::print("4. publishing {} events ({:.0f}% malformed) and ingesting them ...\n", args.events,
             args.invalid_ratio * 100);
  const auto started = Clock::now();
  auto stored_now = [&] {
    uint64_t n = 0;
    for (auto& r : metrics.rows_written) n += r;
    for (auto& r : metrics.rejects) n += r;
    return n;
  };
  {
    Publisher publisher(mock.bootstraps(), {});
    GeneratorOptions g;
    g.invalid_ratio = args.invalid_ratio;
    g.tenants = 40;
    EventGenerator gen(g);
    for (uint64_t i = 0; i < args.events && !g_stop.load(); ++i) {
      const GeneratedEvent e = gen.next();
      publisher.produce(topics[e.topic_index], e.key, e.payload);
      // Keep the backlog small (see above): the ingestor is faster than this anyway.
      while (i % 1000 == 0 && i > stored_now() + 100'000 && code == 0 && !g_stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    publisher.flush();
  }
  // Wait for the last of them; give up after 30 s without progress.
  uint64_t stored = stored_now(), last = stored;
  auto last_progress = Clock::now();
  while (!g_stop.load() && code == 0 && stored < args.events &&
         Clock::now() - last_progress < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stored = stored_now();
    if (stored != last) last_progress = Clock::now();
    last = stored;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  stop_pipeline();
  if (code != 0) {
    fmt::print("ingest failed: {}\n", pipeline.fatal_message());
    return code;
  }
  fmt::print(
      "   {} messages stored in {:.2f} s ({:.0f} events/s, publishing included; p99 batch "
      "commit {:.0f} ms)\n",
      stored, seconds, static_cast<double>(stored) / seconds,
      metrics.batch_commit_seconds.quantile(0.99) * 1000);
  if (stored < args.events) {
    fmt::print("   {} messages never arrived (Kafka skipped {} offsets)\n", args.events - stored,
               metrics.offsets_skipped_by_kafka.load());
  }
  fmt::print("\n");

  pqxx::connection conn = connect_control(pg.url());
  auto print_query = [&](const char* title, const std::string& sql,
                         std::vector<std::string> headers) {
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec(sql);
    fmt::print("{}\n", title);
    std::vector<size_t> widths;
    widths.reserve(headers.size());
    for (const auto& h : headers) widths.push_back(h.size());
    for (const pqxx::row& row : r) {
      for (size_t c = 0; c < headers.size(); ++c) {
        widths[c] = std::max(widths[c], std::strlen(row[static_cast<int>(c)].c_str()));
      }
    }
    std::string line = "  ";
    for (size_t c = 0; c < headers.size(); ++c)
      line += fmt::format("{:<{}}  ", headers[c], widths[c]);
    fmt::print("{}\n", line);
    for (const pqxx::row& row : r) {
      line = "  ";
      for (size_t c = 0; c < headers.size(); ++c) {
        const char* v = row[static_cast<int>(c)].c_str();
        const bool numeric = *v != '\0' && std::strspn(v, "0123456789.-") == std::strlen(v);
        line +=
            numeric ? fmt::format("{:>{}}  ", v, widths[c]) : fmt::format("{:<{}}  ", v, widths[c]);
      }
      fmt::print("{}\n", line);
    }
    fmt::print("\n");
  };
  print_query(
      "Rows per table and month partition:",
      each_event_table(*catalog, "SELECT tableoid::regclass::text, count(*) FROM {0} GROUP BY 1",
                       " UNION ALL ") +
          " ORDER BY 1",
      {"partition", "rows"});
  print_query(
      "Rejects per reason (each one kept with its payload in ingest_rejects):",
      "SELECT reason, count(*), min(detail) FROM ingest_rejects GROUP BY 1 ORDER BY 2 DESC, 1",
      {"reason", "count", "example detail"});
  print_query("Top tenants by spend this month (costs, period = 'month'):",
              "SELECT tenant_id, to_char(cost_usd, 'FM999999990.000000000'), invocations, "
              "prompt_tokens + completion_tokens FROM costs WHERE period = 'month' AND "
              "period_start = date_trunc('month', now() AT TIME ZONE 'UTC')::date "
              "ORDER BY cost_usd DESC LIMIT 8",
              {"tenant", "cost_usd", "invocations", "tokens"});
  print_query(
      "Exactly once:",
      "SELECT " + each_event_table(*catalog, "(SELECT count(*) FROM {0})", " + ") +
          " + (SELECT count(*) FROM ingest_rejects), " +
          // One topic per table: its Kafka coordinates identify a message.
          each_event_table(*catalog,
                           "(SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM {0})",
                           " + ") +
          " + (SELECT count(DISTINCT (topic, kafka_partition, kafka_offset)) FROM ingest_rejects), "
          "(SELECT sum(next_offset) FROM ingest_offsets)",
      {"rows + rejects", "distinct", "stored next offsets (sum)"});
  fmt::print("Done. The throwaway PostgreSQL and the mock Kafka are removed on exit.\n");
  return 0;
}

}  // namespace sentinel
