#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/metrics.h"

namespace sentinel {

/// Keeps Metrics::pg_up true to life while the ingestor is idle: a thread of its own sends
/// `SELECT 1` every `interval` over its own connection (opened lazily, dropped on any failure),
/// with a bounded wait for connecting and for the answer. The writers set pg_up too, after
/// every batch; this covers the time between batches. PgBouncer-safe: one unnamed
/// statement, no session state.
class PgHealthCheck {
 public:
  PgHealthCheck(std::string pg_url, Metrics& metrics,
                std::chrono::milliseconds interval = std::chrono::seconds(5),
                std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// Stops and joins the thread (waits at most for the ping under way, bounded by `timeout`).
  ~PgHealthCheck();
  PgHealthCheck(const PgHealthCheck&) = delete;
  PgHealthCheck& operator=(const PgHealthCheck&) = delete;

  /// One ping on the calling thread; true when PostgreSQL answered within the timeout.
  bool ping();

 private:
  void loop();

  std::string url_;
  Metrics& metrics_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  struct Conn;
  std::unique_ptr<Conn> conn_;  // used by the thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string last_error_;  // logged once per outage
  std::thread thread_;      // last: starts after everything above exists
};

}  // namespace sentinel
