#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/metrics.h"
#include "pipeline/offset_coordinator.h"
#include "sinks/pg_connection.h"

namespace sentinel {

/// The consumer thread's connection to PostgreSQL (the control connection): reads the stored
/// offsets of partitions, with every call bounded by kControlTimeout and a backoff after a
/// failure, so that the poll loop never blocks for long while PostgreSQL is away.
class StoredOffsets {
 public:
  using Clock = std::chrono::steady_clock;
  /// Longest a libpq call on the consumer thread may wait (connect, then the query).
  static constexpr std::chrono::milliseconds kControlTimeout{3000};
  /// Longest wait between two tries of the control connection after a failure.
  static constexpr std::chrono::milliseconds kControlMaxBackoff{4000};
  /// How often the stored offsets of owned partitions are re-read (check_due).
  static constexpr std::chrono::milliseconds kProgressCheckInterval{2000};

  StoredOffsets(const std::string& pg_url, std::string group, std::vector<std::string> topics,
                std::chrono::milliseconds max_backoff, Metrics& metrics, Failure& failure);

  /// Stops waits inside libpq calls when it becomes true.
  void set_stop(const std::atomic<bool>* stop) { stop_ = stop; }
  /// One attempt to read the stored offsets of `keys` (absent: nothing stored); unset when
  /// PostgreSQL did not answer (logged; the caller retries after ready()).
  std::optional<std::map<PartitionKey, int64_t>> load(const std::vector<PartitionKey>& keys);
  /// The backoff after a failure is over.
  bool ready() const { return Clock::now() >= retry_at_; }
  /// Time to re-read the stored offsets of owned partitions: every kProgressCheckInterval, or
  /// as soon as a connection was lost and may work again.
  bool check_due() const;
  /// Nothing to check now: the next check is one interval away.
  void checked_nothing() { next_check_ = Clock::now() + kProgressCheckInterval; }
  /// Like load(), for the periodic check: also notices (and logs) when the server's identity
  /// changed. Failures are logged at debug level only (the check retries at once on success).
  std::optional<std::map<PartitionKey, int64_t>> check(const std::vector<PartitionKey>& keys);
  /// A seek to the offsets read did not happen: try again after a growing backoff.
  void retry_later();
  /// Set by whoever loses a PostgreSQL connection (writers too): the next connection may reach
  /// another server, so the stored offsets are checked as soon as it answers. Thread-safe.
  std::atomic<bool>& connection_lost() { return connection_lost_; }

 private:
  /// PostgreSQL answered (or not): sets the retry time and backoff.
  void answered(bool ok);
  void failed(const PgError& e);

  PgConnection control_;
  const std::string group_;
  const std::vector<std::string> topics_;
  const std::chrono::milliseconds max_backoff_;
  Metrics& metrics_;
  Failure& failure_;
  const std::atomic<bool>* stop_ = nullptr;
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{100};
  Clock::time_point next_check_{};
  std::atomic<bool> connection_lost_{false};
  std::string server_identity_;  ///< of the server the last check reached ("" unknown)
};

}  // namespace sentinel
