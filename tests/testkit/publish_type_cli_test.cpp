// `sentinel-ingest publish --type NAME [--catalog DIR]` against `sentinel-ingest kafka-mock`:
// events of a catalog type land on its topic, as many as asked; bad --type, --topic or catalog
// exit 2 saying what to change.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ingest/kafka_handle.h"
#include "tests/support/process.h"

namespace sentinel {
namespace {

using std::chrono::seconds;
using testing::run_command;

/// A running `kafka-mock` and its bootstrap list.
class MockKafka {
 public:
  MockKafka() {
    const std::string log = ::testing::TempDir() + "publish-type-mock.out";
    std::remove(log.c_str());
    process_ = std::make_unique<testing::Process>(
        std::vector<std::string>{SENTINEL_BINARY, "kafka-mock", "--partitions", "3"}, log);
    testing::wait_until(seconds(20), [&] {
      const std::string text = testing::read_file(log);
      if (text.find('\n') == std::string::npos) return false;
      brokers_ = text.substr(0, text.find('\n'));
      return true;
    });
  }
  ~MockKafka() {
    process_->signal(SIGTERM);
    process_->wait(seconds(10));
  }
  const std::string& brokers() const { return brokers_; }

 private:
  std::unique_ptr<testing::Process> process_;
  std::string brokers_;
};

/// Messages stored in `topic`: the sum of its partitions' high watermarks (0 if it does not
/// exist).
int64_t messages_in(const std::string& brokers, const std::string& topic) {
  KafkaConf conf = make_kafka_conf({{"bootstrap.servers", brokers}});
  std::string error;
  KafkaHandle rk = new_kafka_client(RD_KAFKA_PRODUCER, conf, error);
  if (!rk) throw std::runtime_error(error);
  const rd_kafka_metadata_t* md = nullptr;
  KafkaTopic rkt(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  if (rd_kafka_metadata(rk.get(), 0, rkt.get(), &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("no metadata for " + topic);
  }
  int64_t total = 0;
  for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      total += high - low;
    }
  }
  rd_kafka_metadata_destroy(md);
  return total;
}

const std::string kCatalogDir = SENTINEL_TEST_CATALOG_DIR;

TEST(PublishType, GuardrailEventsLandOnTheirTopicAsManyAsAsked) {
  MockKafka mock;
  ASSERT_NE(mock.brokers().find(':'), std::string::npos);
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "publish", "--brokers", mock.brokers(), "--type", "guardrail",
                   "--catalog", kCatalogDir, "--count", "700", "--invalid-ratio", "0.1"},
                  seconds(60));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("published 700/700"), std::string::npos) << out;
  EXPECT_EQ(messages_in(mock.brokers(), "sentinel.guardrails"), 700);
  EXPECT_EQ(messages_in(mock.brokers(), "sentinel.audit"), 0);  // nothing of the built-in mix
}

TEST(PublishType, SeveralTypesCommaSeparatedOrRepeatedGoToTheirOwnTopics) {
  MockKafka mock;
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "publish", "--brokers", mock.brokers(), "--type", "guardrail,audit",
       "--type", "invocation", "--catalog", kCatalogDir, "--count", "900"},
      seconds(60));
  ASSERT_EQ(code, 0) << out;
  const int64_t guardrails = messages_in(mock.brokers(), "sentinel.guardrails");
  const int64_t audit = messages_in(mock.brokers(), "sentinel.audit");
  const int64_t invocations = messages_in(mock.brokers(), "sentinel.invocations");
  EXPECT_EQ(guardrails + audit + invocations, 900);
  EXPECT_GT(guardrails, 200);
  EXPECT_GT(audit, 200);
  EXPECT_GT(invocations, 200);
}

TEST(PublishType, TopicOverridesTheTopicOfASingleType) {
  MockKafka mock;
  const auto [code, out] =
      run_command({SENTINEL_BINARY, "publish", "--brokers", mock.brokers(), "--type", "audit",
                   "--topic", "audit.replica", "--count", "250"},
                  seconds(60));
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(messages_in(mock.brokers(), "audit.replica"), 250);
  EXPECT_EQ(messages_in(mock.brokers(), "sentinel.audit"), 0);
}

TEST(PublishType, AnUnknownTypeExits2NamingTheKnownOnesAndTheFix) {
  const auto [code, out] = run_command(
      {SENTINEL_BINARY, "publish", "--brokers", "127.0.0.1:1", "--type", "guardrail"}, seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--type guardrail: no such event type (known: audit, invocation"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("--catalog DIR"), std::string::npos) << out;
}

TEST(PublishType, TopicWithSeveralTypesOrTypeWithFromExits2) {
  auto [code, out] = run_command({SENTINEL_BINARY, "publish", "--brokers", "127.0.0.1:1", "--type",
                                  "audit,invocation", "--topic", "x"},
                                 seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--topic goes with one --type"), std::string::npos) << out;
  std::tie(code, out) = run_command({SENTINEL_BINARY, "publish", "--brokers", "127.0.0.1:1",
                                     "--type", "audit", "--from", "events.jsonl"},
                                    seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--type and --from"), std::string::npos) << out;
}

TEST(PublishType, ABrokenCatalogExits2WithItsProblems) {
  const std::string dir = ::testing::TempDir() + "publish-type-broken/";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "broken.schema.json")
      << R"({"type": "object", "x-sentinel": {"name": "broken"},
    "properties": {"a": {"type": "string", "pattern": "x+"}}})";
  const auto [code, out] = run_command({SENTINEL_BINARY, "publish", "--brokers", "127.0.0.1:1",
                                        "--type", "broken", "--catalog", dir},
                                       seconds(20));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("broken.schema.json"), std::string::npos) << out;
  EXPECT_NE(out.find("pattern"), std::string::npos) << out;
}

}  // namespace
}  // namespace sentinel
