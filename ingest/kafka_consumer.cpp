#include "ingest/kafka_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "ingest/kafka_stats.h"

namespace sentinel {

KafkaConsumer::KafkaConsumer(const ConsumerOptions& options, RebalanceListener* listener)
    : topics_(options.topics), listener_(listener), brokers_up_(options.brokers_up) {
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group},
      // Eager, not cooperative-sticky: see kDefaultAssignmentStrategy in the header.
      {"partition.assignment.strategy", kDefaultAssignmentStrategy},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      // Only when a stored offset no longer exists in Kafka (deleted by retention): start at the
      // oldest message still there rather than skip to the end.
      {"auto.offset.reset", "earliest"},
      {"client.id", "sentinel-ingest"},
      {"session.timeout.ms", "45000"},
      // A fetch response is decompressed at once: with lz4 ~4x, 4 MiB per broker and request
      // is ~16 MiB of messages, enough to keep the writers fed without bursts of memory.
      {"fetch.max.bytes", "4194304"},
      // Prefetch up to 16 MiB of messages, counted in bytes only (the default 100 000-message
      // floor stopped fetching at ~45 MB of these events). With the nudger (see the header)
      // librdkafka fetches again as soon as the queue has room. Since decompression buffers are
      // reused from the heap (app/allocator.h) the fetchers keep ahead with 16 MiB as they did
      // with 32, and the process peaks ~40 MiB lower (bench/results/2026-11-25.md, ninth session).
      {"queued.max.messages.kbytes", "16384"},
      {"queued.min.messages", "1000000"},
  };
  if (brokers_up_ != nullptr) {
    props.emplace_back("statistics.interval.ms", std::to_string(kStatsIntervalMs));
  }
  props.insert(props.end(), options.properties.begin(), options.properties.end());
  KafkaConf conf = make_kafka_conf(props);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::rebalance_cb);
  if (brokers_up_ != nullptr) rd_kafka_conf_set_stats_cb(conf.get(), &KafkaConsumer::stats_cb);
  rd_kafka_conf_set_opaque(conf.get(), this);
  std::string err;
  rk_ = new_kafka_client(RD_KAFKA_CONSUMER, conf, err);
  if (!rk_) throw KafkaError("Kafka consumer: " + err);
  rd_kafka_poll_set_consumer(rk_.get());
  for (const auto& t : topics_) {
    handles_.emplace_back(rd_kafka_topic_new(rk_.get(), t.c_str(), nullptr));
    if (!handles_.back()) {
      throw KafkaError("Kafka topic " + t + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    }
  }

  KafkaPartitionList subscription(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size())));
  for (const auto& t : topics_) {
    rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto e = rd_kafka_subscribe(rk_.get(), subscription.get())) {
    throw KafkaError(std::string("Kafka subscribe: ") + rd_kafka_err2str(e));
  }
  nudger_ = std::thread([this] { nudge_loop(); });
}

KafkaConsumer::~KafkaConsumer() {
  try {
    close();
  } catch (...) {
    // Destruction must not throw; the group notices the departure by session timeout.
  }
  if (keep_handle_) {
    // Its threads end with the process; the topic handles only drop their references.
    (void)rk_.release();
  }
}

namespace {

/// librdkafka before 2.3.0 destroys the cooperative-sticky assignor's state without checking
/// that there is one (librdkafka issue 4312, fixed by pull request 4381).
bool destroy_asserts_without_assignor_state() { return rd_kafka_version() < 0x020300ff; }

}  // namespace

bool KafkaConsumer::close(std::chrono::milliseconds timeout) {
  stop_nudger();
  if (closed_ || !rk_) return !keep_handle_;
  closed_ = true;
  closing_ = true;
  const bool left = leave_group(timeout);
  closing_ = false;
  if (!left) {
    // rd_kafka_destroy() would wait for the same termination, without a bound.
    spdlog::warn(
        "Kafka: leaving the group took over {} ms; the group will notice by session "
        "timeout",
        timeout.count());
    keep_handle_ = true;
  } else if (!assigned_once_ && destroy_asserts_without_assignor_state()) {
    // A member that never got an assignment (it joined while the group kept rebalancing) has no
    // sticky-assignor state, and rd_kafka_destroy() would abort the process on it.
    spdlog::debug("Kafka: left the group before any assignment; not destroying the client");
    keep_handle_ = true;
  }
  return left;
}

bool KafkaConsumer::leave_group(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  KafkaQueue queue(rd_kafka_queue_new(rk_.get()));
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_.get(), queue.get())) {
    // Still closing (e.g. after a fatal error), or closed already: served below either way.
    spdlog::warn("Kafka close: {}", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  while (!rd_kafka_consumer_closed(rk_.get())) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    KafkaEvent event(
        rd_kafka_queue_poll(queue.get(), static_cast<int>(std::min<int64_t>(left.count(), 100))));
    if (!event) continue;
    switch (rd_kafka_event_type(event.get())) {
      case RD_KAFKA_EVENT_REBALANCE:
        // The revocation of what is assigned, or an assignment that raced the close: either
        // must be completed (incremental unassign/assign) for librdkafka to finish closing.
        rebalance_cb(rk_.get(), rd_kafka_event_error(event.get()),
                     rd_kafka_event_topic_partition_list(event.get()), this);
        break;
      case RD_KAFKA_EVENT_ERROR:
        spdlog::warn("Kafka (closing): {}", rd_kafka_event_error_string(event.get()));
        break;
      default:
        break;  // messages fetched before the unassignment: not used, never committed
    }
  }
  return true;
}

ConsumedMessage KafkaConsumer::poll(int timeout_ms) {
  KafkaMessage m(rd_kafka_consumer_poll(rk_.get(), timeout_ms));
  const int topic = m && !m->err ? topic_index(m.get()) : -1;
  return ConsumedMessage(std::move(m), topic);
}

int KafkaConsumer::topic_index(const rd_kafka_message_t* m) const {
  // Compares pointers and reads nothing of librdkafka's topic object, which its threads update.
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (m->rkt == handles_[i].get()) return static_cast<int>(i);
  }
  return -1;
}

KafkaPartitionList KafkaConsumer::to_list(const std::vector<TopicPartition>& partitions) const {
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) {
    auto* e = rd_kafka_topic_partition_list_add(list.get(), topics_[tp.topic_index].c_str(),
                                                tp.partition);
    e->offset = tp.offset;
  }
  return list;
}

std::vector<TopicPartition> KafkaConsumer::from_list(
    const rd_kafka_topic_partition_list_t* list) const {
  std::vector<TopicPartition> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    const auto it = std::find(topics_.begin(), topics_.end(), e.topic);
    if (it == topics_.end()) continue;
    out.push_back({static_cast<int>(it - topics_.begin()), e.partition, e.offset});
  }
  return out;
}

int KafkaConsumer::stats_cb(rd_kafka_t*, char* json, size_t json_len, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  const int up = kafka_brokers_up(std::string_view(json, json_len));
  if (up >= 0) self->brokers_up_->store(up, std::memory_order_relaxed);
  return 0;  // librdkafka frees `json`
}

void KafkaConsumer::rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->assigned_once_ = true;
    auto partitions = self->from_list(parts);
    // While closing, nothing will be read: the assignment is only completed (librdkafka waits
    // for it) and revoked again by the close; the listener is not asked to load offsets.
    if (!self->closing_) self->listener_->on_assign(partitions);
    KafkaPartitionList list = self->to_list(partitions);
    rd_kafka_error_t* e = nullptr;
    if (cooperative) {
      e = rd_kafka_incremental_assign(rk, list.get());
    } else if (auto code = rd_kafka_assign(rk, list.get())) {
      spdlog::error("Kafka assign: {}", rd_kafka_err2str(code));
    }
    if (e != nullptr) {
      spdlog::error("Kafka incremental assign: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    return;
  }
  // Revoked, lost, or an error: stop working on these partitions before giving them up.
  self->listener_->on_revoke(self->from_list(parts));
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
      spdlog::error("Kafka incremental unassign: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void KafkaConsumer::pause(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  auto list = to_list(partitions);
  rd_kafka_pause_partitions(rk_.get(), list.get());
}

void KafkaConsumer::resume(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  auto list = to_list(partitions);
  rd_kafka_resume_partitions(rk_.get(), list.get());
}

std::vector<TopicPartition> KafkaConsumer::seek(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return {};
  auto list = to_list(partitions);
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_.get(), list.get(), 2000)) {
    // The call as a whole failed (e.g. timed out): none of the seeks is known to have happened.
    spdlog::warn("Kafka seek: {}", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return partitions;
  }
  std::vector<TopicPartition> failed;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err) {
      spdlog::warn("Kafka seek {} [{}]: {}", list->elems[i].topic, list->elems[i].partition,
                   rd_kafka_err2str(list->elems[i].err));
      failed.push_back(partitions[static_cast<size_t>(i)]);
    }
  }
  return failed;
}

void KafkaConsumer::commit_async(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty() || closed_) return;
  auto list = to_list(partitions);
  rd_kafka_commit(rk_.get(), list.get(), 1);
}

void KafkaConsumer::nudge_loop() {
  std::unique_lock lock(nudge_mutex_);
  while (!nudge_stop_) {
    nudge_cv_.wait_for(lock, kNudgeInterval, [this] { return nudge_stop_; });
    if (nudge_stop_ || !backlog_.load(std::memory_order_relaxed)) continue;
    lock.unlock();
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk_.get(), &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaPartitionList list(assigned);
      for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = RD_KAFKA_OFFSET_END;  // latest
      // Sending the requests is the nudge; the answers are not needed. A broker answers a
      // connection's requests in order, so one holding a fetch for fetch.wait.max.ms (it has
      // nothing to send) would hold this call as long, and the other brokers' fetchers would
      // wait for their next nudge (bench/results/2026-11-25.md, seventh session). So the call waits
      // only kNudgeAnswerWait: librdkafka drops answers that come later. A broker that does not
      // answer at all is not logged here: the consumer reports it.
      if (list->cnt > 0) {
        rd_kafka_offsets_for_times(rk_.get(), list.get(),
                                   static_cast<int>(kNudgeAnswerWait.count()));
        nudges_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    lock.lock();
  }
}

void KafkaConsumer::stop_nudger() {
  {
    std::lock_guard lock(nudge_mutex_);
    nudge_stop_ = true;
  }
  nudge_cv_.notify_all();
  if (nudger_.joinable()) nudger_.join();
}

int64_t KafkaConsumer::high_watermark(const TopicPartition& tp) {
  int64_t low = -1, high = -1;
  if (rd_kafka_get_watermark_offsets(rk_.get(), topics_[tp.topic_index].c_str(), tp.partition, &low,
                                     &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

void KafkaConsumer::query_high_watermarks(std::vector<TopicPartition>& partitions, int timeout_ms) {
  if (partitions.empty()) return;
  for (auto& tp : partitions) tp.offset = RD_KAFKA_OFFSET_END;  // the latest offset
  auto list = to_list(partitions);
  const auto err = rd_kafka_offsets_for_times(rk_.get(), list.get(), timeout_ms);
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& e = list->elems[i];
    partitions[i].offset = err == RD_KAFKA_RESP_ERR_NO_ERROR && !e.err ? e.offset : -1;
  }
}

}  // namespace sentinel
