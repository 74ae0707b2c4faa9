#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/metrics.h"
#include "sinks/pg_connection.h"

namespace sentinel {

/// Keeps Metrics::rejects_pending (sentinel_ingest_rejects_pending{reason}) current: a thread of
/// its own counts the rejects still to replay every `interval`, over its own connection, with a
/// bounded wait (the count reads ingest_rejects_pending_idx, which holds only those rejects). A
/// failed count keeps the last values: the health check reports PostgreSQL being away.
class RejectBacklog {
 public:
  RejectBacklog(const std::string& pg_url, Metrics& metrics,
                std::chrono::milliseconds interval = std::chrono::minutes(1),
                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Stops and joins the thread (waits at most for the count under way, bounded by `timeout`).
  ~RejectBacklog();
  RejectBacklog(const RejectBacklog&) = delete;
  RejectBacklog& operator=(const RejectBacklog&) = delete;

 private:
  void loop();
  void count();

  PgConnection conn_;  // used by the thread only
  Metrics& metrics_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace sentinel
