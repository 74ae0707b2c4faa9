#include "testkit/publisher.h"

namespace sentinel {

Publisher::Publisher(const std::string& brokers,
                     std::vector<std::pair<std::string, std::string>> props) {
  std::vector<std::pair<std::string, std::string>> all = {
      {"bootstrap.servers", brokers},
      {"enable.idempotence", "true"},
      {"compression.codec", "lz4"},
      {"linger.ms", "20"},
      {"batch.size", "1000000"},
      {"queue.buffering.max.kbytes", "262144"},
      {"client.id", "sentinel-ingest-publish"},
  };
  all.insert(all.end(), props.begin(), props.end());
  KafkaConf conf = make_kafka_conf(all);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Publisher::delivery_cb);
  rd_kafka_conf_set_opaque(conf.get(), this);
  std::string err;
  rk_ = new_kafka_client(RD_KAFKA_PRODUCER, conf, err);
  if (!rk_) throw KafkaError("Kafka producer: " + err);
}

Publisher::~Publisher() {
  if (rk_) rd_kafka_flush(rk_.get(), 10000);
}

void Publisher::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Publisher*>(opaque);
  if (m->err) {
    if (self->failed_.fetch_add(1) == 0) self->first_error_ = rd_kafka_err2str(m->err);
  } else {
    self->delivered_.fetch_add(1);
  }
}

void Publisher::await_topics(const std::vector<std::string>& topics, int timeout_ms) {
  for (const std::string& topic : topics) {
    KafkaTopic rkt(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr));
    if (!rkt) throw KafkaError("topic " + topic + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, rkt.get(), &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError("metadata of " + topic + ": " + rd_kafka_err2str(err));
    }
    const rd_kafka_resp_err_t topic_err =
        md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    rd_kafka_metadata_destroy(md);
    if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError("metadata of " + topic + ": " + rd_kafka_err2str(topic_err));
    }
    topics_.push_back(std::move(rkt));  // kept, with the leaders just learned
  }
}

void Publisher::produce(const std::string& topic, std::string_view key, std::string_view payload) {
  for (;;) {
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      throw KafkaError("produce to " + topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk_.get(), 50);  // wait for room
  }
  rd_kafka_poll(rk_.get(), 0);
}

void Publisher::flush() {
  while (rd_kafka_flush(rk_.get(), 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
  }
  if (failed_.load() > 0) {
    throw KafkaError(std::to_string(failed_.load()) +
                     " messages were not delivered: " + first_error_);
  }
}

}  // namespace sentinel
