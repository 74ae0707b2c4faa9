#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/kafka_handle.h"

namespace sentinel {

/// A Kafka producer for `publish`, the demo and the tests: idempotent, lz4-compressed, large
/// batches (the mock cluster keeps a few MB per partition, so compression stretches it), keyed
/// by tenant. produce() never drops a message: when the local queue is full it waits.
class Publisher {
 public:
  Publisher(const std::string& brokers, std::vector<std::pair<std::string, std::string>> props);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  /// Looks the topics' partition leaders up now, so the first produce() sends at once instead of
  /// queueing behind the producer's own metadata request. Throws KafkaError if a topic is
  /// unknown or the cluster does not answer within `timeout_ms`.
  void await_topics(const std::vector<std::string>& topics, int timeout_ms);
  void produce(const std::string& topic, std::string_view key, std::string_view payload);
  /// Waits until every message is acknowledged; throws KafkaError if any failed.
  void flush();

  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  static void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  std::string first_error_;
  KafkaHandle rk_;
  std::vector<KafkaTopic> topics_;  ///< released before rk_
};

}  // namespace sentinel
