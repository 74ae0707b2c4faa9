#include "app/reject_backlog.h"

#include <spdlog/spdlog.h>

#include "rows/reject_reason.h"
#include "sinks/reject_store.h"

namespace sentinel {

RejectBacklog::RejectBacklog(const std::string& pg_url, Metrics& metrics,
                             std::chrono::milliseconds interval, std::chrono::milliseconds timeout)
    : conn_(pg_url), metrics_(metrics), interval_(interval), timeout_(timeout), thread_([this] {
        loop();
      }) {}

RejectBacklog::~RejectBacklog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RejectBacklog::count() {
  try {
    const std::map<std::string, int64_t> pending = reject_store::pending_by_reason(conn_, timeout_);
    for (int r = 0; r < kRejectReasonCount; ++r) {
      const auto it = pending.find(std::string(kRejectReasonNames[r]));
      metrics_.rejects_pending[r] = it == pending.end() ? 0 : it->second;
    }
    metrics_.rejects_pending_known = true;
  } catch (const PgError& e) {
    conn_.close();
    spdlog::debug("counting the rejects to replay: {}", e.what());
  }
}

void RejectBacklog::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    count();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace sentinel
