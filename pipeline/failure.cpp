#include "pipeline/failure.h"

namespace sentinel {
namespace {

std::string configuration_hint(const PgError& e) {
  const std::string& s = e.sqlstate();
  if (s == "42P01" || s == "42703" || s == "42883") {
    return "the schema is missing or out of date: run `sentinel-ingest migrate --pg URL`";
  }
  if (s == "42501") {
    return "the connecting role lacks a privilege: grant it sentinel_ingest (see "
           "schemas/README.md)";
  }
  if (s == "3D000") return "the database does not exist: check --pg";
  if (s == "28000" || s == "28P01")
    return "authentication failed: check the user and password in --pg";
  return "check --pg and the database";
}

}  // namespace

void Failure::fatal(int code, std::string message) {
  std::lock_guard lock(mutex_);
  if (code_ == 0) {
    code_ = code;
    message_ = std::move(message);
  }
  failed_ = true;
}

void Failure::configuration(const PgError& e) {
  fatal(2, std::string(e.what()) + ": " + configuration_hint(e));
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
