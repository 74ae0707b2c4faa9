#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace sentinel {

/// The in-flight memory budget and the throttle/pause decisions it drives (see Pipeline).
///
/// Each writer has a byte share (budget / writers) for its queued and in-transaction chunks.
/// When the writers not paused are over their shares together, the consumer is throttled. A
/// writer over its share for `pause_after` (stalled) is paused: its partitions stop fetching,
/// so that the others keep the budget; it resumes below half its share. Plain values in,
/// decisions out (the clock is passed in): no Kafka, no PostgreSQL.
class Backpressure {
 public:
  using Clock = std::chrono::steady_clock;

  Backpressure(size_t budget_bytes, int writers, std::chrono::milliseconds pause_after);

  /// Chunk bytes handed to (charge) or let go by (release) writer `w`. Thread-safe.
  void charge(int w, int64_t bytes) { inflight_[w] += bytes; }
  void release(int w, int64_t bytes) { inflight_[w] -= bytes; }
  int64_t inflight(int w) const { return inflight_[w].load(); }
  /// All writers' bytes together.
  int64_t inflight() const;

  /// Decides again from the writers' bytes as of `now` (consumer thread, once per poll cycle).
  void update(Clock::time_point now);
  /// Some writer still fetching is over its share: poll slowly, keep chunks open.
  bool throttled() const { return throttled_; }
  /// The writer has been over its share for pause_after: its partitions stay paused.
  bool writer_paused(int w) const { return paused_[static_cast<size_t>(w)]; }
  /// The most a writer's batch may hold: half its share, so that the next batch is built in the
  /// other half while this one commits.
  size_t batch_share() const { return static_cast<size_t>(share_ / 2); }

 private:
  const int writers_;
  const int64_t share_;  ///< bytes per writer
  const std::chrono::milliseconds pause_after_;
  std::unique_ptr<std::atomic<int64_t>[]> inflight_;  ///< bytes per writer
  std::vector<bool> paused_;
  /// Since when each writer has been over its share (unset: it is not).
  std::vector<std::optional<Clock::time_point>> over_since_;
  bool throttled_ = false;
};

}  // namespace sentinel
