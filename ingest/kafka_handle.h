#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentinel {

/// A Kafka problem no retry fixes here (bad configuration, unknown property, fatal client error).
class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using KafkaEvent = std::unique_ptr<rd_kafka_event_t, KafkaDeleter>;

/// Whether the value of librdkafka property `key` must never be shown (logged, printed in an
/// error): librdkafka's sensitive properties, certificates and keys, and any key containing
/// password, secret, key, token, pem, jaas, oauthbearer, credential or cert.
bool kafka_property_sensitive(std::string_view key);

/// A new configuration with `props` set; throws KafkaError naming the property that was refused
/// (and its value, unless kafka_property_sensitive). Its client logs through spdlog's default
/// logger, named "librdkafka/FACILITY" at librdkafka's syslog level, never on stderr directly.
KafkaConf make_kafka_conf(const std::vector<std::pair<std::string, std::string>>& props);

/// rd_kafka_new with `conf`, which the client owns once it exists (`conf` is empty then; on
/// failure it stays the caller's). Null, with librdkafka's reason in `error`, when refused.
KafkaHandle new_kafka_client(rd_kafka_type_t type, KafkaConf& conf, std::string& error);

/// Parses `KEY=VALUE` (as given to --kafka-prop); throws KafkaError without '='.
std::pair<std::string, std::string> parse_kafka_prop(const std::string& kv);

/// What librdkafka holds for each of `props` once applied (the last of several settings of one
/// key wins; a sensitive value shows as "***"), in the order first given. Throws KafkaError when
/// librdkafka refuses a property or the client they make.
std::vector<std::pair<std::string, std::string>> effective_kafka_properties(
    const std::vector<std::pair<std::string, std::string>>& props);

/// What one metadata request of a consumer made with `props` says about `topics`.
struct KafkaTopicsProbe {
  bool reached = false;  ///< a broker answered within the timeout
  std::string error;     ///< why not (librdkafka's words)
  int brokers = 0;
  struct Topic {
    std::string name;
    bool exists = false;
    std::string error;  ///< the topic's own error, empty when none
    int partitions = 0;
  };
  std::vector<Topic> topics;
};

/// Asks the cluster of `props` (bootstrap.servers, ...) for its metadata, waiting at most
/// `timeout`. Throws KafkaError when no client can be made from `props`.
KafkaTopicsProbe probe_kafka_topics(const std::vector<std::pair<std::string, std::string>>& props,
                                    const std::vector<std::string>& topics,
                                    std::chrono::milliseconds timeout);

}  // namespace sentinel
