#include "ingest/kafka_handle.h"

namespace sentinel {

KafkaConf make_kafka_conf(const std::vector<std::pair<std::string, std::string>>& props) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : props) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      const bool secret =
          key.find("password") != std::string::npos || key.find("secret") != std::string::npos;
      throw KafkaError("Kafka property " + key + "=" + (secret ? "***" : value) + ": " + err);
    }
  }
  return conf;
}

std::pair<std::string, std::string> parse_kafka_prop(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw KafkaError("--kafka-prop expects KEY=VALUE, got '" + kv + "'");
  }
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

}  // namespace sentinel
