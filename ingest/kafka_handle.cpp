#include "ingest/kafka_handle.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <memory>
#include <string_view>

namespace sentinel {
namespace {

/// librdkafka's syslog levels (0 emergency .. 7 debug) as spdlog's.
spdlog::level::level_enum level_of(int syslog_level) {
  if (syslog_level <= 2) return spdlog::level::critical;
  if (syslog_level == 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

/// librdkafka's log callback: its lines go through our logger (one line, in --log-format) under
/// the name "librdkafka/FACILITY" instead of to stderr in librdkafka's own format. Called on
/// librdkafka's threads; spdlog's logger is thread-safe.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
  const spdlog::level::level_enum lvl = level_of(level);
  if (!logger->should_log(lvl)) return;
  const char* client = rk != nullptr ? rd_kafka_name(rk) : "";
  logger->clone(std::string("librdkafka/") + (fac != nullptr ? fac : ""))
      ->log(lvl, "{}{}{}", client, *client != '\0' ? ": " : "", buf != nullptr ? buf : "");
}

/// librdkafka blocks every signal in the threads it starts. A fault there (SIGSEGV, SIGBUS, SIGFPE,
/// SIGILL) then kills the process without running the crash report (app/crash_report.h), which
/// is how a crash inside librdkafka would look: exit 139 and no line. Unblocked in each of its
/// threads; asynchronous signals (SIGTERM, SIGINT) stay blocked there, as librdkafka wants.
rd_kafka_resp_err_t unblock_fault_signals(rd_kafka_t*, rd_kafka_thread_type_t, const char*, void*) {
  sigset_t faults;
  sigemptyset(&faults);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaddset(&faults, sig);
  pthread_sigmask(SIG_UNBLOCK, &faults, nullptr);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

constexpr const char* kFaultSignals = "sentinel-fault-signals";

/// on_new: registers unblock_fault_signals before the client starts its threads.
rd_kafka_resp_err_t on_new_client(rd_kafka_t* rk, const rd_kafka_conf_t*, void*, char*, size_t) {
  return rd_kafka_interceptor_add_on_thread_start(rk, kFaultSignals, &unblock_fault_signals,
                                                  nullptr);
}

}  // namespace

bool kafka_property_sensitive(std::string_view key) {
  std::string k;
  for (char c : key) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // librdkafka's properties marked sensitive (CONFIGURATION.md), and the certificates.
  for (std::string_view name :
       {"sasl.password", "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.client.id", "sasl.oauthbearer.extensions", "ssl.key.password",
        "ssl.key.pem", "ssl_key", "ssl.keystore.password", "ssl.certificate.pem", "ssl_certificate",
        "ssl.ca.pem", "ssl_ca", "sasl.kerberos.keytab"}) {
    if (k == name) return true;
  }
  // And anything that looks like one, including misspellings librdkafka refuses (which is
  // exactly when the value would be printed) and Java client names such as sasl.jaas.config.
  for (std::string_view part : {"password", "passwd", "secret", "key", "token", "pem", "jaas",
                                "oauthbearer", "credential", "cert"}) {
    if (k.find(part) != std::string::npos) return true;
  }
  return false;
}

KafkaConf make_kafka_conf(const std::vector<std::pair<std::string, std::string>>& props) {
  KafkaConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &log_to_spdlog);
  rd_kafka_conf_interceptor_add_on_new(conf.get(), kFaultSignals, &on_new_client, nullptr);
  char err[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      const bool secret = kafka_property_sensitive(key);
      std::string why = err;
      // librdkafka may quote the value it refused.
      for (size_t at; secret && !value.empty() && (at = why.find(value)) != std::string::npos;) {
        why.replace(at, value.size(), "***");
      }
      throw KafkaError("Kafka property " + key + "=" + (secret ? "***" : value) + ": " + why);
    }
  }
  return conf;
}

KafkaHandle new_kafka_client(rd_kafka_type_t type, KafkaConf& conf, std::string& error) {
  char err[512];
  KafkaHandle rk(rd_kafka_new(type, conf.get(), err, sizeof err));
  if (rk) {
    static_cast<void>(conf.release());  // owned by rk now
  } else {
    error = err;
  }
  return rk;
}

std::pair<std::string, std::string> parse_kafka_prop(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw KafkaError("--kafka-prop expects KEY=VALUE, got '" + kv + "'");
  }
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

std::vector<std::pair<std::string, std::string>> effective_kafka_properties(
    const std::vector<std::pair<std::string, std::string>>& props) {
  KafkaConf conf = make_kafka_conf(props);
  std::vector<std::pair<std::string, std::string>> effective;
  for (const auto& [key, value] : props) {
    char buf[512];
    size_t size = sizeof buf;
    std::string held = value;
    if (rd_kafka_conf_get(conf.get(), key.c_str(), buf, &size) == RD_KAFKA_CONF_OK) held = buf;
    if (kafka_property_sensitive(key)) held = "***";
    // Once per property (the file, the environment and a flag may each set it; the last won).
    auto same = effective.begin();
    while (same != effective.end() && same->first != key) ++same;
    if (same == effective.end()) {
      effective.emplace_back(key, held);
    } else {
      same->second = held;
    }
  }
  std::string error;
  KafkaHandle rk = new_kafka_client(RD_KAFKA_CONSUMER, conf, error);
  if (!rk) throw KafkaError("Kafka configuration refused: " + error);
  return effective;
}

KafkaTopicsProbe probe_kafka_topics(const std::vector<std::pair<std::string, std::string>>& props,
                                    const std::vector<std::string>& topics,
                                    std::chrono::milliseconds timeout) {
  KafkaConf conf = make_kafka_conf(props);
  std::string error;
  KafkaHandle rk = new_kafka_client(RD_KAFKA_CONSUMER, conf, error);
  if (!rk) throw KafkaError("Kafka client: " + error);
  KafkaTopicsProbe probe;
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk.get(), 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    probe.error = rd_kafka_err2str(err);
    return probe;
  }
  std::unique_ptr<const struct rd_kafka_metadata, void (*)(const struct rd_kafka_metadata*)> owned(
      md, &rd_kafka_metadata_destroy);
  probe.reached = true;
  probe.brokers = md->broker_cnt;
  for (const std::string& topic : topics) {
    KafkaTopicsProbe::Topic t;
    t.name = topic;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (topic != md->topics[i].topic) continue;
      t.exists = md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR && t.exists) {
        t.error = rd_kafka_err2str(md->topics[i].err);
      }
      t.partitions = md->topics[i].partition_cnt;
    }
    probe.topics.push_back(std::move(t));
  }
  return probe;
}

}  // namespace sentinel
