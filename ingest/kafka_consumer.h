#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ingest/kafka_handle.h"

namespace sentinel {

/// One partition of a subscribed topic, by the topic's index in the consumer's topic list.
struct TopicPartition {
  int topic_index = 0;
  int32_t partition = 0;
  int64_t offset = RD_KAFKA_OFFSET_INVALID;  ///< where to start, set by on_assign
};

/// Told about rebalances, on the consumer's thread, from inside poll().
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  /// Partitions are being assigned: set each one's start offset (e.g. the next_offset stored in
  /// PostgreSQL, or RD_KAFKA_OFFSET_BEGINNING). Runs before they are assigned.
  virtual void on_assign(std::vector<TopicPartition>& partitions) = 0;
  /// Partitions are being taken away (or were lost): stop building chunks for them.
  virtual void on_revoke(const std::vector<TopicPartition>& partitions) = 0;
};

/// One message (or error event) taken from the consumer, owned until destroyed: pipeline/ reads
/// it through these accessors and never names a librdkafka symbol (like ClickHouse's
/// KafkaConsumer currentTopic()/currentOffset()). It holds only librdkafka's message pointer and
/// the topic index: moving it moves the pointer, the payload is a view into librdkafka's buffer
/// (never copied), and nothing is allocated per message.
class ConsumedMessage {
 public:
  /// What kind of error event it is, for what the caller must tell apart.
  enum class Error {
    kNone,          ///< a message
    kPartitionEof,  ///< the end of a partition was reached (not an error; only when enabled)
    kFatal,         ///< the client cannot go on (a fatal librdkafka error)
    kOther,         ///< anything else: logged; librdkafka retries by itself
  };

  ConsumedMessage() = default;
  ConsumedMessage(KafkaMessage message, int topic_index)
      : message_(std::move(message)), topic_index_(topic_index) {}

  /// False when poll() timed out with nothing.
  explicit operator bool() const { return message_ != nullptr; }
  Error error() const {
    switch (message_->err) {
      case RD_KAFKA_RESP_ERR_NO_ERROR:
        return Error::kNone;
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return Error::kPartitionEof;
      case RD_KAFKA_RESP_ERR__FATAL:
        return Error::kFatal;
      default:
        return Error::kOther;
    }
  }
  /// librdkafka's description of the error (or the message's payload as text for some errors).
  const char* error_text() const { return rd_kafka_message_errstr(message_.get()); }
  /// Index in ConsumerOptions::topics; -1 for an unknown topic or an error event.
  int topic_index() const { return topic_index_; }
  /// The topic's name as librdkafka knows it ("(none)" without a topic), for error messages.
  const char* topic_name() const {
    return message_->rkt != nullptr ? rd_kafka_topic_name(message_->rkt) : "(none)";
  }
  int32_t partition() const { return message_->partition; }
  int64_t offset() const { return message_->offset; }
  /// The message's timestamp in ms since the epoch (create or log-append time), -1 without one.
  int64_t timestamp_ms() const {
    rd_kafka_timestamp_type_t type;
    return rd_kafka_message_timestamp(message_.get(), &type);
  }
  /// A view of the payload, valid while this object lives; empty for a tombstone.
  std::string_view payload() const {
    return message_->payload != nullptr
               ? std::string_view(static_cast<const char*>(message_->payload), message_->len)
               : std::string_view();
  }

 private:
  KafkaMessage message_;
  int topic_index_ = -1;
};

struct ConsumerOptions {
  std::string brokers;
  std::string group = "sentinel-ingest";
  std::vector<std::string> topics;
  /// Extra librdkafka properties (--kafka-prop), applied last: they win.
  std::vector<std::pair<std::string, std::string>> properties;
  /// When set, librdkafka's statistics (every kStatsIntervalMs, unless `properties` says
  /// otherwise) store the number of brokers in state UP here (kafka_brokers_up). Must outlive
  /// the consumer.
  std::atomic<int>* brokers_up = nullptr;
};

/// The group's default assignor. librdkafka's cooperative-sticky assignor crashes the process in
/// Debian 12's librdkafka 2.0.2: its group leader dereferences an empty consumer list in
/// balance() (SIGSEGV in rdk:main, seen in the chaos run), and destroy() asserts on a member that
/// never got an assignment (D12b). The eager round-robin assignor has neither path; a rebalance
/// revokes every partition, which costs a stored-offset read per partition and nothing more:
/// offsets are PostgreSQL's, so no row is lost or doubled (D31). `--kafka-prop
/// partition.assignment.strategy=cooperative-sticky` still selects it.
inline constexpr const char* kDefaultAssignmentStrategy = "roundrobin";

/// A librdkafka KafkaConsumer in a consumer group (kDefaultAssignmentStrategy unless the
/// properties say otherwise; eager and cooperative protocols both handled), auto commit and auto
/// offset store off: offsets are ours (stored in PostgreSQL). All calls but commit_async() and
/// set_backlog() belong to the one consumer thread.
///
/// It also runs a "fetch nudger" thread. librdkafka stops fetching while its prefetch queue is
/// over `queued.max.messages.kbytes`, and a broker thread with nothing in flight looks again only
/// when something wakes it: in librdkafka 2.0 (Debian 12's) that is after up to 1 s, a fixed
/// wait that 2.2 made configurable as `fetch.queue.backoff.ms`. Under a backlog the queue is
/// full most of the time, so the fetchers slept for a large part of it
/// (bench/results/2026-11-25.md, sixth session). While set_backlog(true), the nudger asks each
/// partition leader for its log end (ListOffsets, through rd_kafka_offsets_for_times) every 50 ms:
/// sending the request wakes the broker thread, which then fetches if the queue has room. The
/// answers are not used, and not waited for beyond 10 ms: a broker with nothing to send holds each
/// fetch, and with it the answers on that connection, for fetch.wait.max.ms.
class KafkaConsumer {
 public:
  KafkaConsumer(const ConsumerOptions& options, RebalanceListener* listener);
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  /// Assign a partition at this offset to start at its log end (the next message produced).
  static constexpr int64_t kOffsetEnd = RD_KAFKA_OFFSET_END;

  /// The next message or event (empty after `timeout_ms` with nothing). Serves rebalances.
  ConsumedMessage poll(int timeout_ms);

  void pause(const std::vector<TopicPartition>& partitions);
  void resume(const std::vector<TopicPartition>& partitions);
  /// Moves the fetch position of assigned partitions to their `offset` (waits up to 2 s for
  /// librdkafka to acknowledge). Returns the partitions whose seek failed: their fetch position is
  /// unknown, so nothing may be built from what they deliver until a seek succeeds.
  std::vector<TopicPartition> seek(const std::vector<TopicPartition>& partitions);
  /// Commits offsets to Kafka for lag tools; never for correctness. Thread-safe.
  void commit_async(const std::vector<TopicPartition>& partitions);
  /// High watermark (log end) last seen for a partition, -1 if unknown. No network call.
  int64_t high_watermark(const TopicPartition& tp);
  /// Asks the partition leaders for the log end of each partition (one request per broker),
  /// waiting at most `timeout_ms`: for partitions not fetched yet (just assigned, or paused),
  /// whose high_watermark() is unknown. Sets each `offset` (-1 where there was no answer).
  void query_high_watermarks(std::vector<TopicPartition>& partitions, int timeout_ms);
  /// Whether messages are still waiting after a poll cycle (a backlog): the nudger runs only
  /// then. Thread-safe.
  void set_backlog(bool backlog) { backlog_.store(backlog, std::memory_order_relaxed); }
  /// How many nudges were sent (for tests).
  uint64_t nudges() const { return nudges_.load(std::memory_order_relaxed); }
  /// How often librdkafka reports its statistics when ConsumerOptions::brokers_up is set.
  static constexpr int kStatsIntervalMs = 5000;
  /// How long close() waits by default for librdkafka to leave the group.
  static constexpr std::chrono::milliseconds kCloseTimeout{5000};
  /// Leaves the group: revokes everything through the listener first, completes any rebalance
  /// librdkafka hands over meanwhile (an assignment is taken and given back without asking the
  /// listener), and waits up to `timeout` for librdkafka to finish. Returns whether it did; if
  /// not, the group notices the departure by session timeout. Either way nothing is committed
  /// here: offsets are PostgreSQL's. Idempotent.
  bool close(std::chrono::milliseconds timeout = kCloseTimeout);
  /// Whether the destructor will leave the librdkafka handle to the process's exit instead of
  /// destroying it (see keep_handle_). For tests.
  bool keeps_handle() const { return keep_handle_; }

  const std::vector<std::string>& topics() const { return topics_; }
  rd_kafka_t* raw() { return rk_.get(); }

 private:
  /// Index of a message's topic in ConsumerOptions::topics (-1 if unknown).
  int topic_index(const rd_kafka_message_t* m) const;
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque);
  /// Served by poll() on the consumer thread once per statistics interval (not per message).
  static int stats_cb(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  KafkaPartitionList to_list(const std::vector<TopicPartition>& partitions) const;
  std::vector<TopicPartition> from_list(const rd_kafka_topic_partition_list_t* list) const;
  void nudge_loop();
  void stop_nudger();
  /// rd_kafka_consumer_close_queue(), served (rebalances included) until librdkafka says the
  /// consumer is closed or `timeout` passes.
  bool leave_group(std::chrono::milliseconds timeout);

  std::vector<std::string> topics_;
  RebalanceListener* listener_;
  std::atomic<int>* brokers_up_;  ///< ConsumerOptions::brokers_up (may be null)
  bool closed_ = false;
  bool closing_ = false;  ///< inside close(): assignments are completed, not reported
  /// An assignment came through the rebalance callback at least once. librdkafka runs the
  /// assignor's on-assignment hook, which creates the cooperative-sticky assignor's state, just
  /// before it hands the assignment over; until then that state is null.
  bool assigned_once_ = false;
  /// rd_kafka_destroy() must not run on rk_: librdkafka before 2.3.0 asserts
  /// (`rd_kafka_sticky_assignor_state_destroy: Assertion 'assignor_state' failed`, SIGABRT) when
  /// a member that joined the group (its JoinGroup chose cooperative-sticky) is destroyed before
  /// a SyncGroup gave it an assignment, as during a rebalance that other members keep
  /// restarting; or close() gave up waiting. The handle is then left to the process's exit.
  bool keep_handle_ = false;
  KafkaHandle rk_;
  /// One handle per topic, in topics_ order, taken before subscribing: librdkafka keeps one
  /// topic object per name, and messages point at it. Destroyed before rk_.
  std::vector<KafkaTopic> handles_;

  // The fetch nudger (see the class comment).
  static constexpr std::chrono::milliseconds kNudgeInterval{50};
  static constexpr std::chrono::milliseconds kNudgeAnswerWait{10};
  std::mutex nudge_mutex_;
  std::condition_variable nudge_cv_;
  bool nudge_stop_ = false;  ///< under nudge_mutex_
  std::atomic<bool> backlog_{false};
  std::atomic<uint64_t> nudges_{0};
  std::thread nudger_;  ///< started last in the constructor, joined by close()
};

}  // namespace sentinel
