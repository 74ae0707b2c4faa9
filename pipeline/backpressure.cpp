#include "pipeline/backpressure.h"

#include <spdlog/spdlog.h>

namespace sentinel {

Backpressure::Backpressure(size_t budget_bytes, int writers, std::chrono::milliseconds pause_after)
    : writers_(writers),
      share_(static_cast<int64_t>(budget_bytes) / writers),
      pause_after_(pause_after),
      inflight_(std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(writers))),
      paused_(static_cast<size_t>(writers), false),
      over_since_(static_cast<size_t>(writers)) {
  for (int w = 0; w < writers; ++w) inflight_[w] = 0;
}

int64_t Backpressure::inflight() const {
  int64_t sum = 0;
  for (int w = 0; w < writers_; ++w) sum += inflight_[w].load();
  return sum;
}

void Backpressure::update(Clock::time_point now) {
  int64_t active_used = 0, active_budget = 0;
  for (int w = 0; w < writers_; ++w) {
    const int64_t used = inflight_[w].load();
    const auto i = static_cast<size_t>(w);
    if (used > share_) {
      if (!over_since_[i]) over_since_[i] = now;
      // Over its share for long: a stalled writer (its PostgreSQL connection hangs, a lock):
      // stop fetching for it, so that the others keep the budget. A writer over its share for
      // a moment (one large batch) is not paused: pausing makes librdkafka drop and fetch again.
      if (!paused_[i] && now - *over_since_[i] >= pause_after_) {
        paused_[i] = true;
        spdlog::debug("writer {} over budget ({} bytes): pausing its partitions", w, used);
      }
    } else if (used < share_ / 2) {
      paused_[i] = false;
      over_since_[i].reset();
    } else if (!paused_[i]) {
      over_since_[i].reset();
    }
    if (!paused_[i]) {
      active_used += used;
      active_budget += share_;
    }
  }
  // The writers still fetching are over their budget together: slow the consumer down rather
  // than pause (one writer briefly over while another has room is not a reason to starve both).
  throttled_ = active_budget > 0 && active_used > active_budget;
}

}  // namespace sentinel
