#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "ingest/kafka_handle.h"
#include "rows/payload_source.h"

namespace sentinel {

/// Reads messages again by offset with a consumer of its own: assigned partitions only, no
/// group membership, no commits, no prefetch to speak of. Created on first use (refused rows are
/// rare), one per writer thread. Not thread-safe.
class KafkaPayloadSource : public PayloadSource {
 public:
  /// `properties` are the ingestor's extra librdkafka properties (security settings and the
  /// like); `group` only names the client's (unused) group. `timeout`: how long Kafka may return
  /// nothing of a partition being read before PayloadUnavailable.
  KafkaPayloadSource(std::string brokers, std::string group, std::vector<std::string> topics,
                     std::vector<std::pair<std::string, std::string>> properties,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

  std::vector<std::optional<std::string>> payloads(std::span<const MessageId> ids) override;

 private:
  /// Reads the wanted offsets (ascending) of one partition into `out` at their positions.
  void read_partition(int topic_index, int32_t partition,
                      const std::vector<std::pair<int64_t, size_t>>& wanted,
                      std::vector<std::optional<std::string>>& out);
  int64_t log_start(int topic_index, int32_t partition);

  std::string brokers_;
  std::string group_;
  std::vector<std::string> topics_;
  std::vector<std::pair<std::string, std::string>> properties_;
  std::chrono::milliseconds timeout_;
  KafkaHandle rk_;
};

}  // namespace sentinel
