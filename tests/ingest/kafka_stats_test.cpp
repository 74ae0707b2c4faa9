#include "ingest/kafka_stats.h"

#include <gtest/gtest.h>

#include <string>

namespace sentinel {
namespace {

// librdkafka 2.0's statistics, cut to what matters: the bootstrap address (nodeid -1 until
// metadata names it), the internal pseudo-broker, and the learned brokers with their partitions.
std::string stats(const std::string& b1_state, const std::string& b2_state) {
  return R"({"name":"sentinel-ingest#consumer-1","type":"consumer","ts":1,"brokers":{)"
         R"("localhost:9092/bootstrap":{"name":"localhost:9092/bootstrap","nodeid":-1,)"
         R"("nodename":"localhost:9092","source":"configured","state":"UP","toppars":{}},)"
         R"(":0/internal":{"name":":0/internal","nodeid":-1,"source":"internal","state":"INIT"},)"
         R"("kafka1:9092/1":{"name":"kafka1:9092/1","nodeid":1,"source":"learned","state":")" +
         b1_state +
         R"(","rtt":{"min":1,"p99":2},"toppars":{"sentinel.audit-0":{"topic":"sentinel.audit",)"
         R"("partition":0}}},)"
         R"("kafka2:9092/2":{"nodeid":2,"name":"kafka2:9092/2","state":")" +
         b2_state + R"("}},"topics":{},"cgrp":{"state":"up","join_state":"steady"}})";
}

// The Kafka connection gauge counts the cluster's brokers the consumer reaches, once each: not
// the bootstrap address (the same broker again) nor librdkafka's internal one.
TEST(KafkaBrokersUp, CountsLearnedBrokersInStateUpOnce) {
  EXPECT_EQ(kafka_brokers_up(stats("UP", "UP")), 2);
  EXPECT_EQ(kafka_brokers_up(stats("UP", "CONNECT")), 1);
  EXPECT_EQ(kafka_brokers_up(stats("DOWN", "APIVERSION_QUERY")), 0);
}

TEST(KafkaBrokersUp, SomethingElseIsUnknownNotZero) {
  EXPECT_EQ(kafka_brokers_up(""), -1);
  EXPECT_EQ(kafka_brokers_up("{\"name\":\"x\"}"), -1);
  EXPECT_EQ(kafka_brokers_up("{\"brokers\":{}}"), 0);
}

TEST(KafkaLibraryVersion, NamesTheLinkedLibrary) {
  EXPECT_FALSE(kafka_library_version().empty());
  EXPECT_NE(kafka_library_version().find('.'), std::string::npos);
}

}  // namespace
}  // namespace sentinel
