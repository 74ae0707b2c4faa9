#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ingest/chunk_builder.h"
#include "ingest/kafka_consumer.h"
#include "pipeline/chunk_queue.h"
#include "pipeline/metrics.h"
#include "sinks/pg_connection.h"

namespace sentinel {

/// Everything `sentinel-ingest run` can be told (defaults: architecture.md §1, for a 2-core box).
struct PipelineOptions {
  std::string pg_url;
  std::string brokers;
  std::string group = "sentinel-ingest";
  std::string audit_topic = "sentinel.audit";
  std::string invocations_topic = "sentinel.invocations";
  int writers = 2;
  size_t chunk_bytes = 256 << 10;
  size_t batch_rows = 50'000;
  size_t batch_bytes = 16 << 20;
  /// How long a writer waits for more rows before committing a batch smaller than the limits.
  /// 0: commit what is queued as soon as the previous transaction is done; batches still grow
  /// with the load, because rows queue up while a transaction commits.
  std::chrono::milliseconds linger{0};
  size_t inflight_budget_bytes = 64 << 20;
  /// A writer over its budget first slows the consumer down (messages stay in librdkafka's
  /// fetch queue); only if it stays over this long are its partitions paused. Pausing makes
  /// librdkafka drop what it had fetched and fetch it again on resume, so it is kept for
  /// long stalls (PostgreSQL down), not for the ordinary case of PostgreSQL being slower than
  /// Kafka.
  std::chrono::milliseconds pause_after{2000};
  /// Where a partition with no stored offset starts: "earliest" or "latest".
  std::string offset_reset = "earliest";
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  ParserLimits limits;
  std::chrono::seconds status_interval{10};
  /// How long a graceful stop may spend committing what is in flight.
  std::chrono::milliseconds drain_timeout{8000};
  /// Longest wait between reconnection attempts to PostgreSQL.
  std::chrono::milliseconds max_backoff{10000};
};

/// The running ingestor: one consumer thread (the caller of run()) building chunks, and
/// `writers` writer threads each owning one PostgreSQL connection and the Kafka partitions that
/// map to it (so a partition's offsets advance in order).
///
/// Backpressure: each writer has a byte budget (inflight_budget / writers) for its queued and
/// in-transaction chunks. When the writers still fetching are over their budgets together, the
/// consumer is throttled (a few messages every 10 ms; prefetched ones wait in librdkafka's
/// bounded queue). A writer over its share for `pause_after` (stalled) has its partitions paused
/// while the consumer keeps polling (so it stays in the group); they resume below half its share.
/// A writer's batch takes at most half its share, so the next batch is built while it commits.
class Pipeline final : public RebalanceListener {
 public:
  Pipeline(PipelineOptions options, Metrics& metrics);
  ~Pipeline() override;

  /// Runs until `stop` becomes true (then drains and leaves the group) or a fatal error.
  /// Returns the process exit code: 0 clean stop, 1 runtime failure, 2 configuration error.
  int run(const std::atomic<bool>& stop);

  /// The message of the fatal error that ended run(), if any.
  std::string fatal_message() const;

  /// True when run() returned while a writer was still blocked inside libpq: the caller must
  /// end the process (std::_Exit) instead of destroying the Pipeline.
  bool abandoned_writers() const { return abandoned_writers_; }

  void on_assign(std::vector<TopicPartition>& partitions) override;
  void on_revoke(const std::vector<TopicPartition>& partitions) override;

 private:
  using Key = std::pair<int, int32_t>;  // (topic index, partition)
  /// The offset a partition with nothing stored in PostgreSQL is assigned at (--offset-reset).
  int64_t start_when_nothing_stored() const;
  struct Assigned {
    bool paused = false;
  };
  /// Why a partition waits for its stored offset to be read (and a seek there) before anything
  /// is built for it.
  enum class Pending {
    kAssigned,    ///< just assigned while PostgreSQL did not answer
    kFenced,      ///< a writer's compare-and-set failed: another instance moved it
    kBehind,      ///< the database holds less than was committed (failover, restore)
    kSeekFailed,  ///< the seek to the stored offset did not happen
    kGapAtStart,  ///< the first message came past the stored offset: seek there again
  };
  /// Longest a libpq call on the consumer thread may wait (connect, then the query).
  static constexpr std::chrono::milliseconds kControlTimeout{3000};
  /// Longest wait between two tries of the control connection after a failure.
  static constexpr std::chrono::milliseconds kControlMaxBackoff{4000};
  /// How often the consumer thread re-reads the stored offsets of its partitions.
  static constexpr std::chrono::milliseconds kProgressCheckInterval{2000};

  int writer_of(const Key& key) const;
  void dispatch(ChunkPtr chunk);
  void release(const Chunk& chunk, int writer);
  void apply_backpressure();
  void handle_fences();
  void resolve_pending();
  /// Marks a partition pending (consumer thread, epochs_mutex_ held): its queued chunks become
  /// stale, nothing is built for it until resolve_pending() reads its stored offset and seeks.
  void make_pending(const Key& key, Pending why);
  /// The database is the truth about progress (architecture.md §4): every kProgressCheckInterval,
  /// and as soon as a connection was lost and works again, re-reads the stored offsets of every
  /// owned partition and sends back to pending (then to the stored offset) each one the database
  /// holds less of than this instance committed; without waiting for new traffic. Also notices (and
  /// logs) when the server's identity changed.
  void check_progress();
  /// Partitions the builder refused to start (first message past the stored offset): seek again.
  void handle_refused_starts();
  /// PostgreSQL answered (or not) on the control connection: sets the retry time and backoff
  /// shared by resolve_pending() and check_progress().
  void control_answered(bool ok);
  void commit_to_kafka();
  void update_lag();
  void log_status(std::chrono::steady_clock::time_point& last, uint64_t& last_messages);
  void fatal(int code, std::string message);
  std::optional<std::map<Key, int64_t>> try_load_stored_offsets(const std::vector<Key>& keys);

  void writer_loop(int writer);
  void write_batch(int writer, class BatchWriter& bw, std::vector<ChunkPtr>& batch);
  bool is_current(const Chunk& chunk);

  PipelineOptions options_;
  Metrics& metrics_;
  std::vector<std::string> topics_;

  // Consumer-thread state.
  ChunkBuilder builder_;
  PgConnection control_;  // loads stored offsets; every call bounded by kControlTimeout
  std::map<Key, Assigned> assigned_;
  // Assigned (or fenced, or behind) partitions whose stored offset is not known yet, or whose
  // seek there has not happened: kept paused, nothing built for them, retried from the poll loop
  // with backoff — never by blocking inside a rebalance callback.
  std::map<Key, Pending> pending_;
  // When the control connection may be used again, and the backoff after a failure.
  std::chrono::steady_clock::time_point control_retry_at_{};
  std::chrono::milliseconds control_backoff_{100};
  std::chrono::steady_clock::time_point next_progress_check_{};
  /// A connection to PostgreSQL was lost (control or writer): the next check that succeeds runs
  /// on a new connection, possibly to another server, and must happen soon.
  std::atomic<bool> connection_lost_{false};
  std::string server_identity_;  ///< of the server the last check reached ("" unknown)
  std::vector<bool> writer_paused_;
  /// Since when each writer has been over its budget (unset: it is not).
  std::vector<std::optional<std::chrono::steady_clock::time_point>> over_budget_since_;
  /// Some writer is over budget and not paused yet: poll slowly, keep chunks open.
  bool throttled_ = false;
  // Where the consumer thread's time goes, since the last status line: waiting in poll() for
  // Kafka, and held back because the writers are over their budget.
  std::chrono::steady_clock::duration waited_for_kafka_{};
  std::chrono::steady_clock::duration throttled_for_{};
  uint64_t next_epoch_ = 1;
  const std::atomic<bool>* stop_ = nullptr;

  // Shared with writers.
  std::mutex epochs_mutex_;
  std::map<Key, uint64_t> epochs_;  ///< assigned partitions and their current epoch
  std::vector<std::unique_ptr<ChunkQueue>> queues_;
  std::unique_ptr<std::atomic<int64_t>[]> inflight_;  ///< bytes per writer
  std::mutex fence_mutex_;
  std::vector<Key> fence_requests_;
  std::mutex commit_mutex_;
  std::map<Key, int64_t> to_commit_;  ///< committed to PostgreSQL, not yet to Kafka
  std::map<Key, int64_t> committed_;  ///< consumer thread: last committed next offsets
  std::atomic<bool> writers_stop_{false};
  std::atomic<bool> hard_stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<int> writers_done_{0};  ///< writer threads that have left writer_loop
  bool abandoned_writers_ = false;
  mutable std::mutex fatal_mutex_;
  int fatal_code_ = 0;
  std::string fatal_message_;

  std::unique_ptr<KafkaConsumer> consumer_;
  std::vector<std::thread> writer_threads_;
};

}  // namespace sentinel
