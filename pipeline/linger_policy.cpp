#include "pipeline/linger_policy.h"

#include <algorithm>

namespace sentinel {

LingerPolicy::Clock::duration LingerPolicy::linger() const {
  if (fixed_) return *fixed_;
  return std::max(Clock::duration::zero(), budget_ / 2 - commit_estimate_);
}

LingerPolicy::Clock::time_point LingerPolicy::deadline(Clock::time_point now,
                                                       Clock::duration oldest_age) const {
  return now + linger() - std::max(Clock::duration::zero(), oldest_age);
}

void LingerPolicy::commit_took(Clock::duration d) {
  commit_estimate_ = d >= commit_estimate_ ? d : commit_estimate_ - (commit_estimate_ - d) / 16;
}

}  // namespace sentinel
