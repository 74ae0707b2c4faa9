#include "pipeline/failure.h"

namespace sentinel {

void Failure::fatal(int code, std::string message) {
  std::lock_guard lock(mutex_);
  if (code_ == 0) {
    code_ = code;
    message_ = std::move(message);
  }
  failed_ = true;
}

void Failure::configuration(const PgError& e) {
  // The fix comes from the one vocabulary of PostgreSQL errors (sinks/pg_error.h).
  fatal(2, std::string(e.what()) + ": " + e.fix());
}

int Failure::code() const {
  std::lock_guard lock(mutex_);
  return code_;
}

std::string Failure::message() const {
  std::lock_guard lock(mutex_);
  return message_;
}

}  // namespace sentinel
