#include "app/validate_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "app/config.h"
#include "app/metrics_server.h"
#include "ingest/kafka_handle.h"
#include "sinks/catalog_schema.h"
#include "sinks/connection_defaults.h"
#include "sinks/control_connection.h"
#include "sinks/migrator.h"
#include "sinks/pg_error.h"

namespace sentinel {
namespace {

/// One line of the checklist.
struct Check {
  Check(bool passed, std::string text, std::string how = {})
      : ok(passed), what(std::move(text)), fix(std::move(how)) {}
  bool ok;
  std::string what;  ///< "postgres: reachable", "kafka topic sentinel.audit: 8 partitions"
  std::string fix;   ///< with a failure: what to change
};

/// Prints each check as it is made (a slow one shows which) and remembers whether all passed.
class Checklist {
 public:
  void add(const Check& c) {
    all_ok_ = all_ok_ && c.ok;
    if (c.ok) {
      fmt::print("ok    {}\n", c.what);
    } else {
      fmt::print("FAIL  {}{}\n", c.what, c.fix.empty() ? "" : " (fix: " + c.fix + ")");
    }
    std::fflush(stdout);
  }
  void add(const std::vector<Check>& checks) {
    for (const Check& c : checks) add(c);
  }
  bool all_ok() const { return all_ok_; }

 private:
  bool all_ok_ = true;
};

/// Runs `check` on a thread of its own and waits at most `timeout` for it (libpq and libpqxx
/// calls have no bound of their own on a server that accepts and never answers). On a timeout
/// the thread is left behind (`abandoned`: validate then ends with _Exit) and `late` is the
/// result.
std::vector<Check> within(std::chrono::milliseconds timeout, bool& abandoned, const Check& late,
                          std::function<std::vector<Check>()> check) {
  auto task = std::make_shared<std::packaged_task<std::vector<Check>()>>(std::move(check));
  std::future<std::vector<Check>> result = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (result.wait_for(timeout) != std::future_status::ready) {
    abandoned = true;
    return {late};
  }
  return result.get();
}

/// A PostgreSQL failure as a FAIL line: the error's own fix for a configuration error, the
/// server's reachability otherwise.
Check pg_failure(const std::string& what, const std::exception& e) {
  PgError error("", "");
  if (const auto* pg = dynamic_cast<const PgError*>(&e)) {
    error = *pg;
  } else if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    error = pg_error_of(*sql);
  } else {
    error = PgError(redact_secrets(one_line(e.what())), "");
  }
  return {false, what + ": " + error.what(),
          error.configuration() ? error.fix()
                                : "check that PostgreSQL runs and that --pg names its host and "
                                  "port, reachable from here"};
}

std::vector<Check> check_pg_reachable(const std::string& url) {
  try {
    pqxx::connection conn = connect_control(url);
    pqxx::nontransaction tx(conn);
    const pqxx::row r = tx.exec1("SELECT current_user, current_setting('server_version')");
    return {{true, fmt::format("postgres: reachable (PostgreSQL {}, role {})", r[1].c_str(),
                               r[0].c_str())}};
  } catch (const std::exception& e) {
    return {pg_failure("postgres: reachable", e)};
  }
}

std::vector<Check> check_pg_schema(const std::string& url, const Catalog& catalog) {
  std::vector<Check> out;
  try {
    const MigrationStatus status = check_migrations(url);
    if (!status.up_to_date)
      return {{false, "postgres: schema current: " + status.problem,
               "run `sentinel-ingest migrate` with the same --pg/--config"}};
    out.emplace_back(true, "postgres: schema current");
    verify_catalog(url, catalog);
    out.emplace_back(true, fmt::format("postgres: tables of the {} event type(s) match the catalog",
                                       catalog.size()));
  } catch (const MigrationError& e) {
    out.emplace_back(false, "postgres: schema: " + one_line(e.what()),
                     "run `sentinel-ingest migrate` with the same --pg, --catalog and --config");
  } catch (const std::exception& e) {
    out.push_back(pg_failure("postgres: schema", e));
  }
  return out;
}

/// What `run` does in the database, as (privilege function, object, privilege) triples: the
/// grants of the sentinel_ingest role (schemas/004_event_catalog.sql).
std::vector<std::array<std::string, 3>> ingest_privileges(const Catalog& catalog) {
  std::vector<std::array<std::string, 3>> out;
  for (const EventType& t : catalog.types()) out.push_back({"table", t.table, "INSERT"});
  out.push_back({"table", "ingest_rejects", "INSERT"});
  out.push_back({"table", "ingest_rejects", "SELECT"});  // rejects replay, the backlog gauge
  out.push_back({"sequence", "ingest_rejects_id_seq", "USAGE"});
  for (const char* table : {"costs", "ingest_offsets"}) {
    for (const char* privilege : {"SELECT", "INSERT", "UPDATE"})
      out.push_back({"table", table, privilege});
  }
  out.push_back({"table", "schema_migrations", "SELECT"});
  out.push_back({"table", "sentinel_catalog", "SELECT"});
  out.push_back({"function", "sentinel_ensure_month_partition(text, date)", "EXECUTE"});
  return out;
}

std::vector<Check> check_pg_privileges(const std::string& url, const Catalog& catalog) {
  try {
    pqxx::connection conn = connect_control(url);
    pqxx::nontransaction tx(conn);
    const std::string role = tx.exec1("SELECT current_user")[0].c_str();
    std::vector<std::string> missing;
    for (const auto& [kind, object, privilege] : ingest_privileges(catalog)) {
      const std::string sql = fmt::format("SELECT has_{}_privilege({}, {})", kind, tx.quote(object),
                                          tx.quote(privilege));
      if (!tx.exec1(sql)[0].as<bool>()) missing.push_back(privilege + " on " + object);
    }
    if (!missing.empty()) {
      return {{false,
               fmt::format("postgres: privileges of role {}: missing {}", role,
                           fmt::join(missing, ", ")),
               fmt::format("as the schema owner: GRANT sentinel_ingest TO {} (schemas/README.md)",
                           role)}};
    }
    return {{true, fmt::format("postgres: role {} may ingest (INSERT on the event tables and "
                               "ingest_rejects, offsets and costs, partitions)",
                               role)}};
  } catch (const std::exception& e) {
    return {pg_failure("postgres: privileges", e)};
  }
}

/// A broker answers a metadata request; every topic of `p` exists (with its partition count).
std::vector<Check> check_kafka(const PipelineOptions& p, std::chrono::milliseconds timeout) {
  std::vector<std::pair<std::string, std::string>> props = {{"bootstrap.servers", p.brokers},
                                                            {"group.id", p.group}};
  props.insert(props.end(), p.kafka_properties.begin(), p.kafka_properties.end());
  KafkaTopicsProbe probe;
  try {
    probe = probe_kafka_topics(props, p.topics, timeout);
  } catch (const KafkaError& e) {
    return {{false, std::string("kafka: ") + e.what(), "fix --kafka-prop"}};
  }
  if (!probe.reached) {
    return {{false,
             fmt::format("kafka: reachable: no broker of {} answered within {} ms ({})", p.brokers,
                         timeout.count(), probe.error),
             "check --brokers (host:port of the bootstrap servers) and that they are up and "
             "reachable from here; --check-timeout to wait longer"}};
  }
  std::vector<Check> out;
  out.emplace_back(true,
                   fmt::format("kafka: reachable ({} broker(s), {})", probe.brokers, p.brokers));
  for (const KafkaTopicsProbe::Topic& t : probe.topics) {
    if (!t.exists) {
      out.emplace_back(false, fmt::format("kafka topic {}: does not exist", t.name),
                       "create it (as many partitions as instances you will run, or more), or "
                       "name the right one with --topic TYPE=TOPIC");
    } else if (!t.error.empty()) {
      out.emplace_back(false, fmt::format("kafka topic {}: {}", t.name, t.error),
                       "check the topic and this client's ACLs (--kafka-prop sasl.*)");
    } else {
      out.emplace_back(true, fmt::format("kafka topic {}: {} partition(s) (instances beyond that "
                                         "many hold none and stay ready)",
                                         t.name, t.partitions));
    }
  }
  return out;
}

/// Sets libpq's connect timeout to `timeout` unless the environment sets one (a connection
/// string's connect_timeout still wins).
void bound_pg_connect(std::chrono::milliseconds timeout) {
  const auto seconds = std::max<int64_t>(2, (timeout.count() + 999) / 1000);
  setenv("PGCONNECT_TIMEOUT", std::to_string(seconds).c_str(), 0);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> check_kafka_settings(const PipelineOptions& p) {
  std::vector<std::pair<std::string, std::string>> props = {{"bootstrap.servers", p.brokers},
                                                            {"group.id", p.group}};
  props.insert(props.end(), p.kafka_properties.begin(), p.kafka_properties.end());
  std::vector<std::pair<std::string, std::string>> effective;
  try {
    effective = effective_kafka_properties(props);
  } catch (const KafkaError& e) {
    throw UsageError(std::string(e.what()) +
                     " (fix: correct or remove that --kafka-prop; librdkafka's CONFIGURATION.md "
                     "lists the properties and their values)");
  }
  // Only the properties given (not bootstrap.servers and group.id, shown elsewhere).
  std::erase_if(effective, [](const auto& kv) {
    return kv.first == "bootstrap.servers" || kv.first == "group.id";
  });
  return effective;
}

int cmd_validate(const RunArgs& args, std::chrono::milliseconds timeout) {
  const PipelineOptions& p = args.pipeline;
  bound_pg_connect(timeout);
  Checklist list;
  bool abandoned = false;
  list.add({true, fmt::format("settings: parsed ({} event type(s), topics {})", p.catalog->size(),
                              fmt::join(p.topics, ", "))});
  bool kafka_settings_ok = true;
  try {
    const auto effective = check_kafka_settings(p);
    std::vector<std::string> shown;
    shown.reserve(effective.size());
    for (const auto& [key, value] : effective) shown.push_back(key + "=" + value);
    list.add(
        {true, effective.empty()
                   ? std::string("kafka settings: librdkafka accepts them (no --kafka-prop)")
                   : fmt::format("kafka settings: librdkafka holds {}", fmt::join(shown, ", "))});
  } catch (const UsageError& e) {
    list.add({false, std::string("kafka settings: ") + e.what(), ""});
    kafka_settings_ok = false;
  }
  if (args.metrics_listen.empty()) {
    list.add({true, "metrics address: none (--metrics-listen not set: no HTTP endpoint)"});
  } else {
    try {
      check_listen_address(args.metrics_listen);
      list.add({true, "metrics address: " + args.metrics_listen + " can be bound"});
    } catch (const UsageError& e) {
      list.add({false, std::string("metrics address: ") + e.what(), ""});
    }
  }
  const std::string late_fix =
      "check that PostgreSQL (or PgBouncer) at --pg's host and port answers; "
      "--check-timeout to wait longer";
  const std::string waited = fmt::format("no answer within {} ms", timeout.count());
  const std::vector<Check> reachable =
      within(timeout, abandoned, {false, "postgres: reachable: " + waited, late_fix},
             [&p] { return check_pg_reachable(p.pg_url); });
  list.add(reachable);
  if (reachable.front().ok) {
    list.add(within(timeout, abandoned, {false, "postgres: schema: " + waited, late_fix},
                    [&p] { return check_pg_schema(p.pg_url, *p.catalog); }));
    list.add(within(timeout, abandoned, {false, "postgres: privileges: " + waited, late_fix},
                    [&p] { return check_pg_privileges(p.pg_url, *p.catalog); }));
  }
  if (kafka_settings_ok) list.add(check_kafka(p, timeout));  // otherwise no client can be made
  const int code = list.all_ok() ? 0 : 2;
  fmt::print("{}\n", code == 0 ? "all checks passed" : "some checks failed");
  if (abandoned) {
    // A check is still in a libpq call on a hung server: end here, not in its destructors.
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

}  // namespace sentinel
