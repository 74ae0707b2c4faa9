#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>
#include <vector>

#include "ingest/kafka_handle.h"

namespace sentinel {

/// librdkafka's mock Kafka cluster, in this process: it speaks the Kafka protocol on loopback
/// (consumer groups and offset commits included) for the demo and the tests. It keeps only a few
/// MB per partition, so give it enough partitions and produce compressed.
class MockCluster {
 public:
  MockCluster(int brokers, const std::vector<std::string>& topics, int partitions);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  /// The bootstrap.servers list clients connect to.
  std::string bootstraps() const;
  rd_kafka_mock_cluster_t* raw() { return mock_; }

 private:
  KafkaHandle rk_;  // the mock's bookkeeping handle; outlives mock_
  rd_kafka_mock_cluster_t* mock_ = nullptr;
};

}  // namespace sentinel
