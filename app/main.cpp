// sentinel-ingest: Kafka → PostgreSQL, exactly once. See DESIGN.md §6 for the command line.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/allocator.h"
#include "app/commands.h"
#include "app/config.h"
#include "app/costs_command.h"
#include "app/healthcheck_command.h"
#include "app/logging.h"
#include "app/partitions_command.h"
#include "ingest/kafka_handle.h"
#include "ingest/scalars.h"
#include "sinks/connection_defaults.h"
#include "sinks/migrator.h"
#include "sinks/pg_connection.h"

namespace {

using sentinel::UsageError;

void require(const std::string& value, const std::string& flag) {
  if (value.empty()) {
    throw UsageError("missing " + flag + " (or " + sentinel::env_name_for(flag.substr(2)) +
                     ", or `" + flag.substr(2) + ":` in the --config file)");
  }
}

/// --max-cost-usd: a positive decimal (read exactly, as cost_usd itself is).
int64_t parse_max_cost(const std::string& text) {
  const sentinel::DecimalResult r = sentinel::parse_decimal_nanos(text);
  if (!r.ok() || r.nanos <= 0) {
    throw UsageError("--max-cost-usd: expected a positive decimal number of USD (at most " +
                     sentinel::format_decimal_nanos(INT64_MAX) + "), got '" + text + "'");
  }
  return r.nanos;
}

}  // namespace

int main(int argc, char** argv) {
  sentinel::tune_allocator(argv);  // may start the binary once more, with the same arguments
  CLI::App app{
      "sentinel-ingest: streams Sentinel audit and LLM-invocation events from Kafka into\n"
      "PostgreSQL exactly once (rows, rejects with reasons, per-tenant daily and monthly costs).\n"
      "Every flag can also be set by its environment variable (shown as Env) or by a YAML\n"
      "--config file whose keys are the long flag names; flags win over the environment, the\n"
      "environment over the file. Exit codes: 0 clean stop, 1 runtime failure, 2 usage or\n"
      "configuration error."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sentinel-ingest 0.1.0");
  std::string log_format = "text", log_level = "info";
  app.add_option("--log-format", log_format, "Log lines as text or json")
      ->envname("SENTINEL_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("SENTINEL_LOG_LEVEL");

  // run
  sentinel::RunArgs run;
  auto& p = run.pipeline;
  std::string run_config;
  std::vector<std::string> run_props;
  int linger_ms = static_cast<int>(p.linger.count());
  size_t inflight_mb = p.inflight_budget_bytes >> 20;
  size_t chunk_kb = p.chunk_bytes >> 10;
  size_t batch_mb = p.batch_bytes >> 20;
  int status_s = static_cast<int>(p.status_interval.count());
  CLI::App* cmd_run =
      app.add_subcommand("run", "Consume both topics and write to PostgreSQL until SIGTERM/SIGINT");
  cmd_run->add_option("--pg", p.pg_url,
                      "PostgreSQL connection string or URI (TLS via sslmode=...)");
  cmd_run->add_option("--brokers", p.brokers, "Kafka bootstrap servers, host:port[,host:port...]");
  cmd_run->add_option("--group", p.group, "Kafka consumer group; also the key of stored offsets")
      ->capture_default_str();
  cmd_run->add_option("--audit-topic", p.audit_topic, "Topic of audit events")
      ->capture_default_str();
  cmd_run->add_option("--invocations-topic", p.invocations_topic, "Topic of invocation events")
      ->capture_default_str();
  cmd_run->add_option("--writers", p.writers, "Writer threads, one PostgreSQL connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd_run->add_option("--config", run_config, "YAML file of option: value");
  cmd_run->add_option("--metrics-listen", run.metrics_listen,
                      "Serve /metrics, /healthz, /readyz on HOST:PORT");
  cmd_run->add_option("--kafka-prop", run_props,
                      "Extra librdkafka property KEY=VALUE (repeatable)");
  cmd_run->add_option("--batch-rows", p.batch_rows, "Close a batch at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd_run->add_option("--batch-mb", batch_mb, "Close a batch at this many MiB of COPY data")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd_run
      ->add_option("--linger-ms", linger_ms,
                   "Wait this long for more rows before committing a small batch (0: commit as "
                   "soon as the previous transaction is done; batches grow with the load)")
      ->capture_default_str()
      ->check(CLI::Range(0, 60'000));
  cmd_run->add_option("--chunk-kb", chunk_kb, "Size of the chunks handed to writers")
      ->capture_default_str()
      ->check(CLI::Range(4, 65536));
  cmd_run
      ->add_option("--inflight-mb", inflight_mb,
                   "Memory budget for rows not yet committed; over it, the consumer slows down, "
                   "then pauses partitions")
      ->capture_default_str()
      ->check(CLI::Range(8, 65536));
  cmd_run
      ->add_option("--offset-reset", p.offset_reset,
                   "Where a partition with no stored offset starts")
      ->capture_default_str()
      ->check(CLI::IsMember({"earliest", "latest"}));
  cmd_run
      ->add_option("--max-message-bytes", p.limits.max_message_bytes,
                   "Largest message accepted; larger ones become too_large rejects")
      ->capture_default_str();
  std::string max_cost_usd = sentinel::format_decimal_nanos(p.limits.max_cost_nanos);
  cmd_run
      ->add_option("--max-cost-usd", max_cost_usd,
                   "Largest cost_usd of one invocation; larger ones become invalid_value rejects "
                   "(keeps a tenant's monthly costs row far from its numeric(20,9) limit)")
      ->capture_default_str();
  cmd_run->add_option("--status-interval", status_s, "Seconds between status log lines")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  sentinel::add_env_names(*cmd_run);

  // migrate
  std::string migrate_pg, migrate_config;
  CLI::App* cmd_migrate = app.add_subcommand(
      "migrate", "Create or update the schema (idempotent; safe to run concurrently)");
  cmd_migrate->add_option("--pg", migrate_pg, "PostgreSQL connection string or URI");
  cmd_migrate->add_option("--config", migrate_config, "YAML file of option: value");
  sentinel::add_env_names(*cmd_migrate);

  // publish
  sentinel::PublishArgs pub;
  std::string pub_config;
  std::vector<std::string> pub_props;
  CLI::App* cmd_publish = app.add_subcommand(
      "publish", "Produce realistic sample events (or replay a JSONL file) to Kafka");
  cmd_publish->add_option("--brokers", pub.brokers, "Kafka bootstrap servers");
  cmd_publish->add_option("--count", pub.count, "Events to produce")->capture_default_str();
  cmd_publish->add_option("--rate", pub.rate, "Events per second (0: as fast as possible)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd_publish->add_option("--tenants", pub.tenants, "Distinct tenants (Zipf-skewed popularity)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd_publish
      ->add_option("--invalid-ratio", pub.invalid_ratio,
                   "Share of malformed events, of every reject kind")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd_publish->add_option("--seed", pub.seed, "Random seed (same seed, same events)")
      ->capture_default_str();
  cmd_publish
      ->add_option("--days-back", pub.days_back, "Spread timestamps over this many past days")
      ->capture_default_str()
      ->check(CLI::Range(1, 399));
  cmd_publish->add_option("--from", pub.from_file,
                          "Replay this JSONL file (one message per line) instead of generating");
  cmd_publish->add_option("--topic", pub.topic, "Topic for --from");
  cmd_publish->add_option("--audit-topic", pub.audit_topic, "Topic of audit events")
      ->capture_default_str();
  cmd_publish
      ->add_option("--invocations-topic", pub.invocations_topic, "Topic of invocation events")
      ->capture_default_str();
  cmd_publish->add_option("--kafka-prop", pub_props,
                          "Extra librdkafka producer property KEY=VALUE (repeatable)");
  cmd_publish->add_option("--config", pub_config, "YAML file of option: value");
  sentinel::add_env_names(*cmd_publish);

  // kafka-mock
  int mock_partitions = 8, mock_brokers = 3;
  std::string mock_audit = "sentinel.audit", mock_invocations = "sentinel.invocations";
  CLI::App* cmd_mock = app.add_subcommand("kafka-mock",
                                          "Serve an in-process mock Kafka cluster; prints its "
                                          "bootstrap list first, serves until SIGTERM");
  cmd_mock
      ->add_option("--partitions", mock_partitions,
                   "Partitions per topic (the mock keeps a few MB each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd_mock->add_option("--broker-count", mock_brokers, "Mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  cmd_mock->add_option("--audit-topic", mock_audit, "Audit topic to create")->capture_default_str();
  cmd_mock->add_option("--invocations-topic", mock_invocations, "Invocations topic to create")
      ->capture_default_str();

  // demo
  sentinel::DemoArgs demo;
  CLI::App* cmd_demo = app.add_subcommand(
      "demo", "Everything embedded: mock Kafka, a throwaway PostgreSQL, sample events, a summary");
  cmd_demo->add_option("--events", demo.events, "Events to publish and ingest")
      ->capture_default_str()
      ->check(CLI::Range(1, 5'000'000));
  cmd_demo->add_option("--invalid-ratio", demo.invalid_ratio, "Share of malformed events")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd_demo->add_option("--writers", demo.writers, "Writer threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));

  // partitions, costs, healthcheck (app/<name>_command.cpp)
  const auto run_partitions = sentinel::add_partitions_command(app);
  const auto run_costs = sentinel::add_costs_command(app);
  const auto run_healthcheck = sentinel::add_healthcheck_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    sentinel::setup_logging(log_format, log_level);
    sentinel::install_signal_handlers();
    if (cmd_run->parsed()) {
      sentinel::apply_config_file(*cmd_run, run_config);
      require(p.pg_url, "--pg");
      sentinel::with_connection_defaults(p.pg_url);  // a string that can never connect: exit 2
      require(p.brokers, "--brokers");
      for (const auto& kv : run_props) p.kafka_properties.push_back(sentinel::parse_kafka_prop(kv));
      p.linger = std::chrono::milliseconds(linger_ms);
      p.inflight_budget_bytes = inflight_mb << 20;
      p.chunk_bytes = chunk_kb << 10;
      p.batch_bytes = batch_mb << 20;
      p.status_interval = std::chrono::seconds(status_s);
      p.limits.max_cost_nanos = parse_max_cost(max_cost_usd);
      return sentinel::cmd_run(std::move(run));
    }
    if (cmd_migrate->parsed()) {
      sentinel::apply_config_file(*cmd_migrate, migrate_config);
      require(migrate_pg, "--pg");
      sentinel::with_connection_defaults(migrate_pg);  // a string that can never connect: exit 2
      return sentinel::cmd_migrate(migrate_pg);
    }
    if (cmd_publish->parsed()) {
      sentinel::apply_config_file(*cmd_publish, pub_config);
      require(pub.brokers, "--brokers");
      if (!pub.from_file.empty() && pub.topic.empty()) throw UsageError("--from needs --topic");
      if (pub.from_file.empty() && !pub.topic.empty()) throw UsageError("--topic goes with --from");
      for (const auto& kv : pub_props)
        pub.kafka_properties.push_back(sentinel::parse_kafka_prop(kv));
      return sentinel::cmd_publish(pub);
    }
    if (cmd_mock->parsed()) {
      return sentinel::cmd_kafka_mock(mock_partitions, mock_brokers,
                                      {mock_audit, mock_invocations});
    }
    if (cmd_demo->parsed()) return sentinel::cmd_demo(demo);
    if (app.got_subcommand("partitions")) return run_partitions();
    if (app.got_subcommand("costs")) return run_costs();
    if (app.got_subcommand("healthcheck")) return run_healthcheck();
  } catch (const UsageError& e) {
    std::cerr << "sentinel-ingest: " << e.what() << "\n";
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
  return 0;
}
