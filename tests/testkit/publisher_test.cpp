// The producer behind `publish`, the demo and the benchmark, against the mock Kafka cluster.
#include "testkit/publisher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testkit/mock_cluster.h"

namespace sentinel {
namespace {

const std::vector<std::string> kTopics = {"sentinel.audit", "sentinel.invocations"};

TEST(Publisher, LooksItsTopicsUpThenDeliversToThem) {
  MockCluster mock(1, kTopics, 2);
  Publisher pub(mock.bootstraps(), {{"linger.ms", "5"}});
  pub.await_topics(kTopics, 10000);
  pub.produce("sentinel.audit", "t1", R"({"event_type":"login"})");
  pub.produce("sentinel.invocations", "t1", R"({"cost_usd":0.1})");
  pub.flush();
  EXPECT_EQ(pub.delivered(), 2u);
  EXPECT_EQ(pub.failed(), 0u);
}

TEST(Publisher, NamesTheTopicWhenTheClusterDoesNotAnswerInTime) {
  // Nothing listens on port 1: the lookup times out instead of hanging.
  Publisher pub("127.0.0.1:1", {{"log_level", "0"}});
  try {
    pub.await_topics(kTopics, 300);
    FAIL() << "await_topics returned without a cluster";
  } catch (const KafkaError& e) {
    EXPECT_NE(std::string(e.what()).find("metadata of sentinel.audit"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sentinel
