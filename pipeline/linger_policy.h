#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace sentinel {

/// How long one writer lets a batch smaller than its limits wait for more rows. Under a backlog
/// batches fill to their limits and nothing waits. Below that, each commit costs PostgreSQL a
/// transaction and a WAL flush whatever its size, so a batch waits for more rows for as long as
/// the latency budget allows: until its oldest row has waited half the budget less the recent
/// commit duration. A row's end-to-end latency is then at most about the budget: that wait, the
/// previous commit it may queue behind, and its own commit (D32).
/// `--linger-ms` fixes the wait instead (0: commit as soon as the previous commit is done).
class LingerPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  LingerPolicy(std::chrono::milliseconds latency_budget,
               std::optional<std::chrono::milliseconds> fixed_linger)
      : budget_(latency_budget), fixed_(fixed_linger) {}

  /// How long the oldest row of a batch may wait, counted from when it was received.
  Clock::duration linger() const;
  /// When a batch whose oldest row was received `oldest_age` ago stops waiting for more rows.
  Clock::time_point deadline(Clock::time_point now, Clock::duration oldest_age) const;
  /// Records how long a batch took to commit. The estimate follows a slower commit at once and
  /// a faster one gradually (1/16 of the difference per batch), so it tracks recent peaks.
  void commit_took(Clock::duration d);
  Clock::duration commit_estimate() const { return commit_estimate_; }

 private:
  Clock::duration budget_;
  std::optional<Clock::duration> fixed_;
  Clock::duration commit_estimate_{};
};

}  // namespace sentinel
