#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ingest/chunk_builder.h"
#include "ingest/kafka_consumer.h"
#include "pipeline/backpressure.h"
#include "pipeline/failure.h"
#include "pipeline/metrics.h"
#include "pipeline/offset_coordinator.h"
#include "pipeline/pipeline_options.h"
#include "pipeline/stored_offsets.h"
#include "pipeline/writer_pool.h"

namespace sentinel {

/// The consumer thread: polls Kafka, hands messages to the chunk builder and full chunks to the
/// writers; serves rebalances (starting each partition at its stored offset, seeking pending
/// ones there once PostgreSQL answers), checks the stored offsets against what was committed,
/// pauses and throttles as the backpressure controller decides, and commits offsets to Kafka
/// for lag tools.
class ConsumerLoop final : public RebalanceListener {
 public:
  /// The cycle's rules (the sink-only bench feeds the pipeline by the same ones): at most
  /// kMaxPerCycle messages between the housekeeping steps; while throttled, a wait of
  /// kThrottleWait and then at most kThrottledPerCycle; partly filled chunks handed over when
  /// nothing more is waiting, or every kFlushInterval under a backlog.
  static constexpr int kMaxPerCycle = 2000;
  static constexpr int kThrottledPerCycle = 64;
  static constexpr std::chrono::milliseconds kThrottleWait{10};
  static constexpr std::chrono::milliseconds kFlushInterval{20};

  /// The parts it drives; all outlive it.
  struct Parts {
    ChunkBuilder& builder;
    OffsetCoordinator& offsets;
    Backpressure& budget;
    WriterPool& writers;
    StoredOffsets& stored;
    Failure& failure;
  };

  ConsumerLoop(const PipelineOptions& options, const std::vector<std::string>& topics,
               Metrics& metrics, Parts parts);

  /// Joins the group (subscribes); rebalances are served from run().
  void open(const std::atomic<bool>& stop);
  /// Polls until `stop` becomes true or the run fails.
  void run();
  /// Graceful stop: hands the chunks still open to the writers.
  void flush();
  /// Commits what the writers committed to Kafka, then leaves the group within `budget`.
  void close(std::chrono::milliseconds budget);

  void on_assign(std::vector<TopicPartition>& partitions) override;
  void on_revoke(const std::vector<TopicPartition>& partitions) override;

 private:
  using Clock = std::chrono::steady_clock;

  /// The offset a partition with nothing stored in PostgreSQL is assigned at (--offset-reset).
  int64_t start_when_nothing_stored() const;
  /// Starts a partition at its stored offset (`stored`: what the database holds) and returns
  /// where Kafka must deliver from, and as text for the log.
  int64_t start(const PartitionKey& key, const std::map<PartitionKey, int64_t>& stored,
                bool confirm_gap, std::string& at);
  /// Reads the stored offsets of pending partitions (after the control backoff) and seeks them
  /// there; a partition whose seek failed stays pending.
  void resolve_pending();
  static void log_resolved(const std::string& topic, int32_t partition, Pending why,
                           const std::string& at);
  /// The database is the truth about progress (architecture.md §4): every kProgressCheckInterval,
  /// and as soon as a connection was lost and works again, re-reads the stored offsets of every
  /// owned partition and sends back to pending (then to the stored offset) each one the database
  /// holds less of than this instance committed; without waiting for new traffic.
  void check_progress();
  /// Partitions the builder refused to start (first message past the stored offset): seek again.
  void handle_refused_starts();
  /// Pauses the partitions of paused writers and pending partitions, resumes the others.
  void apply_backpressure();
  /// Over budget: hold the consumer back a little before the next cycle.
  void throttle();
  /// Polls up to `max` messages into the builder; returns whether Kafka had nothing more.
  bool poll_cycle(int max);
  /// Builds one message; false when the run must stop (a message of an unknown topic).
  bool take(const ConsumedMessage& m, int64_t now_us);
  /// Hands partly filled chunks over when nothing more is waiting, or every kFlushInterval.
  void hand_over(bool drained);
  /// Returns the free heap to the kernel (malloc_trim) when the last cycle drained the queue and
  /// nothing is in flight: after kIdleBeforeTrim without a message, or every kTrimInterval under a
  /// trickle; never twice without a message between.
  void give_back_memory_when_idle(bool drained);
  /// Logs what the builder noticed in the cycle: late starts and offsets Kafka skipped.
  void report_builder();
  void commit_to_kafka();
  void update_lag();
  void log_status();

  const PipelineOptions& options_;
  const std::vector<std::string>& topics_;
  Metrics& metrics_;
  Parts parts_;
  const std::atomic<bool>* stop_ = nullptr;
  std::unique_ptr<KafkaConsumer> consumer_;
  std::vector<ChunkPtr> ready_;
  Clock::time_point last_status_{}, last_commit_{}, last_flush_{};
  uint64_t last_messages_ = 0;
  /// When the last message was consumed, and whether the heap was given back since.
  Clock::time_point last_consumed_{}, last_trim_{};
  bool trimmed_since_consumed_ = false;
  // Where the consumer thread's time goes, since the last status line: waiting in poll() for
  // Kafka, and held back because the writers are over their budget.
  Clock::duration waited_for_kafka_{};
  Clock::duration throttled_for_{};
};

}  // namespace sentinel
