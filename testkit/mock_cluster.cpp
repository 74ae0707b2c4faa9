#include "testkit/mock_cluster.h"

namespace sentinel {

MockCluster::MockCluster(int brokers, const std::vector<std::string>& topics, int partitions) {
  KafkaConf conf = make_kafka_conf({{"log_level", "3"}});
  std::string err;
  rk_ = new_kafka_client(RD_KAFKA_PRODUCER, conf, err);
  if (!rk_) throw KafkaError("mock cluster: " + err);
  mock_ = rd_kafka_mock_cluster_new(rk_.get(), brokers);
  if (mock_ == nullptr) throw KafkaError("mock cluster: could not be created");
  for (const auto& t : topics) {
    if (auto e = rd_kafka_mock_topic_create(mock_, t.c_str(), partitions, 1)) {
      throw KafkaError("mock cluster: topic " + t + ": " + rd_kafka_err2str(e));
    }
  }
}

MockCluster::~MockCluster() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
}

std::string MockCluster::bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mock_); }

}  // namespace sentinel
