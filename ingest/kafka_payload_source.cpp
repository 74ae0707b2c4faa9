#include "ingest/kafka_payload_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace sentinel {

KafkaPayloadSource::KafkaPayloadSource(std::string brokers, std::string group,
                                       std::vector<std::string> topics,
                                       std::vector<std::pair<std::string, std::string>> properties,
                                       std::chrono::milliseconds timeout)
    : brokers_(std::move(brokers)),
      group_(std::move(group)),
      topics_(std::move(topics)),
      properties_(std::move(properties)),
      timeout_(timeout) {}

std::vector<std::optional<std::string>> KafkaPayloadSource::payloads(
    std::span<const MessageId> ids) {
  std::vector<std::optional<std::string>> out(ids.size());
  if (ids.empty()) return out;
  if (!rk_) {
    std::vector<std::pair<std::string, std::string>> props = {{"bootstrap.servers", brokers_}};
    props.insert(props.end(), properties_.begin(), properties_.end());
    // These win over --kafka-prop: this client must never join the group or commit, and must
    // say when an offset is gone instead of jumping elsewhere.
    const std::vector<std::pair<std::string, std::string>> fixed = {
        {"group.id", group_ + ".payloads"},     {"client.id", "sentinel-ingest-payloads"},
        {"enable.auto.commit", "false"},        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},       {"auto.offset.reset", "error"},
        {"queued.max.messages.kbytes", "1024"}, {"fetch.wait.max.ms", "100"},
    };
    props.insert(props.end(), fixed.begin(), fixed.end());
    std::erase_if(props, [](const auto& kv) { return kv.first == "group.instance.id"; });
    KafkaConf conf = make_kafka_conf(props);
    std::string err;
    rk_ = new_kafka_client(RD_KAFKA_CONSUMER, conf, err);
    if (!rk_) throw PayloadUnavailable("Kafka client for payloads: " + err);
    rd_kafka_poll_set_consumer(rk_.get());
  }
  // Per partition, the wanted offsets in ascending order with their place in `out`.
  std::map<std::pair<int, int32_t>, std::vector<std::pair<int64_t, size_t>>> by_partition;
  for (size_t i = 0; i < ids.size(); ++i) {
    by_partition[{ids[i].topic_index, ids[i].partition}].push_back({ids[i].offset, i});
  }
  const auto started = std::chrono::steady_clock::now();
  for (auto& [key, wanted] : by_partition) {
    std::sort(wanted.begin(), wanted.end());
    read_partition(key.first, key.second, wanted, out);
  }
  spdlog::info("read the payloads of {} refused rows back from Kafka in {} ms", ids.size(),
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  return out;
}

int64_t KafkaPayloadSource::log_start(int topic_index, int32_t partition) {
  int64_t low = -1, high = -1;
  const auto e = rd_kafka_query_watermark_offsets(rk_.get(), topics_[topic_index].c_str(),
                                                  partition, &low, &high, 5000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw PayloadUnavailable(fmt::format("Kafka watermarks of {} [{}]: {}", topics_[topic_index],
                                         partition, rd_kafka_err2str(e)));
  }
  return low;
}

// One poll loop whose cases all move the same cursor (`next`), deadline and last error; apart,
// each piece would take and return all three.
// NOLINTNEXTLINE(readability-function-size): one loop over shared state, see above
void KafkaPayloadSource::read_partition(int topic_index, int32_t partition,
                                        const std::vector<std::pair<int64_t, size_t>>& wanted,
                                        std::vector<std::optional<std::string>>& out) {
  const std::string& topic = topics_[topic_index];
  size_t next = 0;  // first wanted offset not yet settled
  auto assign_at = [&](int64_t offset) {
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = offset;
    if (auto e = rd_kafka_assign(rk_.get(), list.get())) {
      throw PayloadUnavailable(
          fmt::format("Kafka assign {} [{}]: {}", topic, partition, rd_kafka_err2str(e)));
    }
  };
  struct Unassign {
    rd_kafka_t* rk;
    ~Unassign() { rd_kafka_assign(rk, nullptr); }
  } unassign{rk_.get()};
  assign_at(wanted[0].first);
  std::string last_error;
  // Gives up only when Kafka returns nothing of the partition for `timeout_`: reading forward
  // through many messages to reach the wanted ones is progress, however long it takes.
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (next < wanted.size()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw PayloadUnavailable(fmt::format(
          "Kafka did not return {} [{}] offset {} to read a refused row's payload again{}{}", topic,
          partition, wanted[next].first, last_error.empty() ? "" : ": ", last_error));
    }
    KafkaMessage m(rd_kafka_consumer_poll(rk_.get(), 100));
    if (!m) continue;
    const bool ours =
        m->partition == partition && m->rkt != nullptr && topic == rd_kafka_topic_name(m->rkt);
    if (ours) deadline = std::chrono::steady_clock::now() + timeout_;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The end of the log: whatever is still wanted is not there (compacted away).
      if (m->partition == partition && m->offset > wanted[next].first) {
        for (; next < wanted.size(); ++next) out[wanted[next].second].reset();
      }
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      // Retention deleted the start of what is wanted: those are gone; go on from the log start.
      const int64_t low = log_start(topic_index, partition);
      while (next < wanted.size() && wanted[next].first < low) out[wanted[next++].second].reset();
      if (next < wanted.size()) assign_at(std::max(low, wanted[next].first));
      continue;
    }
    if (m->err) {
      last_error = rd_kafka_message_errstr(m.get());
      continue;
    }
    if (!ours) continue;
    // Skip what is not wanted (a compressed batch starts before the wanted offset); a wanted
    // offset passed over was compacted away.
    while (next < wanted.size() && wanted[next].first < m->offset) {
      out[wanted[next++].second].reset();
    }
    if (next < wanted.size() && wanted[next].first == m->offset) {
      out[wanted[next++].second] =
          std::string(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    }
  }
}

}  // namespace sentinel
