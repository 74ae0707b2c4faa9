#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rows/reject_reason.h"

namespace sentinel {

/// A Prometheus histogram with fixed buckets; observe() is lock-free and thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value, uint64_t count = 1);

  /// Observations counted on one thread without atomics, then added at once: a writer observes
  /// every row of a batch (three atomic adds per row cost ~3% of the ingestor's CPU).
  class Tally {
   public:
    explicit Tally(const Histogram& h) : bounds_(h.bounds_), buckets_(h.bounds_.size() + 1) {}
    void observe(double value, uint64_t count = 1);

   private:
    friend class Histogram;
    const std::vector<double>& bounds_;
    std::vector<uint64_t> buckets_;
    uint64_t sum_micros_ = 0;
    uint64_t count_ = 0;
  };
  void add(const Tally& t);

  /// Appends the _bucket/_sum/_count lines for `name` (with HELP and TYPE).
  void render(std::string& out, const std::string& name, const std::string& help) const;
  /// The value below which `q` (0..1) of observations fall, by linear interpolation in buckets.
  double quantile(double q) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_micros_{0};
  std::atomic<uint64_t> count_{0};
};

/// Every metric the ingestor exports (architecture.md §7; names are a contract). Counters are
/// updated by the consumer and writer threads with relaxed atomics; render() may run on any thread.
struct Metrics {
  Metrics();

  /// Names the streams: the topics (by topic index) and the event tables (by catalog type
  /// index) that messages_consumed and rows_written count, all from zero. Call it before the
  /// threads that count start (render() may run meanwhile: it takes the same lock).
  void set_streams(std::vector<std::string> topic_names, std::vector<std::string> table_names);

  std::vector<std::string> topics;                       ///< by topic index (set_streams)
  std::vector<std::string> tables;                       ///< by catalog type index (set_streams)
  std::vector<std::atomic<uint64_t>> messages_consumed;  ///< by topic index
  std::vector<std::atomic<uint64_t>> rows_written;       ///< by catalog type index
  std::array<std::atomic<uint64_t>, kRejectReasonCount> rejects{};
  Histogram batch_commit_seconds;
  Histogram end_to_end_latency_seconds;
  Histogram ingest_latency_seconds;
  Histogram batch_rows;
  std::atomic<int64_t> inflight_bytes{0};
  std::atomic<int> pg_up{0};
  std::atomic<int> assigned_partitions{0};
  std::atomic<int> paused_partitions{0};
  /// Wall-clock time of the last committed batch (0: none yet); a stall shows as its age.
  std::atomic<int64_t> last_commit_unix_ms{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batch_bytes{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> bisections{0};
  std::atomic<uint64_t> partitions_ensured{0};
  std::atomic<uint64_t> fenced{0};
  std::atomic<uint64_t> duplicates_skipped{0};
  std::atomic<uint64_t> offsets_skipped_by_kafka{0};
  /// Microseconds the consumer was held back because the writers were over the in-flight budget.
  std::atomic<uint64_t> throttled_micros{0};
  std::atomic<uint64_t> rebalances{0};
  /// Kafka brokers librdkafka is connected to (state UP), from its statistics every few seconds;
  /// -1 until the first statistics (or with statistics.interval.ms=0): then not exported.
  std::atomic<int> kafka_brokers_up{-1};
  /// Rejects still to replay (never replayed, or found invalid by the last replay), by stored
  /// reason, read from ingest_rejects every minute (app/reject_backlog.h); not exported until
  /// rejects_pending_known.
  std::array<std::atomic<int64_t>, kRejectReasonCount> rejects_pending{};
  std::atomic<bool> rejects_pending_known{false};

  /// The labels of sentinel_ingest_build_info: what is running, for dashboards and incidents.
  struct BuildInfo {
    std::string version;     ///< the project's version (CMake)
    std::string commit;      ///< git commit at configure time ("unknown" outside git)
    std::string librdkafka;  ///< librdkafka's run-time version
  };
  BuildInfo build;

  /// Guards the stream names and counters against set_streams() while render() runs.
  std::mutex streams_mutex;

  /// (topic index, partition) → lag in messages; guarded by lag_mutex.
  std::mutex lag_mutex;
  std::map<std::pair<int, int32_t>, int64_t> consumer_lag;

  /// Prometheus text exposition format 0.0.4.
  std::string render();
};

}  // namespace sentinel
