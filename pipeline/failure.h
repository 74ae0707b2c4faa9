#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "sinks/pg_error.h"

namespace sentinel {

/// How a run ends badly, shared by the consumer and writer threads: the first fatal error wins
/// (its exit code and message), and every thread stops once failed() is true.
class Failure {
 public:
  /// Records the error unless one was recorded before. Thread-safe.
  void fatal(int code, std::string message);
  /// A configuration error PostgreSQL reported (exit code 2), with a hint of what to check.
  void configuration(const PgError& e);
  bool failed() const { return failed_.load(); }
  int code() const;
  std::string message() const;

 private:
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  int code_ = 0;
  std::string message_;
};

}  // namespace sentinel
