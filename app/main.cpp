// sentinel-ingest: Kafka → PostgreSQL, exactly once. The command line: docs/architecture.md §6.
// Each sub-command is defined by its own add_*_command, which returns what to run once that
// sub-command was parsed (as app/<name>_command.cpp do); main parses, runs it and maps what it
// throws to the exit code.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "app/allocator.h"
#include "app/bash_completion.h"
#include "app/build_info.h"
#include "app/catalog_command.h"
#include "app/commands.h"
#include "app/config.h"
#include "app/costs_command.h"
#include "app/crash_report.h"
#include "app/event_type_options.h"
#include "app/healthcheck_command.h"
#include "app/logging.h"
#include "app/partitions_command.h"
#include "app/rejects_command.h"
#include "app/rollup_command.h"
#include "app/validate_command.h"
#include "catalog/catalog.h"
#include "ingest/kafka_handle.h"
#include "ingest/scalars.h"
#include "sinks/connection_defaults.h"
#include "sinks/migrator.h"
#include "sinks/pg_connection.h"

namespace {

using sentinel::UsageError;

/// What to run once its sub-command was parsed; returns the exit code.
using Runner = std::function<int()>;
void require(const std::string& value, const std::string& flag) {
  if (value.empty()) {
    throw UsageError("missing " + flag + " (or " + sentinel::env_name_for(flag.substr(2)) +
                     ", or `" + flag.substr(2) + ":` in the --config file)");
  }
}

std::vector<std::pair<std::string, std::string>> parse_kafka_props(
    const std::vector<std::string>& props) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(props.size());
  for (const auto& kv : props) out.push_back(sentinel::parse_kafka_prop(kv));
  return out;
}

struct LogOptions {
  std::string format = "text";
  std::string level = "info";
};

/// The flags every sub-command accepts, before or after its name (`run --log-level debug`):
/// sub-commands hand the flags they do not know to their parent (CLI11's fallthrough).
void add_global_options(CLI::App& app, LogOptions& log) {
  app.require_subcommand(1);
  app.fallthrough();  // inherited by the sub-commands added after this
  app.set_version_flag(
      "--version", [] { return sentinel::version_text(); },
      "Print the version, git commit and library versions, then exit");
  app.add_option("--log-format", log.format, "Log lines as text or json (one line per record)")
      ->envname("SENTINEL_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  const std::vector<std::string>& levels = sentinel::log_level_names();
  app.add_option("--log-level", log.level, fmt::format("{}", fmt::join(levels, ", ")))
      ->envname("SENTINEL_LOG_LEVEL")
      ->check(CLI::IsMember(levels));
  // Hidden: the build writes the installed completion script with it (app/CMakeLists.txt).
  app.add_flag_callback("--bash-completion",
                        [&app] {
                          std::cout << sentinel::bash_completion(app);
                          throw CLI::Success();
                        })
      ->group("");
}

/// `run`'s flags; the sizes and durations in the flags' units, converted once parsed.
struct RunCli {
  sentinel::RunArgs run;
  sentinel::EventTypeOptions types;
  std::string config;
  std::vector<std::string> props;
  int latency_budget_ms = static_cast<int>(run.pipeline.latency_budget.count());
  int linger_ms = -1;  ///< not given: the latency budget decides
  size_t inflight_mb = run.pipeline.inflight_budget_bytes >> 20;
  size_t chunk_kb = run.pipeline.chunk_bytes >> 10;
  size_t batch_mb = run.pipeline.batch_bytes >> 20;
  int status_s = static_cast<int>(run.pipeline.status_interval.count());
  std::string max_cost_usd = sentinel::format_decimal_nanos(run.pipeline.limits.max_cost_nanos);
};

/// --pg, --brokers, the group, the catalog and topics, --writers, --config, --metrics-listen,
/// --kafka-prop.
void add_run_connection_options(CLI::App& cmd, RunCli& a) {
  auto& p = a.run.pipeline;
  cmd.add_option("--pg", p.pg_url, "PostgreSQL connection string or URI (TLS via sslmode=...)");
  cmd.add_option("--brokers", p.brokers, "Kafka bootstrap servers, host:port[,host:port...]");
  cmd.add_option("--group", p.group, "Kafka consumer group; also the key of stored offsets")
      ->capture_default_str();
  sentinel::add_catalog_option(cmd, a.types.catalog_dir);
  sentinel::add_topic_options(cmd, a.types, sentinel::TopicHelp::kConsumed);
  cmd.add_option("--writers", p.writers, "Writer threads, one PostgreSQL connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd.add_option("--config", a.config, "YAML file of option: value");
  cmd.add_option("--metrics-listen", a.run.metrics_listen,
                 "Serve /metrics, /healthz, /readyz on HOST:PORT");
  cmd.add_option("--kafka-prop", a.props,
                 "Extra librdkafka property KEY=VALUE (repeatable); also SENTINEL_KAFKA_PROP=\"K=V "
                 "K=V\" and SENTINEL_KAFKA_PROP_<NAME>=V (NAME: '.' as '_')");
}

/// Batches, memory, offsets, limits and the status interval.
void add_run_tuning_options(CLI::App& cmd, RunCli& a) {
  auto& p = a.run.pipeline;
  cmd.add_option("--batch-rows", p.batch_rows, "Close a batch at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd.add_option("--batch-mb", a.batch_mb, "Close a batch at this many MiB of COPY data")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--latency-budget-ms", a.latency_budget_ms,
                 "End-to-end latency rows may take below full load: a batch smaller than its "
                 "limits waits for more rows until its oldest has waited half of this, less the "
                 "recent commit time (fewer, larger transactions; 0: never wait)")
      ->capture_default_str()
      ->check(CLI::Range(0, 60'000));
  cmd.add_option("--linger-ms", a.linger_ms,
                 "A fixed wait for more rows before committing a small batch, instead of the "
                 "latency budget's (0: commit as soon as the previous transaction is done)")
      ->check(CLI::Range(0, 60'000));
  cmd.add_option("--chunk-kb", a.chunk_kb, "Size of the chunks handed to writers")
      ->capture_default_str()
      ->check(CLI::Range(4, 65536));
  cmd.add_option("--inflight-mb", a.inflight_mb,
                 "Memory budget for rows not yet committed; over it, the consumer slows down, "
                 "then pauses partitions")
      ->capture_default_str()
      ->check(CLI::Range(8, 65536));
  cmd.add_option("--offset-reset", p.offset_reset, "Where a partition with no stored offset starts")
      ->capture_default_str()
      ->check(CLI::IsMember({"earliest", "latest"}));
  cmd.add_option("--max-message-bytes", p.limits.max_message_bytes,
                 "Largest message accepted; larger ones become too_large rejects")
      ->capture_default_str();
  cmd.add_option("--max-cost-usd", a.max_cost_usd,
                 "Largest cost_usd of one invocation; larger ones become invalid_value rejects "
                 "(keeps a tenant's monthly costs row far from its numeric(20,9) limit)")
      ->capture_default_str();
  cmd.add_option("--status-interval", a.status_s, "Seconds between status log lines")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
}

/// `run`'s settings from its flags, environment and config file, checked and converted.
sentinel::RunArgs run_args_of(CLI::App& cmd, RunCli& a) {
  auto& p = a.run.pipeline;
  sentinel::apply_config_file(cmd, a.config);
  require(p.pg_url, "--pg");
  sentinel::with_connection_defaults(p.pg_url);  // a string that can never connect: exit 2
  require(p.brokers, "--brokers");
  p.catalog = sentinel::load_catalog_for(a.types.catalog_dir);
  p.topics = sentinel::resolve_topics(*p.catalog, a.types);
  const auto props = parse_kafka_props(a.props);
  p.kafka_properties.insert(p.kafka_properties.end(), props.begin(), props.end());
  p.latency_budget = std::chrono::milliseconds(a.latency_budget_ms);
  if (a.linger_ms >= 0) p.linger = std::chrono::milliseconds(a.linger_ms);
  p.inflight_budget_bytes = a.inflight_mb << 20;
  p.chunk_bytes = a.chunk_kb << 10;
  p.batch_bytes = a.batch_mb << 20;
  p.status_interval = std::chrono::seconds(a.status_s);
  p.limits.max_cost_nanos = sentinel::parse_max_cost_usd(a.max_cost_usd);
  return std::move(a.run);
}

Runner add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunCli>();
  CLI::App* cmd =
      app.add_subcommand("run",
                         "Consume the topic of every event type of the catalog and write to "
                         "PostgreSQL until SIGTERM/SIGINT");
  add_run_connection_options(*cmd, *a);
  add_run_tuning_options(*cmd, *a);
  sentinel::add_env_names(*cmd);
  return [cmd, a] { return sentinel::cmd_run(run_args_of(*cmd, *a)); };
}

/// `validate`: `run`'s flags and config, checked without ingesting (app/validate_command.h).
Runner add_validate_command(CLI::App& app) {
  auto a = std::make_shared<RunCli>();
  auto timeout_s = std::make_shared<int>(5);
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check run's settings, PostgreSQL (reachable, schema, privileges), Kafka (brokers, topics) "
      "and the metrics address; one line per check; exit 0 when all pass, 2 otherwise");
  add_run_connection_options(*cmd, *a);
  add_run_tuning_options(*cmd, *a);
  cmd->add_option("--check-timeout", *timeout_s, "Seconds each network check may wait")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  sentinel::add_env_names(*cmd);
  return [cmd, a, timeout_s] {
    return sentinel::cmd_validate(run_args_of(*cmd, *a), std::chrono::seconds(*timeout_s));
  };
}

Runner add_migrate_command(CLI::App& app) {
  struct MigrateCli {
    std::string pg, catalog, config;
  };
  auto a = std::make_shared<MigrateCli>();
  CLI::App* cmd = app.add_subcommand(
      "migrate", "Create or update the schema (idempotent; safe to run concurrently)");
  cmd->add_option("--pg", a->pg, "PostgreSQL connection string or URI");
  cmd->add_option("--catalog", a->catalog,
                  "Folder of event type files (NAME.schema.json) added to the built-in types: "
                  "their tables are created or extended; a change migrate cannot make is "
                  "refused (exit 2) with the SQL a DBA would run");
  cmd->add_option("--config", a->config, "YAML file of option: value");
  sentinel::add_env_names(*cmd);
  return [cmd, a] {
    sentinel::apply_config_file(*cmd, a->config);
    require(a->pg, "--pg");
    sentinel::with_connection_defaults(a->pg);  // a string that can never connect: exit 2
    return sentinel::cmd_migrate(a->pg, a->catalog);
  };
}

struct PublishCli {
  sentinel::PublishArgs pub;
  sentinel::EventTypeOptions topic_options;  ///< the topic aliases of the built-in mix
  std::string config;
  std::vector<std::string> props;
  std::vector<std::string> types;  ///< --type, by name
  std::string catalog;             ///< --catalog DIR
};

/// The catalog of `publish --catalog DIR` (the built-in types without it); a problem is a usage
/// error that lists every problem of every file.
std::shared_ptr<const sentinel::Catalog> publish_catalog(const std::string& dir) {
  try {
    return sentinel::load_catalog(dir);
  } catch (const sentinel::CatalogError& e) {
    throw UsageError(fmt::format("the event catalog has problems:\n{}", e.what()));
  } catch (const std::runtime_error& e) {
    throw UsageError(fmt::format("--catalog {}: {}", dir, e.what()));
  }
}

/// --type NAME... as the catalog's type indices (each once, in the order given).
std::vector<int> publish_types(const sentinel::Catalog& catalog,
                               const std::vector<std::string>& names) {
  std::vector<int> types;
  for (const std::string& name : names) {
    const int index = catalog.index_of(name);
    if (index < 0) {
      std::vector<std::string> known;
      for (const sentinel::EventType& t : catalog.types()) known.push_back(t.name);
      throw UsageError(fmt::format(
          "--type {}: no such event type (known: {}; a type of your own needs --catalog DIR "
          "with its NAME.schema.json)",
          name, fmt::join(known, ", ")));
    }
    if (std::find(types.begin(), types.end(), index) == types.end()) types.push_back(index);
  }
  return types;
}

/// What to publish: how many events, how fast, of which tenants, how malformed, when.
void add_publish_generator_options(CLI::App& cmd, sentinel::PublishArgs& pub) {
  cmd.add_option("--count", pub.count, "Events to produce")->capture_default_str();
  cmd.add_option("--rate", pub.rate, "Events per second (0: as fast as possible)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--tenants", pub.tenants, "Distinct tenants (Zipf-skewed popularity)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd.add_option("--invalid-ratio", pub.invalid_ratio,
                 "Share of malformed events, of every reject kind")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--seed", pub.seed, "Random seed (same seed, same events)")->capture_default_str();
  cmd.add_option("--days-back", pub.days_back, "Spread timestamps over this many past days")
      ->capture_default_str()
      ->check(CLI::Range(1, 399));
}

int run_publish(CLI::App& cmd, PublishCli& a) {
  sentinel::apply_config_file(cmd, a.config);
  require(a.pub.brokers, "--brokers");
  if (!a.types.empty()) {
    if (!a.pub.from_file.empty()) throw UsageError("--type and --from exclude each other");
    a.pub.catalog = publish_catalog(a.catalog);
    a.pub.types = publish_types(*a.pub.catalog, a.types);
    if (!a.pub.topic.empty() && a.pub.types.size() > 1) {
      throw UsageError(
          "--topic goes with one --type (without it, each type goes to its own topic)");
    }
  } else {
    if (!a.pub.from_file.empty() && a.pub.topic.empty()) throw UsageError("--from needs --topic");
    if (a.pub.from_file.empty() && !a.pub.topic.empty()) {
      throw UsageError("--topic goes with --from or --type");
    }
  }
  a.pub.topics = sentinel::resolve_topics(*sentinel::load_catalog_for({}), a.topic_options);
  const auto props = parse_kafka_props(a.props);
  a.pub.kafka_properties.insert(a.pub.kafka_properties.end(), props.begin(), props.end());
  return sentinel::cmd_publish(a.pub);
}

Runner add_publish_command(CLI::App& app) {
  auto a = std::make_shared<PublishCli>();
  auto& pub = a->pub;
  CLI::App* cmd = app.add_subcommand(
      "publish", "Produce realistic sample events (or replay a JSONL file) to Kafka");
  cmd->add_option("--brokers", pub.brokers, "Kafka bootstrap servers");
  add_publish_generator_options(*cmd, pub);
  cmd->add_option("--from", pub.from_file,
                  "Replay this JSONL file (one message per line) instead of generating");
  cmd->add_option("--type", a->types,
                  "Generate events of this catalog type instead of the audit + invocation mix "
                  "(repeatable or comma-separated; each to its type's topic)")
      ->delimiter(',');
  cmd->add_option("--catalog", a->catalog,
                  "Folder of event type files (NAME.schema.json or .yaml) added to the built-in "
                  "types, for --type");
  cmd->add_option("--topic", pub.topic, "Topic for --from, or for a single --type");
  sentinel::add_topic_options(*cmd, a->topic_options, sentinel::TopicHelp::kPublished, false);
  cmd->add_option("--kafka-prop", a->props,
                  "Extra librdkafka producer property KEY=VALUE (repeatable)");
  cmd->add_option("--config", a->config, "YAML file of option: value");
  sentinel::add_env_names(*cmd);
  return [cmd, a] { return run_publish(*cmd, *a); };
}

Runner add_kafka_mock_command(CLI::App& app) {
  struct MockCli {
    int partitions = 8, brokers = 3;
    sentinel::EventTypeOptions types;
  };
  auto a = std::make_shared<MockCli>();
  CLI::App* cmd = app.add_subcommand("kafka-mock",
                                     "Serve an in-process mock Kafka cluster; prints its "
                                     "bootstrap list first, serves until SIGTERM");
  cmd->add_option("--partitions", a->partitions,
                  "Partitions per topic (the mock keeps a few MB each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--broker-count", a->brokers, "Mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  sentinel::add_catalog_option(*cmd, a->types.catalog_dir);
  sentinel::add_topic_options(*cmd, a->types, sentinel::TopicHelp::kCreated);
  return [a] {
    const auto catalog = sentinel::load_catalog_for(a->types.catalog_dir);
    return sentinel::cmd_kafka_mock(a->partitions, a->brokers,
                                    sentinel::resolve_topics(*catalog, a->types));
  };
}

Runner add_demo_command(CLI::App& app) {
  auto demo = std::make_shared<sentinel::DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Everything embedded: mock Kafka, a throwaway PostgreSQL, sample events, a summary");
  cmd->add_option("--events", demo->events, "Events to publish and ingest")
      ->capture_default_str()
      ->check(CLI::Range(1, 5'000'000));
  cmd->add_option("--invalid-ratio", demo->invalid_ratio, "Share of malformed events")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--writers", demo->writers, "Writer threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  return [demo] { return sentinel::cmd_demo(*demo); };
}

/// Every sub-command, in the order --help lists them, by name.
std::map<std::string, Runner> add_commands(CLI::App& app) {
  std::map<std::string, Runner> runners;
  runners["run"] = add_run_command(app);
  runners["validate"] = add_validate_command(app);
  runners["migrate"] = add_migrate_command(app);
  runners["publish"] = add_publish_command(app);
  runners["kafka-mock"] = add_kafka_mock_command(app);
  runners["demo"] = add_demo_command(app);
  // app/<name>_command.cpp
  runners["partitions"] = sentinel::add_partitions_command(app);
  runners["costs"] = sentinel::add_costs_command(app);
  runners["rollup"] = sentinel::add_rollup_command(app);
  runners["healthcheck"] = sentinel::add_healthcheck_command(app);
  runners["catalog"] = sentinel::add_catalog_command(app);
  runners["rejects"] = sentinel::add_rejects_command(app);
  return runners;
}

/// Runs `body` and maps what it throws to the exit code: 2 for usage and configuration errors
/// (the user must change something), 1 for runtime failures.
int exit_code_of(const Runner& body, const LogOptions& log) {
  // A usage error reads "sentinel-ingest: what" in text, a log record in JSON (stderr stays JSON).
  const auto usage = [&log](const std::string& message) {
    if (log.format == "json") {
      spdlog::error("{}", message);
    } else {
      std::cerr << "sentinel-ingest: " << message << "\n";
    }
  };
  try {
    return body();
  } catch (const UsageError& e) {
    usage(e.what());
    return 2;
  } catch (const sentinel::CatalogError& e) {
    // Every problem of every file, one per line: file: pointer: what (fix: how).
    for (const sentinel::CatalogProblem& p : e.problems()) usage("catalog: " + p.to_string());
    return 2;
  } catch (const sentinel::ConnectionStringError& e) {
    spdlog::error("{}", sentinel::redact_url(e.what()));  // libpq may quote the whole URI
    return 2;
  } catch (const sentinel::KafkaError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const sentinel::MigrationError& e) {
    spdlog::error("{}", sentinel::one_line(e.what()));  // may quote a multi-line server error
    return 2;
  } catch (const sentinel::PgError& e) {
    spdlog::error("{}", e.what());
    return e.configuration() ? 2 : 1;
  } catch (const std::exception& e) {
    // libpqxx errors may quote the URL and carry libpq's line breaks.
    spdlog::error("{}", sentinel::redact_url(sentinel::one_line(e.what())));
    return 1;
  }
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "sentinel-ingest: streams Sentinel audit and LLM-invocation events from Kafka into\n"
      "PostgreSQL exactly once (rows, rejects with reasons, per-tenant daily and monthly costs).\n"
      "Every flag can also be set by its environment variable (shown as Env) or by a YAML\n"
      "--config file whose keys are the long flag names; flags win over the environment, the\n"
      "environment over the file. Exit codes: 0 clean stop, 1 runtime failure, 2 usage or\n"
      "configuration error."};
  LogOptions log;
  add_global_options(app, log);
  const std::map<std::string, Runner> runners = add_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code_of(
      [&] {
        sentinel::setup_logging(log.format, log.level);
        sentinel::install_crash_report(log.format);
        sentinel::install_signal_handlers();
        return runners.at(app.get_subcommands().front()->get_name())();
      },
      log);
}

}  // namespace

int main(int argc, char** argv) {
  sentinel::tune_allocator(argv);  // may start the binary once more, with the same arguments
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {
    // Only a mistake in the option definitions above throws outside exit_code_of.
    std::cerr << "sentinel-ingest: " << e.what() << "\n";
    return 1;
  }
}
